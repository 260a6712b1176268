/**
 * Why open work waits, as counters: the sums a transition adds so that "how many tasks of this
 * (queue, type) wait for more votes, and for how many more volunteers" is a handful of reads,
 * never a scan of the tasks. Every write of a task record (`transition.ts`, a replica's claim)
 * adds the difference between what the record says before and after; every delayed queue entry
 * written adds one and every one removed takes one away.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import {
  decodeDelayedKey,
  delayedPrefix,
  keyString,
  taskKey,
  taskPrefix,
  waitKey,
  waitPrefix,
  type WaitState,
} from "./keys.ts";

type Sum = [Deno.KvKey, bigint];

/** What one record counts for, per wait state (delayed entries are counted apart). */
export function waitState(t: Task | null): Record<Exclude<WaitState, "delayed">, number> {
  const none = { votes: 0, voters: 0, held: 0 };
  // Records of older layouts may lack the newer fields: read them defensively.
  if (!t || t.verification?.mode !== "quorum") return none;
  const open = t.status === "pending" || t.status === "processing";
  if (!open) return none;
  if (t.waiting) return { votes: 0, voters: 0, held: 1 };
  // Answered by some, nobody on it now: only other volunteers can take its open slots.
  const votes = t.votes?.length ?? 0;
  if (t.status === "pending" && votes > 0) {
    return { votes: 1, voters: Math.max(1, t.replicas - votes), held: 0 };
  }
  return none;
}

/** The wait sums of a record going from `from` (null: new) to `next`. */
export function waitSums(from: Task | null, next: Task): Sum[] {
  const a = waitState(from);
  const b = waitState(next);
  const sums: Sum[] = [];
  for (const state of ["votes", "voters", "held"] as const) {
    const d = b[state] - a[state];
    if (d !== 0) sums.push([waitKey(next.queue, next.type, state), BigInt(d)]);
  }
  return sums;
}

/** `n` delayed entries of `task` written (positive) or removed (negative). */
export const delayedSum = (
  task: Pick<Task, "queue" | "type">,
  n: number,
): Sum => [waitKey(task.queue, task.type, "delayed"), BigInt(n)];

/**
 * The wait counts of a store written before they existed (a key-layout migration step): every
 * open task record and every delayed entry counted once, and the counters *set* to the totals, so
 * running it again changes nothing. One pass over the task records, as the list-index backfill.
 */
export async function backfillWaitCounts(ctx: Ctx): Promise<null> {
  const totals = new Map<string, { key: Deno.KvKey; n: number }>();
  const add = (key: Deno.KvKey, n: number) => {
    if (n === 0) return;
    const id = keyString(key);
    const t = totals.get(id) ?? { key, n: 0 };
    t.n += n;
    totals.set(id, t);
  };
  for await (const e of ctx.kv.list<Task>({ prefix: taskPrefix() }, { batchSize: 500 })) {
    for (const [key, n] of waitSums(null, e.value)) add(key, Number(n));
  }
  const delayed = await Array.fromAsync(ctx.kv.list({ prefix: delayedPrefix() }));
  for (let i = 0; i < delayed.length; i += 10) {
    const chunk = delayed.slice(i, i + 10);
    const tasks = await ctx.kv.getMany<Task[]>(
      chunk.map((e) => taskKey(decodeDelayedKey(e.key).id)),
    );
    for (const t of tasks) if (t.value) add(delayedSum(t.value, 1)[0], 1);
  }
  const old = await Array.fromAsync(ctx.kv.list({ prefix: waitPrefix() }));
  const writes: Deno.KvMutation[] = [
    ...old.filter((e) => !totals.has(keyString(e.key))).map((e) => ({
      type: "delete" as const,
      key: e.key,
    })),
    ...[...totals.values()].map(({ key, n }) => ({
      type: "set" as const,
      key,
      value: new Deno.KvU64(BigInt(n)),
    })),
  ];
  for (let i = 0; i < writes.length; i += 500) {
    const op = ctx.kv.atomic();
    for (const m of writes.slice(i, i + 500)) op.mutate(m);
    await op.commit();
  }
  return null;
}
