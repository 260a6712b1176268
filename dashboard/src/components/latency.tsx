/** @jsxImportSource preact */
import type { LiveSnapshot, Percentiles } from "../../../shared/protocol.ts";
import { count, duration } from "../format.ts";
import { Empty } from "./card.tsx";

function Row({ label, p, testid }: { label: string; p: Percentiles; testid: string }) {
  return (
    <tr data-testid={testid} data-count={p.count}>
      <th scope="row">{label}</th>
      <td class="num">{duration(p.p50)}</td>
      <td class="num">{duration(p.p90)}</td>
      <td class="num">{duration(p.p99)}</td>
      <td class="num muted">{count(p.count)}</td>
    </tr>
  );
}

/** Queue-wait and run-time percentiles over the feed's recent window. */
export function Latency({ latency }: { latency: LiveSnapshot["latency"] | null }) {
  if (!latency) return <Empty>Waiting for the first snapshot…</Empty>;
  return (
    <table class="latency">
      <thead>
        <tr>
          <th />
          <th class="num">p50</th>
          <th class="num">p90</th>
          <th class="num">p99</th>
          <th class="num">tasks</th>
        </tr>
      </thead>
      <tbody>
        <Row label="Queue wait" p={latency.queueWait} testid="latency-wait" />
        <Row label="Run time" p={latency.run} testid="latency-run" />
      </tbody>
    </table>
  );
}
