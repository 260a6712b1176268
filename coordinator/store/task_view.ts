/**
 * Stored records and the task as clients see it. A leased task's record still says "pending"
 * (a claim writes no task record); its lease records make it "processing" here.
 *
 * @module
 */
import type { Task, WorkerKind } from "../../shared/protocol.ts";

/** What `["task", id]` holds: the client's Task, as of the end of its last attempt. */
export type StoredTask = Task & {
  /** The result is kept apart, in this many `["result", id, part]` values (task_record.ts). */
  resultParts?: number;
  /** Written by a batch over one commit: hidden while that batch is in its first phase. */
  batch?: string;
  /** The coordinator's own known-answer check (spot_checks.ts): in no list, no client count. */
  spot?: true;
  /**
   * Replicated tasks: who may take none of its other slots, as "w:"+worker and "d:"+donor, one
   * pair per replica that holds a lease or voted (claim.ts). In the record, which every replica
   * claim checks anyway, so the rule is atomic with no key of its own.
   */
  holding?: string[];
};

/** The record without the fields only the coordinator reads. */
function clientFields(task: StoredTask): Task {
  if (
    task.resultParts === undefined && task.batch === undefined && task.spot === undefined &&
    task.holding === undefined
  ) {
    return task;
  }
  const { resultParts: _r, batch: _b, spot: _s, holding: _h, ...rest } = task;
  return rest;
}

/** What `["lease", taskId, leaseId]` holds. */
export interface LeaseRecord {
  leaseId: string;
  taskId: string;
  workerId: string;
  attempt: number;
  startedAt: number;
  expiresAt: number;
  /** Lease length granted on claim and on every heartbeat. */
  leaseMs: number;
  /** Which replica of the task (0 for ordinary tasks). */
  slot?: number;
  /** The browser volunteer behind the worker, if any. */
  donorId?: string | null;
  /** A known-answer spot check made for this worker. */
  spot?: boolean;
  kind?: WorkerKind;
  /** The holder is trusted as the operator's own (auth.ts); absent on older leases: not. */
  operator?: boolean;
  progress?: number;
  /**
   * How the lease was handed out: "seed" for the seed protocol's `POST /tasks/claim`, whose
   * workers report without a lease id. Only such a lease may be ended by a lease-less report.
   */
  via?: "seed";
}

/** What a worker sees of a task it is given: no votes or agreement of other replicas. */
export function workerView(task: StoredTask): Task {
  const t = clientFields(task);
  return t.votes.length === 0 ? t : { ...t, votes: [], agreement: null };
}

/**
 * The task a client sees, given its stored record (its result put back, see `presentTasks`)
 * and its live leases.
 */
export function taskView(stored: StoredTask, leases: LeaseRecord[]): Task {
  const task = clientFields(stored);
  if (task.status !== "pending" || leases.length === 0) return task;
  const lease = leases.reduce((a, b) => (b.startedAt > a.startedAt ? b : a));
  return {
    ...task,
    status: "processing",
    attempts: Math.max(task.attempts, ...leases.map((l) => l.attempt)),
    claimedAt: lease.startedAt,
    workerId: lease.workerId,
    leaseId: lease.leaseId,
    progress: lease.progress ?? null,
  };
}
