/**
 * promote_delayed: moves pending tasks whose `runAt` has come (delayed starts and retry
 * backoff) from the delayed index into the ready index.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import { type Ctx, getMany } from "../context.ts";
import { decodeDelayedKey, delayedPrefix, readySignalKey, taskKey } from "../store/keys.ts";
import { readyEntry } from "../store/transition.ts";
import { delayedSum } from "../store/wait_counts.ts";

const BATCH = 300;

export async function promoteDelayed(ctx: Ctx): Promise<number> {
  const now = ctx.now();
  const due: Deno.KvEntry<unknown>[] = [];
  const iter = ctx.kv.list({ start: delayedPrefix(), end: [...delayedPrefix(), now + 1] }, {
    limit: BATCH,
  });
  for await (const e of iter) due.push(e);
  if (due.length === 0) return 0;
  const tasks = await getMany<Task>(ctx.kv, due.map((e) => taskKey(decodeDelayedKey(e.key).id)));
  const moved = await Promise.all(due.map(async (e, i) => {
    const t = tasks[i].value;
    const mutations: Deno.KvMutation[] = [{ type: "delete", key: e.key }];
    const { slot } = decodeDelayedKey(e.key);
    const live = t &&
      (t.status === "pending" || (t.status === "processing" && t.verification.mode === "quorum"));
    if (live) {
      mutations.push(readyEntry(t, slot));
    }
    const ok = await ctx.committer.commit({
      checks: [{ key: e.key, versionstamp: e.versionstamp }],
      mutations,
      sums: [
        ...(live ? [[readySignalKey(t.queue, t.type), 1n] as [Deno.KvKey, bigint]] : []),
        ...(t ? [delayedSum(t, -1)] : []),
      ],
    });
    return ok && live ? t : null;
  }));
  const ready = moved.filter((t): t is Task => t !== null);
  if (ready.length > 0) ctx.signals.readyArrived(ready);
  return ready.length;
}
