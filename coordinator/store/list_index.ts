/**
 * The list indexes (`["by_status", bucket, queue, id]`, `["by_owner", owner, id]`; see keys.ts):
 * the mutations a transition adds to its own intent so the indexes change in the same atomic
 * operation as the task, and the one-time backfill for tasks stored before the indexes existed.
 *
 * @module
 */
import type { Task, TaskStatus } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { type ListBucket, ownerIndexKey, statusIndexKey, taskKey, taskPrefix } from "./keys.ts";

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
 * One bounded, idempotent step of the backfill: the index entries of up to 100 tasks after
 * `cursor` (a task id; null at first), each written with a check on its task's versionstamp,
 * so a task another process changes meanwhile keeps the entries its own transition wrote.
 * Returns the next cursor, or null when done. (Shaped as a key-layout migration step.)
 */
export async function backfillStep(ctx: Ctx, cursor: string | null): Promise<string | null> {
  const prefix = taskPrefix();
  const selector = cursor === null ? { prefix } : { prefix, start: [...prefix, cursor, ""] };
  const chunk = await Array.fromAsync(ctx.kv.list<Task>(selector, { limit: BACKFILL_CHUNK }));
  const write = async (entries: Deno.KvEntry<Task>[]) => {
    const op = ctx.kv.atomic();
    for (const e of entries) {
      op.check({ key: taskKey(e.value.id), versionstamp: e.versionstamp });
      for (const m of listIndexMoves(null, e.value)) op.mutate(m);
    }
    return (await op.commit()).ok;
  };
  // A task changed meanwhile: one by one, so only that one is left to its own transition.
  if (!await write(chunk)) { for (const e of chunk) await write([e]); }
  return chunk.length < BACKFILL_CHUNK ? null : chunk.at(-1)!.value.id;
}
