/**
 * How an attempt of an ordinary task ends: completed, failed (retried with backoff or failed for
 * good), expired, released (handed back, not counted) or cancelled. Each is one transition
 * (`transition.ts`) that checks the lease's versionstamp, ends the lease, and gives the task its
 * next state.
 *
 * @module
 */
import type { Attempt, Task, TaskError } from "../../shared/protocol.ts";
import { backoffDelay } from "../../shared/backoff.ts";
import type { Intent } from "../store/committer.ts";
import { creditedMs, donorCredit } from "../verify/donor_credit.ts";
import { leaseKey, rateKey, workerStatKey } from "../store/keys.ts";
import type { LeaseRecord } from "../store/task_view.ts";
import { applyTransition, isFinalStatus } from "../store/transition.ts";

export type Outcome =
  /** `startedAt`: the worker's start notice, on the coordinator's clock (donor credit). */
  | { kind: "completed"; result: unknown; startedAt?: number | undefined }
  | { kind: "failed"; error: TaskError }
  | { kind: "expired" }
  | { kind: "released" }
  | { kind: "cancelled" };

/** History keeps the latest attempts only, so a task record stays well under 64 KiB. */
const HISTORY_KEEP = 20;
const HISTORY_MESSAGE_CHARS = 300;
const MAX_BACKOFF_MS = 3600_000;

/** How long a retryable failure waits before attempt `attempt + 1` of `task`. */
export const retryDelay = (task: Task, attempt: number): number =>
  backoffDelay(attempt, { baseMs: task.backoffMs, maxMs: MAX_BACKOFF_MS });

export interface EndedAttempt {
  intent: Intent;
  next: Task;
  /** The task reached completed, failed or cancelled. */
  final: boolean;
}

export function endAttempt(
  task: Task,
  lease: LeaseRecord,
  leaseVersionstamp: string,
  outcome: Outcome,
  now: number,
): EndedAttempt {
  const error: TaskError | null = outcome.kind === "failed"
    ? outcome.error
    : outcome.kind === "expired"
    ? {
      code: "expired",
      message: `lease expired: no heartbeat from ${lease.workerId} within ${task.leaseMs} ms`,
      retryable: true,
    }
    : null;
  const attempt: Attempt = {
    attempt: lease.attempt,
    leaseId: lease.leaseId,
    workerId: lease.workerId,
    startedAt: lease.startedAt,
    endedAt: now,
    outcome: outcome.kind === "expired" ? "expired" : outcome.kind,
    error: error && { ...error, message: error.message.slice(0, HISTORY_MESSAGE_CHARS) },
    ...(lease.via ? { via: lease.via } : {}),
  };
  const history = [...task.history, attempt].slice(-HISTORY_KEEP);
  const base = {
    ...task,
    history,
    claimedAt: lease.startedAt,
    workerId: lease.workerId,
    leaseId: lease.leaseId,
  };
  let next: Task;
  switch (outcome.kind) {
    case "completed":
      next = {
        ...base,
        status: "completed",
        attempts: lease.attempt,
        result: outcome.result,
        error: null,
        completedAt: now,
      };
      break;
    case "cancelled":
      next = { ...base, status: "cancelled", attempts: lease.attempt, completedAt: now };
      break;
    case "released":
      // Handed back on purpose (shutdown, pause): the attempt does not count.
      next = { ...base, status: "pending", attempts: lease.attempt - 1, runAt: now };
      break;
    case "failed":
    case "expired": {
      const retry = error!.retryable && lease.attempt < task.maxAttempts;
      next = retry
        ? {
          ...base,
          status: "pending",
          attempts: lease.attempt,
          error,
          runAt: now + retryDelay(task, lease.attempt),
        }
        : { ...base, status: "failed", attempts: lease.attempt, error, completedAt: now };
    }
  }

  const second = Math.floor(now / 1000);
  const sums: Array<[Deno.KvKey, bigint]> = [];
  if (next.status === "completed") {
    sums.push([rateKey("completed", second), 1n]);
    sums.push([workerStatKey(lease.workerId, "completed"), 1n]);
    sums.push([workerStatKey(lease.workerId, "runMs"), BigInt(Math.max(0, now - lease.startedAt))]);
    const startedAt = outcome.kind === "completed" ? outcome.startedAt : undefined;
    sums.push(...donorCredit(lease.donorId, creditedMs(lease, task.timeoutMs, startedAt, now)));
  }
  if (outcome.kind === "failed" || outcome.kind === "expired") {
    sums.push([workerStatKey(lease.workerId, "failed"), 1n]);
    if (next.status === "failed") sums.push([rateKey("failed", second), 1n]);
  }
  return {
    intent: applyTransition({
      from: task,
      counted: "processing",
      next,
      checks: [{ key: leaseKey(task.id, lease.leaseId), versionstamp: leaseVersionstamp }],
      endsLeases: [lease],
      enqueue: next.status === "pending" ? [0] : [],
      sums,
    }, now),
    next,
    final: isFinalStatus(next.status),
  };
}
