/**
 * purge: the deletes that remove one ended task from the store entirely (its record, result
 * parts, list and failed index entries, idempotency key, a replicated task's replica results)
 * and the counter it leaves. Used by a job's DELETE and by the retention sweep; a task still
 * pending or leased is never purged.
 *
 * @module
 */
import {
  countKey,
  failedKey,
  idempotencyKey,
  ownerIndexKey,
  replicaKey,
  resultPartKey,
  statusIndexKey,
  taskKey,
} from "../store/keys.ts";
import { bucketOf } from "../store/list_index.ts";
import type { StoredTask } from "../store/task_view.ts";

/** The deletes of one ended task and its entries, and the status count it takes back. */
export function taskPurge(
  t: StoredTask,
): { mutations: Deno.KvMutation[]; sum: [Deno.KvKey, bigint] } {
  const mutations: Deno.KvMutation[] = [
    { type: "delete", key: taskKey(t.id) },
    { type: "delete", key: statusIndexKey(bucketOf(t.status), t.queue, t.id) },
  ];
  if (t.owner) mutations.push({ type: "delete", key: ownerIndexKey(t.owner, t.id) });
  if (t.status === "failed") mutations.push({ type: "delete", key: failedKey(t.id) });
  if (t.idempotencyKey !== null) {
    mutations.push({ type: "delete", key: idempotencyKey(t.idempotencyKey, t.owner ?? null) });
  }
  for (let p = 0; p < (t.resultParts ?? 0); p++) {
    mutations.push({ type: "delete", key: resultPartKey(t.id, p) });
  }
  for (const v of t.votes) mutations.push({ type: "delete", key: replicaKey(t.id, v.leaseId) });
  return { mutations, sum: [countKey(t.type, t.queue, t.status), -1n] };
}

/** When an ended task ended: its completion, else its last attempt's end, else its creation. */
export function endedAt(t: StoredTask): number {
  return t.completedAt ?? t.history.at(-1)?.endedAt ?? t.createdAt;
}
