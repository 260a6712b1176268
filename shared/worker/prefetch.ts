/**
 * How many leases a socket worker keeps ready beyond its slots. A slot that frees starts its
 * next task from this buffer at once; the lease that refills the buffer arrives a round trip
 * later (the report reaches the coordinator, the claim commits, the lease comes back). So the
 * buffer holds what the slots finish in a round trip, twice over for the jitter of a loaded
 * machine: on 8 slots with a 10 ms round trip, 32 leases for 5 ms tasks, 64 (the cap) for no-op
 * ones, one for 10 s tasks. It is bounded in time, not in count: a worker holds about two round
 * trips of work it has not started, so a short queue is not hoarded by one worker while others
 * wait idle.
 *
 * The buffer is also what lets the coordinator batch: the more leases a socket may take, the
 * more of them one claim and one commit grant. Measured on 2 `worker.ts` × 8, no-op tasks: half a
 * lease per slot ready, 1,525 tasks/s; up to 4, 2,130/s and a third less coordinator CPU per
 * task; up to 8 (the cap), 2,375/s.
 *
 * @module
 */

/** Leases kept ready at most, per slot. */
export const MAX_PREFETCH_PER_SLOT = 8;

/** Leases to keep ready beyond `slots` busy ones, for tasks of `meanRunMs` and a `roundTripMs`. */
export function prefetchFor(slots: number, meanRunMs: number, roundTripMs: number): number {
  const finished = (slots * 2 * roundTripMs) / Math.max(meanRunMs, 0.1);
  return Math.max(1, Math.min(MAX_PREFETCH_PER_SLOT * slots, Math.ceil(finished)));
}

/** How often the prefetch may change, so the credit messages stay rare. */
const ADJUST_EVERY_MS = 500;

export interface Prefetch {
  /** A task ran for `runMs`; the coordinator's round trip is about `roundTripMs` now. */
  ran(runMs: number, roundTripMs: number | null): void;
  /** The worker is stopping: the capacity is no longer this one's to set. */
  stop(): void;
}

/**
 * Keeps a worker's announced capacity at `slots` plus {@link prefetchFor} as tasks finish:
 * `apply` is called with each new capacity (at most every half second, and only when it
 * changes). It starts at `initial`, until a task has run.
 */
export function createPrefetch(
  o: { slots: number; initial: number; apply(capacity: number): void; now?: () => number },
): Prefetch {
  const now = o.now ?? (() => performance.now());
  let meanRunMs: number | null = null;
  let capacity = o.initial;
  let changedAt = -Infinity;
  let stopped = false;
  return {
    ran(runMs, roundTripMs) {
      if (stopped) return;
      meanRunMs = meanRunMs === null ? runMs : 0.8 * meanRunMs + 0.2 * runMs;
      if (roundTripMs === null || now() - changedAt < ADJUST_EVERY_MS) return;
      const next = o.slots + prefetchFor(o.slots, meanRunMs, roundTripMs);
      if (next === capacity) return;
      capacity = next;
      changedAt = now();
      o.apply(next);
    },
    stop() {
      stopped = true;
    },
  };
}
