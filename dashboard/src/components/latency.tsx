/** @jsxImportSource preact */
import type { LiveSnapshot, Percentiles } from "../../../shared/protocol.ts";
import { count, duration } from "../format.ts";
import { Empty } from "./card.tsx";

const span = (p: Percentiles) => p.count === 0 ? "–" : `${duration(p.p50)} · ${duration(p.p90)}`;

/**
 * Latency by task type, with the three waits kept apart: in the queue, running, and (replicated
 * tasks) waiting for other volunteers' votes. Each cell is p50 · p90.
 */
export function Latency({ latency }: { latency: LiveSnapshot["latency"] | null }) {
  if (!latency) return <Empty>Waiting for the first snapshot…</Empty>;
  const types = Object.entries(latency.byType).sort(([a], [b]) => (a < b ? -1 : 1));
  return (
    <div class="scroll">
      <table class="latency">
        <thead>
          <tr>
            <th>type</th>
            <th class="num" title="from ready to claimed">queue wait</th>
            <th class="num" title="the deciding attempt's run">run time</th>
            <th class="num" title="from the first replica's answer to the decision">
              verification
            </th>
            <th class="num">tasks</th>
          </tr>
        </thead>
        <tbody>
          <tr
            data-testid="latency-all"
            data-wait={latency.queueWait.p50 ?? ""}
            data-run={latency.run.p50 ?? ""}
            data-verify={latency.verify.p50 ?? ""}
          >
            <th scope="row">all types</th>
            <td class="num" data-testid="latency-wait" data-count={latency.queueWait.count}>
              {span(latency.queueWait)}
            </td>
            <td class="num" data-testid="latency-run" data-count={latency.run.count}>
              {span(latency.run)}
            </td>
            <td class="num" data-testid="latency-verify" data-count={latency.verify.count}>
              {span(latency.verify)}
            </td>
            <td class="num muted">{count(latency.queueWait.count)}</td>
          </tr>
          {types.map(([type, l]) => (
            <tr key={type} data-testid={`latency-${type}`} data-verify={l.verify.p50 ?? ""}>
              <th scope="row" class="mono">{type}</th>
              <td class="num">{span(l.queueWait)}</td>
              <td class="num">{span(l.run)}</td>
              <td class="num">{span(l.verify)}</td>
              <td class="num muted">{count(l.queueWait.count)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="hint">p50 · p90 of tasks ended in the window</p>
    </div>
  );
}
