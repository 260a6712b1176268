/** @jsxImportSource preact */
import type { Stats } from "../../../shared/protocol.ts";
import { count } from "../format.ts";
import { Empty } from "./card.tsx";

type Counts = Record<string, Record<string, number>>;

function rows(counts: Counts) {
  return Object.entries(counts)
    .map(([name, c]) => ({ name, pending: c.pending ?? 0, processing: c.processing ?? 0 }))
    .sort((a, b) =>
      b.pending + b.processing - (a.pending + a.processing) || (a.name < b.name ? -1 : 1)
    );
}

function DepthTable({ title, counts }: { title: string; counts: Counts }) {
  const list = rows(counts);
  const max = Math.max(1, ...list.map((r) => r.pending + r.processing));
  return (
    <div class="depth">
      <h3>{title}</h3>
      {list.length === 0 ? <Empty>Nothing submitted yet.</Empty> : (
        <table>
          <thead>
            <tr>
              <th>{title === "By queue" ? "queue" : "type"}</th>
              <th class="num">queued</th>
              <th class="num">running</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={r.name} data-testid={`depth-${r.name}`}>
                <td>
                  <span class="mono">{r.name}</span>
                  <span class="bar">
                    <span class="bar-pending" style={{ width: `${(r.pending / max) * 100}%` }} />
                    <span
                      class="bar-processing"
                      style={{ width: `${(r.processing / max) * 100}%` }}
                    />
                  </span>
                </td>
                <td class="num">{count(r.pending)}</td>
                <td class="num">{count(r.processing)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Queue depth (queued and running) per queue and per task type. */
export function Queues({ stats }: { stats: Stats | null }) {
  if (!stats) return <Empty>Waiting for the first snapshot…</Empty>;
  return (
    <div class="depths">
      <DepthTable title="By queue" counts={stats.byQueue} />
      <DepthTable title="By type" counts={stats.byType} />
    </div>
  );
}
