/** @jsxImportSource preact */
import type { LiveSnapshot, Percentiles } from "../../../shared/protocol.ts";
import { count, duration } from "../format.ts";
import { Empty } from "./card.tsx";

function Span({ p }: { p: Percentiles }) {
  if (p.count === 0) return <>–</>;
  return (
    <>
      {duration(p.p50)}
      <div class="sub muted">p90 {duration(p.p90)}</div>
    </>
  );
}

/**
 * Latency by task type, with the three waits kept apart: in the queue, running, and (replicated
 * tasks) waiting for other volunteers' votes. Each cell is p50 over p90.
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
            <th class="num" title="from the first replica's answer to the decision">verify</th>
          </tr>
        </thead>
        <tbody>
          <tr
            data-testid="latency-all"
            data-wait={latency.queueWait.p50 ?? ""}
            data-run={latency.run.p50 ?? ""}
            data-verify={latency.verify.p50 ?? ""}
          >
            <th scope="row" title={`${count(latency.queueWait.count)} tasks`}>all types</th>
            <td class="num" data-testid="latency-wait" data-count={latency.queueWait.count}>
              <Span p={latency.queueWait} />
            </td>
            <td class="num" data-testid="latency-run" data-count={latency.run.count}>
              <Span p={latency.run} />
            </td>
            <td class="num" data-testid="latency-verify" data-count={latency.verify.count}>
              <Span p={latency.verify} />
            </td>
          </tr>
          {types.map(([type, l]) => (
            <tr key={type} data-testid={`latency-${type}`} data-verify={l.verify.p50 ?? ""}>
              <th scope="row" class="mono" title={`${count(l.queueWait.count)} tasks`}>{type}</th>
              <td class="num">
                <Span p={l.queueWait} />
              </td>
              <td class="num">
                <Span p={l.run} />
              </td>
              <td class="num">
                <Span p={l.verify} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="hint">p50 (p90 below); verify: from the first replica's answer to the decision</p>
    </div>
  );
}
