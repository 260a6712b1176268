/**
 * The one way an attempt ends: completed, failed (retried with backoff or failed for good),
 * expired, released (handed back, not counted) or cancelled. Each is one intent that checks the
 * lease's versionstamp, removes the lease, and writes the task's next state.
 *
 * @module
 */
import type { Attempt, Task, TaskError } from "../shared/protocol.ts";
import { backoffDelay } from "../shared/backoff.ts";
import { approxBytes } from "./context.ts";
import type { Intent } from "./committer.ts";
import { creditedMs, donorCredit } from "./donor_credit.ts";
import { queueEntry } from "./enqueue.ts";
import { listIndexMoves } from "./list_index.ts";
import {
  countKey,
  failedKey,
  leaseExpiryKey,
  leaseKey,
  rateKey,
  readySignalKey,
  taskKey,
  workerStatKey,
} from "./keys.ts";
import type { LeaseRecord } from "./task_view.ts";

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

  const mutations: Deno.KvMutation[] = [
    { type: "delete", key: leaseKey(task.id, lease.leaseId) },
    { type: "delete", key: leaseExpiryKey(lease.expiresAt, task.id, lease.leaseId) },
    { type: "set", key: taskKey(task.id), value: next },
    ...listIndexMoves(task, next),
  ];
  const sums: Array<[Deno.KvKey, bigint]> = [
    [countKey(task.type, task.queue, "processing"), -1n],
    [countKey(task.type, task.queue, next.status), 1n],
  ];
  const second = Math.floor(now / 1000);
  if (next.status === "pending") {
    mutations.push(queueEntry(next, now));
    if (next.runAt <= now) sums.push([readySignalKey(task.queue, task.type), 1n]);
  }
  if (next.status === "failed") mutations.push({ type: "set", key: failedKey(task.id), value: 1 });
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
    intent: {
      checks: [{ key: leaseKey(task.id, lease.leaseId), versionstamp: leaseVersionstamp }],
      mutations,
      sums,
      bytes: approxBytes(next) + 200,
    },
    next,
    final: next.status === "completed" || next.status === "failed" || next.status === "cancelled",
  };
}
