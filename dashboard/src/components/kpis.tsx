/** @jsxImportSource preact */
import type { LiveSnapshot } from "../../../shared/protocol.ts";
import { count, rate } from "../format.ts";

/** Mean per second over the last `seconds` complete seconds (the current one is still filling). */
export function recentRate(series: readonly number[], seconds = 10): number {
  const done = series.slice(0, -1).slice(-seconds);
  return done.length ? done.reduce((a, b) => a + b, 0) / done.length : 0;
}

interface KpiProps {
  label: string;
  value: string;
  sub?: string;
  testid: string;
  raw: number;
  tone?: "good" | "bad" | "info";
}

function Kpi({ label, value, sub, testid, raw, tone }: KpiProps) {
  return (
    <div class={`kpi ${tone ?? ""}`} data-testid={testid} data-value={raw}>
      <span class="kpi-label">{label}</span>
      <span class="kpi-value">{value}</span>
      {sub && <span class="kpi-sub">{sub}</span>}
    </div>
  );
}

/** The headline figures. */
export function Kpis({ snapshot }: { snapshot: LiveSnapshot | null }) {
  const s = snapshot?.stats;
  const completed = s ? recentRate(s.rates.completed) : 0;
  const submitted = s ? recentRate(s.rates.submitted) : 0;
  const failed = s ? recentRate(s.rates.failed) : 0;
  const failedShare = s && completed + failed > 0 ? failed / (completed + failed) : null;
  const online = snapshot?.workers.online ?? { browser: 0, deno: 0, other: 0 };
  const workers = online.browser + online.deno + online.other;
  const dash = "–";
  return (
    <div class="kpis">
      <Kpi
        label="Throughput"
        value={s ? `${rate(completed)}/s` : dash}
        sub={s ? `${count(s.status.completed ?? 0)} completed` : undefined}
        testid="throughput"
        raw={completed}
        tone="good"
      />
      <Kpi
        label="Submitted"
        value={s ? `${rate(submitted)}/s` : dash}
        sub="last 10 s"
        testid="submitted-rate"
        raw={submitted}
        tone="info"
      />
      <Kpi
        label="Failed"
        value={s ? `${rate(failed)}/s` : dash}
        sub={s
          ? `${failedShare === null ? "–" : `${(failedShare * 100).toFixed(1)}%`} of ended · ${
            count(s.status.failed ?? 0)
          } in all`
          : undefined}
        testid="failed-rate"
        raw={failed}
        tone={failed > 0 ? "bad" : undefined}
      />
      <Kpi
        label="Queued"
        value={s ? count(s.status.pending ?? 0) : dash}
        sub={s ? `${count(s.status.processing ?? 0)} running` : undefined}
        testid="queued"
        raw={s?.status.pending ?? 0}
      />
      <Kpi
        label="Workers online"
        value={snapshot ? count(workers) : dash}
        sub={snapshot ? `${online.browser} browser · ${online.deno} deno` : undefined}
        testid="workers-online"
        raw={workers}
      />
    </div>
  );
}
