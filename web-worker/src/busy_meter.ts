/**
 * Cores in use, averaged: the number of busy threads integrated over time, read as a mean over
 * the last few seconds. An instant count is 0 between two tasks most of the time when tasks are
 * short (a page doing 27 tasks a second showed "0 / 2"); the integral counts every millisecond a
 * thread computed, however short its tasks.
 *
 * @module
 */

export interface BusyMeter {
  /** The busy count changed to `busy` at `now` (ms, `performance.now()`). */
  set(busy: number, now?: number): void;
  /** Mean busy threads over the last `windowMs` (less at first: since the meter started). */
  average(now?: number): number;
  /** Forgets the past: the mean starts again from `now` (computing starts or resumes). */
  reset(now?: number): void;
}

/**
 * A meter whose history is kept in fixed slices, so it costs the same at any task rate.
 *
 * @example
 * ```ts
 * const meter = createBusyMeter(5_000);
 * meter.set(2); // two threads start computing
 * meter.average(); // → 2 a moment later
 * ```
 */
export function createBusyMeter(windowMs = 5_000, sliceMs = 250): BusyMeter {
  // A window of whole slices.
  const slices = Math.ceil(windowMs / sliceMs);
  /** Busy thread-milliseconds per slice, a ring indexed by slice number. */
  const ring = new Float64Array(slices);
  let ringSlice = -1;
  let busy = 0;
  let since = performance.now();
  let startedAt = since;

  /** Adds `busy` from `since` to `until` into the slices it spans. */
  function account(until: number): void {
    let t = since;
    while (t < until) {
      const slice = Math.floor(t / sliceMs);
      advanceTo(slice);
      const end = Math.min(until, (slice + 1) * sliceMs);
      ring[slice % slices] += busy * (end - t);
      t = end;
    }
    since = until;
  }

  function advanceTo(slice: number): void {
    if (ringSlice === -1) ringSlice = slice;
    if (slice - ringSlice >= slices) ring.fill(0);
    else for (let s = ringSlice + 1; s <= slice; s++) ring[s % slices] = 0;
    ringSlice = Math.max(ringSlice, slice);
  }

  return {
    set(n, now = performance.now()) {
      account(now);
      busy = n;
    },
    reset(now = performance.now()) {
      account(now);
      ring.fill(0);
      startedAt = now;
    },
    average(now = performance.now()) {
      account(now);
      advanceTo(Math.floor(now / sliceMs));
      let sum = 0;
      for (const v of ring) sum += v;
      // The ring holds the slices up to now; at first, only the time since the meter started.
      const oldest = Math.max(startedAt, (ringSlice - slices + 1) * sliceMs);
      return sum / Math.max(1, now - oldest);
    },
  };
}
