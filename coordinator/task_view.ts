/**
 * Stored records and the task as clients see it. A leased task's record still says "pending"
 * (a claim writes no task record); its lease records make it "processing" here.
 *
 * @module
 */
import type { Task, WorkerKind } from "../shared/protocol.ts";

/** What `["task", id]` holds: the client's Task, as of the end of its last attempt. */
export type StoredTask = Task;

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

/** The task a client sees, given its stored record and its live leases. */
/** What a worker sees of a task it is given: no votes or agreement of other replicas. */
export function workerView(task: Task): Task {
  return task.votes.length === 0 ? task : { ...task, votes: [], agreement: null };
}

export function taskView(task: StoredTask, leases: LeaseRecord[]): Task {
  if (task.status !== "pending" || leases.length === 0) return task;
  const lease = leases.reduce((a, b) => (b.startedAt > a.startedAt ? b : a));
  return {
    ...task,
    status: "processing",
    attempts: Math.max(task.attempts, ...leases.map((l) => l.attempt)),
    claimedAt: lease.startedAt,
    workerId: lease.workerId,
    leaseId: lease.leaseId,
  };
}
