/** @jsxImportSource preact */
import type { LiveSnapshot, WorkerKind, WorkerState } from "../../../shared/protocol.ts";
import { ago, count, duration, rate, shortId } from "../format.ts";
import { Empty } from "./card.tsx";

export function KindBadge({ kind }: { kind: WorkerKind | null }) {
  const k = kind ?? "other";
  return <span class={`badge kind-${k}`}>{k}</span>;
}

const STATE_LABEL: Record<WorkerState, string> = {
  busy: "busy",
  idle: "idle",
  draining: "draining",
  offline: "offline",
  crashed: "crashed",
};
const STATES: WorkerState[] = ["busy", "idle", "draining", "offline", "crashed"];

export function StateBadge({ state }: { state: WorkerState }) {
  return <span class={`badge state-${state}`} data-testid="worker-state">{STATE_LABEL[state]}
  </span>;
}

/**
 * Every worker the grid knows of lately: online ones (busy, idle, draining) first, then those
 * that left (offline) or broke off (crashed), with what they take and their last error.
 */
export function Workers(
  { workers, now }: { workers: LiveSnapshot["workers"] | null; now: number },
) {
  if (!workers) return <Empty>Waiting for the first snapshot…</Empty>;
  const { online, list, states } = workers;
  return (
    <div>
      <div class="split">
        <div data-testid="workers-browser" data-value={online.browser}>
          <span class="split-value">{online.browser}</span>
          <KindBadge kind="browser" />
        </div>
        <div data-testid="workers-deno" data-value={online.deno}>
          <span class="split-value">{online.deno}</span>
          <KindBadge kind="deno" />
        </div>
        {online.other > 0 && (
          <div data-testid="workers-other" data-value={online.other}>
            <span class="split-value">{online.other}</span>
            <KindBadge kind="other" />
          </div>
        )}
      </div>
      <p class="state-counts muted" data-testid="worker-states">
        {STATES.filter((s) => states[s] > 0).map((s) => (
          <span key={s} data-state={s} data-value={states[s]}>
            {states[s]} {STATE_LABEL[s]}
          </span>
        ))}
      </p>
      {list.length === 0
        ? <Empty>No worker seen yet. Run `deno task worker`, or open a volunteer page.</Empty>
        : (
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th>worker</th>
                  <th>state</th>
                  <th class="num">slots</th>
                  <th class="num">rate</th>
                  <th class="num">done</th>
                  <th class="num">seen</th>
                </tr>
              </thead>
              <tbody>
                {list.map((w) => (
                  <tr key={w.id} data-testid="worker-row" data-worker={w.id} data-state={w.state}>
                    <td>
                      <KindBadge kind={w.kind} />{" "}
                      <span class="mono" title={w.id}>{shortId(w.id, 18)}</span>
                      <div class="sub muted" title={w.types.join(", ")}>
                        {w.types.length ? w.types.join(", ") : "every type"}
                      </div>
                      {w.lastError && (
                        <div class="sub error-text" data-testid="worker-error">
                          {w.lastError.code}: {w.lastError.message}
                        </div>
                      )}
                    </td>
                    <td>
                      <StateBadge state={w.state} />
                    </td>
                    <td class="num" title="leases held here / concurrency">
                      {w.held === null && w.concurrency === null
                        ? "–"
                        : `${w.held ?? "–"} / ${w.concurrency ?? "–"}`}
                    </td>
                    <td class="num">{rate(w.rate)}/s</td>
                    <td class="num" title={`mean run ${duration(w.meanRunMs)}`}>
                      {count(w.completed)}
                      {w.failed > 0 && <span class="muted">{` · ${count(w.failed)} failed`}</span>}
                    </td>
                    <td class="num muted">{ago(w.lastSeen, now)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
    </div>
  );
}
