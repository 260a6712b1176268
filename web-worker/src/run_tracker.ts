/**
 * What the page's threads are computing now, for the "Now computing" card: an {@link Executor}
 * in front of the pool that notes each attempt it begins, its handler's progress reports and
 * its end. It changes nothing about how attempts run.
 *
 * @module
 */
import type { Executor } from "../../shared/worker/worker_core.ts";

/** One attempt the pool was handed and has not finished. */
export interface RunningTask {
  leaseId: string;
  taskId: string;
  type: string;
  /** The handler's last report, in [0, 1]; null before its first. */
  progress: number | null;
  /** When the pool was handed it (`performance.now()`). */
  since: number;
}

export interface RunTracker {
  /** The executor to give the worker core. */
  executor: Executor;
  /** The attempts in flight, oldest first. */
  running(): RunningTask[];
}

/**
 * Tracks the attempts `inner` runs.
 *
 * @example
 * ```ts
 * const tracker = trackRuns(pool);
 * startWorkerCore({ transport, executor: tracker.executor, concurrency: 2 });
 * tracker.running(); // [{ type: "primes.count", progress: 0.4, … }]
 * ```
 */
export function trackRuns(inner: Executor): RunTracker {
  const runs = new Map<string, RunningTask>();
  return {
    executor: {
      get stages() {
        return inner.stages;
      },
      async run(lease, options) {
        const entry: RunningTask = {
          leaseId: lease.leaseId,
          taskId: lease.taskId,
          type: lease.task.type,
          progress: null,
          since: performance.now(),
        };
        // A staged attempt is computed only once it begins.
        const begin = () => {
          entry.since = performance.now();
          runs.set(lease.leaseId, entry);
        };
        if (!options.onStart) begin();
        try {
          return await inner.run(lease, {
            ...options,
            onProgress(fraction) {
              entry.progress = Math.min(1, Math.max(0, fraction));
              options.onProgress(fraction);
            },
            ...(options.onStart
              ? {
                onStart() {
                  begin();
                  options.onStart?.();
                },
              }
              : {}),
          });
        } finally {
          runs.delete(lease.leaseId);
        }
      },
    },
    running: () => [...runs.values()].map((r) => ({ ...r })),
  };
}
