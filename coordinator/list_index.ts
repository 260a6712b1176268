/**
 * The list indexes (`["by_status", bucket, queue, id]`, `["by_owner", owner, id]`; see keys.ts):
 * the mutations a transition adds to its own intent so the indexes change in the same atomic
 * operation as the task, and the one-time backfill for tasks stored before the indexes existed.
 *
 * @module
 */
import type { Task, TaskStatus } from "../shared/protocol.ts";
import type { Ctx } from "./context.ts";
import {
  type ListBucket,
  listIndexBuiltKey,
  ownerIndexKey,
  statusIndexKey,
  taskKey,
  taskPrefix,
} from "./keys.ts";

/** What a status index entry holds: the fields that never change, for filtering without a read. */
export interface StatusEntry {
  type: string;
  owner: string | null;
}
/** What an owner index entry holds. */
export interface OwnerEntry {
  type: string;
  queue: string;
}

/** Pending and processing share the open bucket: a claim writes no task record. */
export const bucketOf = (status: TaskStatus): ListBucket =>
  status === "completed" || status === "failed" || status === "cancelled" ? status : "open";

/**
 * The index mutations of a task's transition from `before` (null: it is being submitted) to
 * `after`: none while it stays open, or stays in one final status.
 *
 * @example
 * ```ts
 * mutations.push(...listIndexMoves(task, next));
 * ```
 */
export function listIndexMoves(before: Task | null, after: Task): Deno.KvMutation[] {
  const to = bucketOf(after.status);
  const entry: StatusEntry = { type: after.type, owner: after.owner ?? null };
  const set: Deno.KvMutation = {
    type: "set",
    key: statusIndexKey(to, after.queue, after.id),
    value: entry,
  };
  if (before === null) {
    if (!after.owner) return [set];
    const owned: OwnerEntry = { type: after.type, queue: after.queue };
    return [set, { type: "set", key: ownerIndexKey(after.owner, after.id), value: owned }];
  }
  const from = bucketOf(before.status);
  if (from === to) return [];
  return [{ type: "delete", key: statusIndexKey(from, before.queue, before.id) }, set];
}

/** Tasks per backfill operation: each needs a check, and up to two mutations. */
const BACKFILL_CHUNK = 100;

/**
 * Writes the index entries of every task once, for a KV written before the indexes existed
 * (run before serving). Each entry is written with a check on its task's versionstamp, so a
 * task another process changes meanwhile keeps the entry that process wrote.
 */
export async function backfillListIndex(ctx: Ctx): Promise<number> {
  if ((await ctx.kv.get(listIndexBuiltKey())).value !== null) return 0;
  let n = 0;
  let chunk: Deno.KvEntry<Task>[] = [];
  const flush = async () => {
    const op = ctx.kv.atomic();
    for (const e of chunk) {
      op.check({ key: taskKey(e.value.id), versionstamp: e.versionstamp });
      for (const m of listIndexMoves(null, e.value)) op.mutate(m);
    }
    // A task changed meanwhile: its own transition wrote its entries; one by one for the rest.
    if (!(await op.commit()).ok) {
      for (const e of chunk) {
        const one = ctx.kv.atomic().check({
          key: taskKey(e.value.id),
          versionstamp: e.versionstamp,
        });
        for (const m of listIndexMoves(null, e.value)) one.mutate(m);
        await one.commit();
      }
    }
    n += chunk.length;
    chunk = [];
  };
  for await (const e of ctx.kv.list<Task>({ prefix: taskPrefix() })) {
    chunk.push(e);
    if (chunk.length >= BACKFILL_CHUNK) await flush();
  }
  if (chunk.length > 0) await flush();
  await ctx.kv.set(listIndexBuiltKey(), 1);
  if (n > 0) ctx.log.info("list indexes written for existing tasks", { tasks: n });
  return n;
}
