/**
 * Runs one lease on one task thread, for the Deno and the browser executors alike: an abort is
 * passed to the thread, and a task that has not stopped `stopWithinMs` later gets its thread
 * killed (the caller replaces it) — a CPU loop that never yields cannot be stopped any other way.
 * A run staged on a busy thread (the browser pool) first waits for its turn ({@link stagedTurn}).
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

/** A thread that may hold a staged run (`Executor.stages`). */
export interface StagingThread {
  /** The run sent to it while its task runs, which it starts next: called when it begins. */
  staged: (() => void) | null;
  died: Promise<TaskOutcome>;
}

/**
 * Waits for the turn of a run staged on `thread` (already sent to it): `began` once the pool says
 * the thread's task ended (it calls `staged`), `died` if the thread went first (run it on another),
 * `aborted` if the run was stopped first (it then never runs: the thread skips it).
 */
export function stagedTurn(
  thread: StagingThread,
  stop: AbortSignal,
): Promise<"began" | "died" | "aborted"> {
  return new Promise((resolve) => {
    const onAbort = () => {
      if (thread.staged !== began) return;
      thread.staged = null;
      resolve("aborted");
    };
    const began = () => {
      stop.removeEventListener("abort", onAbort);
      resolve("began");
    };
    thread.staged = began;
    stop.addEventListener("abort", onAbort, { once: true });
    if (stop.aborted) onAbort();
    thread.died.then(() => {
      if (thread.staged !== began) return;
      thread.staged = null;
      stop.removeEventListener("abort", onAbort);
      resolve("died");
    });
  });
}

export function internalOutcome(message: string): TaskOutcome {
  return { ok: false, error: { code: "internal", message, retryable: true } };
}

/** The outcome of a run stopped (`reason`, an {@link AbortReason}) before it began. */
export function stoppedBeforeStart(reason: unknown): TaskOutcome {
  return {
    ok: false,
    error: {
      code: reason === "timeout" ? "timeout" : "cancelled",
      message: `stopped before it started: ${String(reason)}`,
      retryable: true,
    },
  };
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
  if (stop.aborted) return stoppedBeforeStart(stop.reason);
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
