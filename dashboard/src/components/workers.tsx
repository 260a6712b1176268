/** @jsxImportSource preact */
import type { LiveSnapshot, WorkerKind } from "../../../shared/protocol.ts";
import { count, duration, rate, shortId } from "../format.ts";
import { Empty } from "./card.tsx";

export function KindBadge({ kind }: { kind: WorkerKind | null }) {
  const k = kind ?? "other";
  return <span class={`badge kind-${k}`}>{k}</span>;
}

/** Workers online, split by kind, each with its rate in this coordinator. */
export function Workers({ workers }: { workers: LiveSnapshot["workers"] | null }) {
  if (!workers) return <Empty>Waiting for the first snapshot…</Empty>;
  const { online, list } = workers;
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
      {list.length === 0
        ? <Empty>No worker online. Run `deno task worker`, or open a volunteer page.</Empty>
        : (
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th>worker</th>
                  <th class="num">rate</th>
                  <th class="num">done</th>
                  <th class="num">mean run</th>
                </tr>
              </thead>
              <tbody>
                {list.map((w) => (
                  <tr key={w.id} data-testid="worker-row">
                    <td>
                      <KindBadge kind={w.kind} />{" "}
                      <span class="mono" title={w.id}>
                        {shortId(w.id, 18)}
                      </span>
                    </td>
                    <td class="num">{rate(w.rate)}/s</td>
                    <td class="num">{count(w.completed)}</td>
                    <td class="num">{duration(w.meanRunMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
    </div>
  );
}
