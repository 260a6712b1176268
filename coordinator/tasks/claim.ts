/**
 * claim: a worker leases one ready entry. The entry goes and a lease record comes, in one intent
 * that checks the entry's versionstamp, so no two claimers (in this process or another) can lease
 * it. A claim writes no record of an ordinary task: its lease says it is processing. A replica's
 * claim does write its task (the live count, and who holds it: `holding`), checked against the
 * task's versionstamp, which makes "never two replicas of a task to one worker or donor" an atomic
 * check. Who may claim what is the dispatcher's to decide; this is only how.
 *
 * @module
 */
import type { Task, WorkerKind } from "../../shared/protocol.ts";
import type { Intent } from "../store/committer.ts";
import { countKey, jobCountKey, leaseKey } from "../store/keys.ts";
import { storeTask } from "../store/task_record.ts";
import type { LeaseRecord, StoredTask } from "../store/task_view.ts";
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

/** What bars `who` from a replicated task's other slots: its worker and its donor. */
export function holdingOf(who: { workerId: string; donorId?: string | null | undefined }) {
  return who.donorId ? [`w:${who.workerId}`, `d:${who.donorId}`] : [`w:${who.workerId}`];
}

/** Whether `who` (or its donor) holds or answered a replica of `task`. */
export function holds(
  task: StoredTask,
  who: { workerId: string; donorId?: string | null | undefined },
): boolean {
  return holdingOf(who).some((h) => task.holding?.includes(h));
}

/**
 * `task` once the replicas of `ended` no longer bar their workers: they ended without a vote.
 * Only a vote bars for good; kept, the bar would stall a task for good on a grid of as many
 * workers as it needs votes.
 */
export function withoutHolders(
  task: StoredTask,
  ended: ReadonlyArray<{ workerId: string; donorId?: string | null | undefined }>,
): StoredTask {
  if (!task.holding || ended.length === 0) return task;
  const gone = new Set(ended.flatMap(holdingOf));
  return { ...task, holding: task.holding.filter((h) => !gone.has(h)) };
}

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

/**
 * Claims a ready slot of a replicated task, which the claimer must not hold (`holds`); `next` is
 * its record once claimed, barring the claimer from the other slots. The check on the record
 * makes that bar atomic.
 */
export function replicaClaimIntent(
  task: Deno.KvEntry<StoredTask>,
  entry: Deno.AtomicCheck,
  lease: LeaseRecord,
  now: number,
): { intent: Intent; next: StoredTask } {
  const t = task.value;
  const next: StoredTask = {
    ...t,
    status: "processing",
    live: t.live + 1,
    attempts: t.attempts + 1,
    claimedAt: t.claimedAt ?? now,
    holding: [...(t.holding ?? []), ...holdingOf(lease)],
  };
  const intent = baseIntent(entry, lease);
  intent.checks.push({ key: task.key, versionstamp: task.versionstamp });
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
