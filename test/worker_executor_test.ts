import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  createDenoExecutor,
  type DenoExecutorOptions,
} from "../shared/worker/deno/deno_executor.ts";
import type { Lease } from "../shared/protocol.ts";

let next = 0;
function lease(
  type: string,
  params: unknown,
  extra: { timeoutMs?: number; attempt?: number } = {},
) {
  const taskId = `task-${++next}`;
  return {
    leaseId: `lease-${next}`,
    taskId,
    expiresAt: Date.now() + 30_000,
    attempt: extra.attempt ?? 1,
    task: { id: taskId, type, params, timeoutMs: extra.timeoutMs ?? 30_000, leaseMs: 30_000 },
  } as unknown as Lease;
}

const never = () => new AbortController().signal;

async function withExecutor(
  options: Partial<DenoExecutorOptions>,
  fn: (executor: ReturnType<typeof createDenoExecutor>) => Promise<void>,
) {
  const executor = createDenoExecutor({ size: 1, logLevel: "error", ...options });
  try {
    await fn(executor);
  } finally {
    await executor.close();
  }
}

Deno.test("createDenoExecutor() runs a handler in a Web Worker and returns its checked result", async () => {
  await withExecutor({}, async (executor) => {
    const outcome = await executor.run(lease("primes.count", { from: 0, to: 100 }), {
      signal: never(),
      onProgress() {},
    });
    deepStrictEqual(outcome, { ok: true, result: { from: 0, to: 100, count: 25 } });
  });
});

Deno.test("createDenoExecutor() refuses bad params with a non-retryable validation error naming the field", async () => {
  await withExecutor({}, async (executor) => {
    const outcome = await executor.run(lease("primes.count", { from: 5, to: "x" }), {
      signal: never(),
      onProgress() {},
    });
    strictEqual(outcome.ok, false);
    if (outcome.ok) return;
    strictEqual(outcome.error.code, "validation");
    strictEqual(outcome.error.retryable, false);
    ok(outcome.error.message.startsWith("params.to:"), outcome.error.message);
  });
});

Deno.test("createDenoExecutor() keeps a thrown TaskFailure's code and retryable flag", async () => {
  await withExecutor({}, async (executor) => {
    const run = (fail: string) =>
      executor.run(lease("demo.sleep", { ms: 0, fail }), { signal: never(), onProgress() {} });
    const permanent = await run("permanent");
    const retryable = await run("retryable");
    ok(!permanent.ok && permanent.error.code === "handler" && !permanent.error.retryable);
    ok(!retryable.ok && retryable.error.code === "handler" && retryable.error.retryable);
  });
});

Deno.test("createDenoExecutor() times a task out inside its thread with a retryable timeout error", async () => {
  await withExecutor({}, async (executor) => {
    const started = Date.now();
    const outcome = await executor.run(lease("demo.sleep", { ms: 5_000 }, { timeoutMs: 150 }), {
      signal: never(),
      onProgress() {},
    });
    ok(Date.now() - started < 2_000);
    deepStrictEqual(outcome, {
      ok: false,
      error: { code: "timeout", message: "timed out after 150 ms", retryable: true },
    });
  });
});

Deno.test("createDenoExecutor() passes progress reports from the thread to onProgress", async () => {
  await withExecutor({}, async (executor) => {
    const reports: number[] = [];
    const outcome = await executor.run(lease("demo.sleep", { ms: 900 }), {
      signal: never(),
      onProgress: (f) => reports.push(f),
    });
    strictEqual(outcome.ok, true);
    ok(reports.length >= 2, `only ${reports.length} progress reports`);
    ok(reports.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= reports[i - 1])));
  });
});

Deno.test("createDenoExecutor() stops a cooperative task promptly on abort and keeps its thread", async () => {
  await withExecutor({}, async (executor) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort("cancelled"), 100);
    const started = Date.now();
    const outcome = await executor.run(lease("demo.sleep", { ms: 10_000, cpu: true }), {
      signal: controller.signal,
      onProgress() {},
    });
    ok(Date.now() - started < 800, `took ${Date.now() - started} ms`);
    ok(!outcome.ok && outcome.error.code === "cancelled");
    strictEqual(executor.restarts, 0);
    const after = await executor.run(lease("demo.echo", { a: 1 }), {
      signal: never(),
      onProgress() {},
    });
    deepStrictEqual(after, { ok: true, result: { a: 1 } });
  });
});

Deno.test("createDenoExecutor() terminates a thread whose task ignores abort and starts a fresh one", async () => {
  // A thread whose "stuck.loop" never yields for 2.5 s (no shipped handler is that rude). Deno
  // does not interrupt a running loop on terminate(), so the loop is finite: the test process
  // must not keep a spinning thread.
  const real = new URL("../shared/worker/deno/_task_thread_node.ts", import.meta.url).href;
  const threadUrl = new URL(
    "data:text/javascript," + encodeURIComponent(`
    import { taskThreadApi } from ${JSON.stringify(real)};
    const run = taskThreadApi.run;
    taskThreadApi.run = (taskId, type, ...rest) => {
      if (type !== "stuck.loop") return run(taskId, type, ...rest);
      const end = performance.now() + 2500;
      while (performance.now() < end) { /* never yields */ }
      return { ok: true, result: "too late" };
    };
  `),
  );
  await withExecutor({ threadUrl, stopWithinMs: 300 }, async (executor) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort("timeout"), 100);
    const started = Date.now();
    const outcome = await executor.run(lease("stuck.loop", {}), {
      signal: controller.signal,
      onProgress() {},
    });
    const took = Date.now() - started;
    ok(took >= 350 && took < 1_500, `settled after ${took} ms`);
    ok(!outcome.ok && outcome.error.code === "timeout" && outcome.error.retryable);
    strictEqual(executor.restarts, 1);
    const after = await executor.run(lease("demo.echo", { b: 2 }), {
      signal: never(),
      onProgress() {},
    });
    deepStrictEqual(after, { ok: true, result: { b: 2 } });
    // Let the terminated thread's loop end before the test does.
    await new Promise((r) => setTimeout(r, 2_600 - (Date.now() - started)));
  });
});
