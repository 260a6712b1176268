/**
 * Runs one lease on one task thread, for the Deno and the browser executors alike: an abort is
 * passed to the thread, and a task that has not stopped `stopWithinMs` later gets its thread
 * killed (the caller replaces it) — a CPU loop that never yields cannot be stopped any other way.
 *
 * @module
 */
import type { Lease } from "../protocol.ts";
import type { AbortReason, TaskOutcome } from "./worker_core.ts";

/** What of a pooled thread this needs. */
export interface TaskThread {
  /** Runs the lease on the thread (its code already sent); may reject if the thread is gone. */
  run(lease: Lease): Promise<TaskOutcome>;
  abort(taskId: string, reason: AbortReason): void;
  /** Settles when the thread dies under a task (crash, termination, pool closed). */
  died: Promise<TaskOutcome>;
  kill(outcome: TaskOutcome): void;
}

export function internalOutcome(message: string): TaskOutcome {
  return { ok: false, error: { code: "internal", message, retryable: true } };
}

export async function runOnThread(
  thread: TaskThread,
  lease: Lease,
  stop: AbortSignal,
  stopWithinMs: number,
  /** Called after a stuck thread was killed: replace it, log it. */
  onKilled: (reason: AbortReason) => void,
): Promise<TaskOutcome> {
  const { taskId } = lease;
  // Aborted while its code loaded: nothing to stop yet, and nothing to start.
  if (stop.aborted) {
    const reason = String(stop.reason);
    return {
      ok: false,
      error: {
        code: reason === "timeout" ? "timeout" : "cancelled",
        message: `stopped before it started: ${reason}`,
        retryable: true,
      },
    };
  }
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => {
    const reason = String(stop.reason) as AbortReason;
    thread.abort(taskId, reason);
    killTimer = setTimeout(() => {
      thread.kill({
        ok: false,
        error: {
          code: reason === "timeout" ? "timeout" : "cancelled",
          message: `did not stop within ${stopWithinMs} ms of ${reason}; its thread was terminated`,
          retryable: true,
        },
      });
      onKilled(reason);
    }, stopWithinMs);
  };
  stop.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.race([
      thread.run(lease).catch((e) =>
        internalOutcome(`task thread: ${e instanceof Error ? e.message : String(e)}`)
      ),
      thread.died,
    ]);
  } finally {
    clearTimeout(killTimer);
    stop.removeEventListener("abort", onAbort);
  }
}
