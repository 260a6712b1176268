/** @jsxImportSource preact */
import type { Donor } from "../../../shared/protocol.ts";
import { getDonors } from "../api.ts";
import { count, duration, shortId } from "../format.ts";
import { Empty } from "./card.tsx";
import { usePolled } from "../use_polled.ts";

const REFRESH_MS = 30_000;

/** Browser volunteers' totals (`GET /api/donors`), refreshed every 30 s. */
export function Donors() {
  const { value: donors, error } = usePolled<Donor[] | null>(getDonors, REFRESH_MS);

  if (error && donors === undefined) return <p class="error">{error}</p>;
  if (donors === undefined) return <Empty>Loading…</Empty>;
  if (donors === null || donors.length === 0) {
    return <Empty>No donors yet. Open a volunteer page to be the first.</Empty>;
  }
  const total = donors.reduce((a, d) => a + (d.completed ?? 0), 0);
  return (
    <div class="scroll" data-testid="donor-list">
      <table>
        <thead>
          <tr>
            <th>donor</th>
            <th class="num">tasks</th>
            <th class="num">compute</th>
            <th class="num">share</th>
          </tr>
        </thead>
        <tbody>
          {donors.slice(0, 10).map((d) => (
            <tr key={d.id}>
              <td class="mono" title={d.id}>{shortId(d.id, 18)}</td>
              <td class="num">{count(d.completed ?? 0)}</td>
              <td class="num">{duration(d.computeMs ?? null)}</td>
              <td class="num">
                {total ? `${Math.round(((d.completed ?? 0) / total) * 100)}%` : "–"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
