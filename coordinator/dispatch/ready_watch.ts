/**
 * Notices work that other coordinators on the same store made ready. Every commit that makes work
 * ready bumps the sum `["signal", "ready", queue, type]`; this polls that small prefix and, for
 * each pair whose count grew by more than this process added itself, marks the dispatcher's
 * buffer for the pair stale and wakes as many waiting claims as there are new entries. New pairs
 * are how queues and types created elsewhere are discovered at run time.
 *
 * Why a poll: `kv.watch` on a local KV file never sees another process's writes, and a remote KV
 * has no prefix watch. One short range read every `intervalMs` costs little (a few keys), and
 * bounds the cross-coordinator wake-up latency by the interval plus one read.
 *
 * @module
 */
import type { Ctx } from "../context.ts";
import { decodeReadySignalKey, keyString, readySignalPrefix } from "../store/keys.ts";
import { repeat, type Repeating } from "../repeat.ts";

export function watchReadySignals(
  ctx: Ctx,
  onForeign: (items: Array<{ queue: string; type: string; n: number }>) => void,
  intervalMs: number,
): Repeating {
  ctx.committer.trackSums(readySignalPrefix());
  /** Foreign total per signal key at the last poll. */
  const seen = new Map<string, bigint>();
  let first = true;
  return repeat(ctx.log, "ready signal poll", intervalMs, async () => {
    const changed: Array<{ queue: string; type: string; n: number }> = [];
    for await (const e of ctx.kv.list<Deno.KvU64>({ prefix: readySignalPrefix() })) {
      const total = e.value instanceof Deno.KvU64 ? e.value.value : 0n;
      const foreign = total - ctx.committer.sumCommitted(e.key);
      const ks = keyString(e.key);
      const before = seen.get(ks);
      seen.set(ks, foreign);
      const pair = decodeReadySignalKey(e.key);
      ctx.queues.add(pair.queue);
      // A pair seen for the first time after start is new work too: count it from zero.
      const grew = before === undefined ? (first ? 0n : foreign) : foreign - before;
      if (grew > 0n) changed.push({ ...pair, n: grew > 1_000_000n ? 1_000_000 : Number(grew) });
    }
    first = false;
    if (changed.length > 0) onForeign(changed);
  });
}
