import { deepStrictEqual, rejects } from "node:assert/strict";
import { TaskFailure } from "tessera/handler";
import handler from "./collatz.ts";
import {
  progressIsSane,
  refusedPaths,
  runHandler,
  testContext,
} from "../../handlers/_test_context.ts";

Deno.test("collatz.longest finds 77031 (350 steps) below 100,000, with sane progress", async () => {
  const ctx = testContext();
  deepStrictEqual(await runHandler(handler, { from: 1, to: 100_000 }, ctx), {
    start: 77031,
    steps: 350,
  });
  deepStrictEqual(progressIsSane(ctx.progressReports), true);
});

Deno.test("collatz.longest finds 837799 (524 steps) in [800,000, 900,000), Project Euler 14's answer", async () => {
  deepStrictEqual(await runHandler(handler, { from: 800_000, to: 900_000 }), {
    start: 837799,
    steps: 524,
  });
});

Deno.test("collatz.longest finds 9 (19 steps) below 10, and 1 (0 steps) alone", async () => {
  deepStrictEqual(await runHandler(handler, { from: 1, to: 10 }), { start: 9, steps: 19 });
  deepStrictEqual(await runHandler(handler, { from: 1, to: 2 }), { start: 1, steps: 0 });
});

Deno.test("collatz.longest refuses, not retryable, a start whose trajectory leaves exact numbers", async () => {
  // 319,804,831 peaks at 1,414,236,446,719,942,480 (above 2^53).
  await rejects(runHandler(handler, { from: 319_804_831, to: 319_804_832 }), (e) => {
    return e instanceof TaskFailure && e.code === "handler" && !e.retryable;
  });
});

Deno.test("collatz.longest params refuse an empty or too large range and a start below 1", () => {
  deepStrictEqual(refusedPaths(handler.params, { from: 5, to: 5 }), ["to"]);
  deepStrictEqual(refusedPaths(handler.params, { from: 1, to: 20_000_002 }), ["to"]);
  deepStrictEqual(refusedPaths(handler.params, { from: 0, to: 10 }), ["from"]);
});

Deno.test("collatz.longest's spot-check samples are its own answers", async () => {
  const samples = handler.samples;
  if (!Array.isArray(samples)) throw new Error("collatz.longest lists its samples");
  for (const { params, result } of samples) {
    deepStrictEqual(await runHandler(handler, params), result);
  }
});
