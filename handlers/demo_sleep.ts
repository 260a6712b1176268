/**
 * `demo.sleep`: waits `ms` milliseconds, then optionally fails. For demos, tests and benchmarks.
 *
 * - The wait is a timer sleep, or with `cpu: true` a busy-wait (yielding to the event loop every
 *   {@link CPU_SLICE_MS} so aborts still arrive). Either way it rejects promptly with the signal's
 *   reason when `ctx.signal` aborts, and reports progress along the way.
 * - After the wait, if `fail` is set and (`failUntilAttempt` is unset or `ctx.attempt <
 *   failUntilAttempt`), throws `TaskFailure("handler", ...)`, retryable iff `fail === "retryable"`.
 *   So `{ fail: "retryable", failUntilAttempt: 3 }` fails attempts 1 and 2 and succeeds on 3.
 * - Result: `{ sleptMs: params.ms, attempt: ctx.attempt }` (the requested time, not a measurement).
 * - `hog` (for tests of the worker's resilience) misbehaves after the wait instead: `"cpu"` spins
 *   for {@link HOG_CPU_MS} without yielding (far past any timeout it may have), `"memory"`
 *   allocates until its thread runs out of heap.
 *
 * @module
 */
import { z } from "zod";
import { defineHandler, TaskFailure } from "./contract.ts";
import { yieldToEventLoop } from "./_cooperate.ts";

/**
 * Longest sleep: any client may submit demo tasks, and `cpu: true` busy-waits on a volunteer's
 * core, so one task may take a minute, not ten.
 */
export const MAX_SLEEP_MS = 60_000;
/** How long `hog: "cpu"` spins without yielding. */
export const HOG_CPU_MS = 120_000;
/** Longest timer slice between two progress reports, in ms. */
export const PROGRESS_EVERY_MS = 250;
/** Longest busy-wait slice before yielding to the event loop, in ms. */
export const CPU_SLICE_MS = 20;

const params = z.object({
  ms: z.number().int().min(0).max(MAX_SLEEP_MS),
  fail: z.enum(["retryable", "permanent"]).optional(),
  failUntilAttempt: z.number().int().min(1).optional(),
  cpu: z.boolean().optional(),
  hog: z.enum(["cpu", "memory"]).optional(),
});

const result = z.object({
  sleptMs: z.number().int().min(0),
  attempt: z.number().int().min(1),
});

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export default defineHandler({
  type: "demo.sleep",
  description: "Waits ms milliseconds (timer or busy CPU), then optionally fails on purpose",
  params,
  result,
  verification: { mode: "none" },
  timeoutMs: MAX_SLEEP_MS + 5_000,
  maxTimeoutMs: MAX_SLEEP_MS + 5_000,
  async run({ ms, fail, failUntilAttempt, cpu, hog }, ctx) {
    const { signal } = ctx;
    signal.throwIfAborted();
    ctx.progress(0);
    const started = performance.now();
    const deadline = started + ms;
    const report = (now: number) => ctx.progress(ms === 0 ? 1 : Math.min(1, (now - started) / ms));
    for (let now = performance.now(); now < deadline; now = performance.now()) {
      if (cpu) {
        const sliceEnd = Math.min(deadline, now + CPU_SLICE_MS);
        while (performance.now() < sliceEnd) {
          // busy-wait on purpose
        }
        // Not after the last slice: the task is done, and its end is the next event.
        if (sliceEnd < deadline) await yieldToEventLoop();
        signal.throwIfAborted();
      } else {
        await sleep(Math.min(deadline - now, PROGRESS_EVERY_MS), signal);
      }
      report(performance.now());
    }
    if (hog === "cpu") {
      // Never yields, on purpose; bounded all the same, since any client may submit it and a
      // thread stuck in a loop keeps its core even after it is terminated.
      const end = performance.now() + HOG_CPU_MS;
      while (performance.now() < end) { /* spin */ }
    }
    if (hog === "memory") {
      const kept: number[][] = [];
      for (;;) kept.push(new Array(1 << 16).fill(kept.length));
    }
    if (fail !== undefined && (failUntilAttempt === undefined || ctx.attempt < failUntilAttempt)) {
      throw new TaskFailure(
        "handler",
        `demo.sleep: ${fail} failure requested (attempt ${ctx.attempt})`,
        { retryable: fail === "retryable" },
      );
    }
    ctx.progress(1);
    return { sleptMs: ms, attempt: ctx.attempt };
  },
});
