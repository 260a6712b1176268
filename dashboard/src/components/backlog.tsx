/** @jsxImportSource preact */
import type { BacklogRow, LiveSnapshot } from "../../../shared/protocol.ts";
import { count, duration } from "../format.ts";
import { Empty } from "./card.tsx";

/** In plain words, why the open work of one row is not running. */
function reason(r: BacklogRow): string | null {
  if (r.ready > 0 && r.takers === 0) return "no online worker takes this type";
  if (r.votes > 0) {
    const each = Math.max(1, Math.round(r.voters / r.votes));
    return `${count(r.votes)} answered, each waiting for ${each} more volunteer` +
      `${each === 1 ? "" : "s"} (someone other than those who answered)`;
  }
  if (r.held > 0) return `${count(r.held)} held back for a volunteer with a record`;
  if (r.delayed > 0 && r.ready === 0 && r.leased === 0) {
    return "delayed: start time or retry backoff";
  }
  return null;
}

/**
 * Why work waits, per queue and type: ready, delayed, leased, waiting for more votes (and how
 * many volunteers those need), held back. All from counters the coordinator keeps.
 */
export function Backlog({ rows }: { rows: BacklogRow[] | null }) {
  if (!rows) return <Empty>Waiting for the first snapshot…</Empty>;
  if (rows.length === 0) return <Empty>No open work: every task submitted has ended.</Empty>;
  return (
    <div class="scroll wide-scroll">
      <table data-testid="backlog">
        <thead>
          <tr>
            <th>queue · type</th>
            <th class="num">ready</th>
            <th class="num">delayed</th>
            <th class="num">running</th>
            <th class="num" title="replicated tasks that need more distinct volunteers">
              need votes
            </th>
            <th class="num" title="held for a volunteer with a record">held back</th>
            <th class="num" title="online workers that take this type">takers</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const why = reason(r);
            return (
              <tr key={`${r.queue}/${r.type}`} data-testid={`backlog-${r.queue}-${r.type}`}>
                <td>
                  <span class="mono">{r.queue}</span> · <span class="mono">{r.type}</span>
                  {why && <div class="sub warn-text" data-testid="backlog-reason">{why}</div>}
                </td>
                <td class="num" data-col="ready">{count(r.ready)}</td>
                <td class="num" data-col="delayed">{count(r.delayed)}</td>
                <td class="num" data-col="leased">{count(r.leased)}</td>
                <td class="num" data-col="votes">
                  {count(r.votes)}
                  {r.votes > 0 && <span class="muted">(+{count(r.voters)})</span>}
                </td>
                <td class="num" data-col="held">{count(r.held)}</td>
                <td class="num" data-col="takers">{count(r.takers)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The alert: work is ready, workers that take it are idle, and nothing was claimed. */
export function StallAlert({ snapshot }: { snapshot: LiveSnapshot | null }) {
  const stall = snapshot?.stall;
  if (!snapshot || !stall) return null;
  return (
    <div class="alert" role="alert" data-testid="stall-alert">
      <strong>Work is stuck.</strong> {count(stall.ready)} task{stall.ready === 1 ? " is" : "s are"}
      {" "}
      ready ({stall.types.join(", ")}) and {count(stall.idle)} idle worker
      {stall.idle === 1 ? " takes" : "s take"} them, but nothing was claimed for{" "}
      {duration(snapshot.at - stall.since)}. Look at the workers' last errors and the coordinator's
      log.
    </div>
  );
}
