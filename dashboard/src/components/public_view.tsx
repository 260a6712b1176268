/** @jsxImportSource preact */
import type { PublicStats } from "../../../shared/protocol.ts";
import { getPublic } from "../api.ts";
import { count, duration, rate } from "../format.ts";
import type { Theme } from "../../../ui/theme.ts";
import { recentRate } from "./kpis.tsx";
import { Card, Empty } from "./card.tsx";
import { usePolled } from "../use_polled.ts";
import { ThroughputChart } from "./throughput_chart.tsx";

const REFRESH_MS = 2_000;

/**
 * The grid as anyone may see it (`/dashboard/public`, linked from the donate page): totals, task
 * types in plain words, throughput and the donors' sums. No task data, no key needed.
 */
export function PublicView({ theme }: { theme: Theme }) {
  const { value: view, error } = usePolled<PublicStats>(getPublic, REFRESH_MS);
  if (!view) {
    return error
      ? <p class="banner" role="status">The grid is unreachable: {error}</p>
      : <Empty>Loading…</Empty>;
  }
  const done = recentRate(view.rates.completed);
  return (
    <div data-testid="public-view">
      {error && <p class="banner" role="status">Reconnecting… figures from a moment ago.</p>}
      <div class="kpis four">
        <div class="kpi good" data-testid="public-rate" data-value={done}>
          <span class="kpi-label">Computing now</span>
          <span class="kpi-value">{rate(done)}/s</span>
          <span class="kpi-sub">tasks finished per second</span>
        </div>
        <div class="kpi" data-testid="public-completed" data-value={view.totals.completed}>
          <span class="kpi-label">Tasks finished</span>
          <span class="kpi-value">{count(view.totals.completed)}</span>
          <span class="kpi-sub">{count(view.totals.queued)} waiting</span>
        </div>
        <div class="kpi info" data-testid="public-workers" data-value={view.totals.workersOnline}>
          <span class="kpi-label">Computers online</span>
          <span class="kpi-value">{count(view.totals.workersOnline)}</span>
          <span class="kpi-sub">{count(view.totals.browsersOnline)} in browsers</span>
        </div>
        <div class="kpi" data-testid="public-donors" data-value={view.donors.count}>
          <span class="kpi-label">Volunteers</span>
          <span class="kpi-value">{count(view.donors.count)}</span>
          <span class="kpi-sub">{duration(view.donors.computeMs)} donated</span>
        </div>
      </div>
      <main class="grid">
        <Card title="Throughput" hint="tasks per second, the last 10 minutes" wide>
          <ThroughputChart
            rates={{ ...view.rates, failed: view.rates.completed.map(() => 0) }}
            failed={false}
            theme={theme}
          />
        </Card>
        <Card title="What the grid computes" hint="each kind of task, in plain words" wide>
          <ul class="types" data-testid="public-types">
            {view.types.map((t) => (
              <li key={t.type}>
                <div class="type-head">
                  <span class="mono">{t.type}</span>
                  <span class="muted">
                    {count(t.completed)} finished · {count(t.queued)} waiting
                  </span>
                </div>
                <p>{t.description}</p>
              </li>
            ))}
          </ul>
        </Card>
      </main>
    </div>
  );
}
