/**
 * Why work waits, per (queue, type): read from the status counts and the wait counts
 * (`wait_counts.ts`), so the cost is the number of (queue, type, state) triples, never the number
 * of tasks.
 *
 * @module
 */
import type { BacklogRow } from "../../shared/protocol.ts";
import { counterValue } from "../store/committer.ts";
import type { Ctx } from "../context.ts";
import { countPrefix, decodeCountKey, decodeWaitKey, pairId, waitPrefix } from "../store/keys.ts";

/** Who is online and which types they take (an empty list: every type). */
export interface Taker {
  types: readonly string[];
}

/**
 * The open work of every (queue, type) that has any, most waiting first.
 *
 * @example
 * ```ts
 * const rows = await readBacklog(ctx, [{ types: ["primes.count"] }]);
 * ```
 */
export async function readBacklog(ctx: Ctx, takers: readonly Taker[]): Promise<BacklogRow[]> {
  const rows = new Map<string, BacklogRow & { pending: number }>();
  const row = (queue: string, type: string) => {
    const id = pairId(queue, type);
    let r = rows.get(id);
    if (!r) {
      const n = takers.filter((t) => t.types.length === 0 || t.types.includes(type)).length;
      r = {
        queue,
        type,
        pending: 0,
        ready: 0,
        delayed: 0,
        leased: 0,
        votes: 0,
        voters: 0,
        held: 0,
        takers: n,
      };
      rows.set(id, r);
    }
    return r;
  };
  const [counts, waits] = await Promise.all([
    Array.fromAsync(ctx.kv.list({ prefix: countPrefix() })),
    Array.fromAsync(ctx.kv.list({ prefix: waitPrefix() })),
  ]);
  for (const e of counts) {
    const { type, queue, status } = decodeCountKey(e.key);
    if (status !== "pending" && status !== "processing") continue;
    const n = Math.max(0, counterValue(e.value));
    if (n === 0) continue;
    const r = row(queue, type);
    if (status === "pending") r.pending = n;
    else r.leased = n;
  }
  for (const e of waits) {
    const { queue, type, state } = decodeWaitKey(e.key);
    const n = Math.max(0, counterValue(e.value));
    if (n === 0) continue;
    row(queue, type)[state] = n;
  }
  const out: BacklogRow[] = [];
  for (const { pending, ...r } of rows.values()) {
    // A waiting replicated task is pending or leased; what is neither delayed nor waiting is ready.
    r.ready = Math.max(0, pending - r.delayed - r.votes - r.held);
    if (r.ready + r.delayed + r.leased + r.votes + r.held > 0) out.push(r);
  }
  const waiting = (r: BacklogRow) => r.ready + r.delayed + r.votes + r.held;
  return out.sort((a, b) =>
    waiting(b) - waiting(a) || (pairId(a.queue, a.type) < pairId(b.queue, b.type) ? -1 : 1)
  );
}
