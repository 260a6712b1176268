/**
 * claim: a worker leases one ready entry. The entry goes and a lease record with its expiry
 * entry comes, in one intent that checks the entry's versionstamp, so no two claimers (in this
 * process or another) can lease it. A claim writes no record of an ordinary task: its lease says
 * it is processing. A replica's claim does write its task (the live count), checked against the
 * task's versionstamp, and holder markers that make "never two replicas of a task to one worker
 * or donor" an atomic check. Who may claim what is the dispatcher's to decide; this is only how.
 *
 * @module
 */
import type { Task, WorkerKind } from "../../shared/protocol.ts";
import type { Intent } from "../store/committer.ts";
import { countKey, holderKey, jobCountKey, leaseKey } from "../store/keys.ts";
import { storeTask } from "../store/task_record.ts";
import type { LeaseRecord } from "../store/task_view.ts";
import { waitSums } from "../store/wait_counts.ts";

export interface Claimer {
  workerId: string;
  donorId: string | null;
  kind: WorkerKind;
  via?: "seed" | undefined;
  operator: boolean;
}

/** The lease a claim of `slot` of `task` grants. */
export function newLease(task: Task, slot: number, who: Claimer, now: number): LeaseRecord {
  return {
    leaseId: crypto.randomUUID(),
    taskId: task.id,
    workerId: who.workerId,
    attempt: task.attempts + 1,
    startedAt: now,
    expiresAt: now + task.leaseMs,
    leaseMs: task.leaseMs,
    slot,
    donorId: who.donorId,
    kind: who.kind,
    ...(who.via ? { via: who.via } : {}),
    operator: who.operator,
  };
}

/** The holder markers a replica's claim sets: one for the worker, one for its donor. */
export function holderKeys(taskId: string, who: Pick<Claimer, "workerId" | "donorId">) {
  const keys = [holderKey(taskId, `w:${who.workerId}`)];
  if (who.donorId) keys.push(holderKey(taskId, `d:${who.donorId}`));
  return keys;
}

/** The deletes of a replica's holder markers: it ended without a vote, or its task is purged. */
export const markerDeletes = (
  taskId: string,
  who: { workerId: string; donorId?: string | null | undefined },
): Deno.KvMutation[] =>
  holderKeys(taskId, { workerId: who.workerId, donorId: who.donorId ?? null }).map((key) => ({
    type: "delete",
    key,
  }));

function baseIntent(entry: Deno.AtomicCheck, lease: LeaseRecord): Intent {
  return {
    checks: [entry],
    mutations: [
      { type: "delete", key: entry.key },
      { type: "set", key: leaseKey(lease.taskId, lease.leaseId), value: lease },
    ],
    sums: [],
    bytes: 400,
  };
}

/** Claims a ready entry of an ordinary task. */
export function claimIntent(task: Task, entry: Deno.AtomicCheck, lease: LeaseRecord): Intent {
  const intent = baseIntent(entry, lease);
  intent.sums!.push(
    [countKey(task.type, task.queue, "pending"), -1n],
    [countKey(task.type, task.queue, "processing"), 1n],
  );
  if (task.job) intent.sums!.push([jobCountKey(task.job.id, "processing"), 1n]);
  return intent;
}

/** Claims a ready slot of a replicated task; `next` is its record once claimed. */
export function replicaClaimIntent(
  task: Deno.KvEntry<Task>,
  entry: Deno.AtomicCheck,
  lease: LeaseRecord,
  holders: Deno.KvKey[],
  now: number,
): { intent: Intent; next: Task } {
  const t = task.value;
  const next: Task = {
    ...t,
    status: "processing",
    live: t.live + 1,
    attempts: t.attempts + 1,
    claimedAt: t.claimedAt ?? now,
  };
  const intent = baseIntent(entry, lease);
  intent.checks.push({ key: task.key, versionstamp: task.versionstamp });
  for (const h of holders) {
    intent.checks.push({ key: h, versionstamp: null });
    intent.mutations.push({ type: "set", key: h, value: 1 });
  }
  const record = storeTask(next);
  intent.mutations.push(...record.mutations);
  intent.bytes! += record.bytes;
  intent.sums!.push(...waitSums(t, next));
  if (t.status === "pending") {
    intent.sums!.push(
      [countKey(t.type, t.queue, "pending"), -1n],
      [countKey(t.type, t.queue, "processing"), 1n],
    );
    if (t.job) intent.sums!.push([jobCountKey(t.job.id, "processing"), 1n]);
  }
  return { intent, next };
}
