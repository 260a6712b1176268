import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { TaskFailure } from "./contract.ts";
import handler from "./demo_sleep.ts";
import { progressIsSane, refusedPaths, runHandler, testContext } from "./_test_context.ts";

/** Runs demo.sleep with a signal aborted after `abortAfterMs`; returns the error and the time taken. */
async function abortedRun(params: Record<string, unknown>, abortAfterMs: number) {
  const controller = new AbortController();
  const reason = new TaskFailure("cancelled", "cancelled by test");
  const timer = setTimeout(() => controller.abort(reason), abortAfterMs);
  const started = performance.now();
  try {
    await rejects(
      runHandler(handler, params, testContext({ signal: controller.signal })),
      (err) => err === reason,
    );
  } finally {
    clearTimeout(timer);
  }
  return performance.now() - started;
}

Deno.test("demo.sleep waits about ms and returns sleptMs and the attempt", async () => {
  const ctx = testContext({ attempt: 2 });
  const started = performance.now();
  deepStrictEqual(await runHandler(handler, { ms: 60 }, ctx), { sleptMs: 60, attempt: 2 });
  const took = performance.now() - started;
  ok(took >= 59 && took < 1000, `took ${took} ms`);
  ok(progressIsSane(ctx.progressReports));
});

Deno.test("demo.sleep with cpu: true busy-waits about ms", async () => {
  const started = performance.now();
  deepStrictEqual(await runHandler(handler, { ms: 50, cpu: true }), { sleptMs: 50, attempt: 1 });
  const took = performance.now() - started;
  ok(took >= 49 && took < 1000, `took ${took} ms`);
});

Deno.test("demo.sleep with ms 0 returns at once", async () => {
  deepStrictEqual(await runHandler(handler, { ms: 0 }), { sleptMs: 0, attempt: 1 });
});

Deno.test("demo.sleep rejects promptly with the signal's reason when aborted", async () => {
  const took = await abortedRun({ ms: 60_000 }, 30);
  ok(took < 500, `took ${took} ms`);
});

Deno.test("demo.sleep with cpu: true rejects promptly with the signal's reason when aborted", async () => {
  const took = await abortedRun({ ms: 60_000, cpu: true }, 30);
  ok(took < 500, `took ${took} ms`);
});

Deno.test("demo.sleep rejects at once when the signal is already aborted", async () => {
  const reason = new TaskFailure("timeout", "too late");
  await rejects(
    runHandler(handler, { ms: 10_000 }, testContext({ signal: AbortSignal.abort(reason) })),
    (err) => err === reason,
  );
});

Deno.test("demo.sleep with fail: 'retryable' throws a retryable TaskFailure", async () => {
  await rejects(runHandler(handler, { ms: 5, fail: "retryable" }), (err) => {
    ok(err instanceof TaskFailure);
    strictEqual(err.code, "handler");
    strictEqual(err.retryable, true);
    return true;
  });
});

Deno.test("demo.sleep with fail: 'permanent' throws a non-retryable TaskFailure", async () => {
  await rejects(runHandler(handler, { ms: 0, fail: "permanent" }), (err) => {
    ok(err instanceof TaskFailure);
    strictEqual(err.code, "handler");
    strictEqual(err.retryable, false);
    return true;
  });
});

Deno.test("demo.sleep with failUntilAttempt fails only while attempt < failUntilAttempt", async () => {
  const params = { ms: 0, fail: "retryable", failUntilAttempt: 3 };
  for (const attempt of [1, 2]) {
    await rejects(runHandler(handler, params, testContext({ attempt })), TaskFailure);
  }
  deepStrictEqual(await runHandler(handler, params, testContext({ attempt: 3 })), {
    sleptMs: 0,
    attempt: 3,
  });
  deepStrictEqual(await runHandler(handler, { ms: 0, failUntilAttempt: 3 }), {
    sleptMs: 0,
    attempt: 1,
  });
});

Deno.test("demo.sleep refuses bad params, naming the field", () => {
  deepStrictEqual(refusedPaths(handler.params, { ms: -1 }), ["ms"]);
  deepStrictEqual(refusedPaths(handler.params, { ms: 60_001 }), ["ms"]);
  deepStrictEqual(refusedPaths(handler.params, { ms: 1.5 }), ["ms"]);
  deepStrictEqual(refusedPaths(handler.params, { ms: 1, fail: "sometimes" }), ["fail"]);
  deepStrictEqual(refusedPaths(handler.params, { ms: 1, failUntilAttempt: 0 }), [
    "failUntilAttempt",
  ]);
  deepStrictEqual(refusedPaths(handler.params, { ms: 1, cpu: "yes" }), ["cpu"]);
});
