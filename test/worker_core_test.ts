import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { createLogger } from "../shared/logger.ts";
import { createHttpTransport, type HttpTransportOptions } from "../shared/worker/http_transport.ts";
import { createHandlerSource } from "../shared/worker/handler_source.ts";
import { createDenoExecutor } from "../shared/worker/deno/deno_executor.ts";
import type { Lease } from "../shared/protocol.ts";
import type { ClaimOptions, Transport } from "../shared/worker/transport.ts";
import {
  type Executor,
  startWorkerCore,
  type WorkerCoreOptions,
} from "../shared/worker/worker_core.ts";
import {
  inProcessExecutor,
  oneThreadStaging,
  startTestCoordinator,
  type TestCoordinator,
  withCoordinator,
} from "./_worker_helpers.ts";

const quiet = createLogger({ level: "error" });
/** One worker here: replicated (quorum) verification would wait for a second one. */
const NO_QUORUM = { mode: "none" as const };

function transportFor(c: TestCoordinator, extra: Partial<HttpTransportOptions> = {}): Transport {
  return createHttpTransport({ url: c.url, workerId: "core-test", kind: "deno", ...extra });
}

function core(c: TestCoordinator, options: Partial<WorkerCoreOptions> = {}) {
  return startWorkerCore({
    transport: transportFor(c),
    executor: inProcessExecutor,
    concurrency: 2,
    waitMs: 200,
    log: quiet,
    ...options,
  });
}

Deno.test("startWorkerCore() runs claimed tasks and reports their validated results", async () => {
  await withCoordinator(async (c) => {
    const ids = await c.submit([
      ...Array.from({ length: 10 }, (_, i) => ({ type: "demo.echo", params: { i } })),
      { type: "primes.count", params: { from: 0, to: 100 }, verification: NO_QUORUM },
    ]);
    const result = await core(c, { maxTasks: 11 }).done;
    strictEqual(result.reason, "max_tasks");
    strictEqual(result.stats.completed, 11);
    strictEqual(result.stats.failed, 0);
    const tasks = await c.settle(ids);
    deepStrictEqual(
      tasks.slice(0, 10).map((t) => t.result),
      ids.slice(0, 10).map((_, i) => ({ i })),
    );
    deepStrictEqual(tasks[10].result, { from: 0, to: 100, count: 25 });
    ok(tasks.every((t) => t.status === "completed" && t.attempts === 1));
  });
});

Deno.test("startWorkerCore() keeps at most `concurrency` tasks running and claims only free slots", async () => {
  await withCoordinator(async (c) => {
    const ids = await c.submit(
      Array.from({ length: 24 }, () => ({ type: "demo.sleep", params: { ms: 20 } })),
    );
    const real = transportFor(c);
    let running = 0;
    let peak = 0;
    const asked: Array<{ max: number; free: number }> = [];
    const transport: Transport = {
      ...real,
      claim(o: ClaimOptions) {
        asked.push({ max: o.max, free: 3 - running });
        return real.claim(o);
      },
    };
    const executor: Executor = {
      async run(lease, options) {
        peak = Math.max(peak, ++running);
        try {
          return await inProcessExecutor.run(lease, options);
        } finally {
          running--;
        }
      },
    };
    const result = await core(c, { transport, executor, concurrency: 3, maxTasks: 24 }).done;
    strictEqual(result.stats.completed, 24);
    ok(peak <= 3, `peak ${peak}`);
    ok(asked.every((a) => a.max <= a.free && a.max >= 1), JSON.stringify(asked));
    await c.settle(ids);
  });
});

Deno.test("startWorkerCore() fails an attempt past its timeoutMs with a retryable timeout error", async () => {
  await withCoordinator(async (c) => {
    const [id] = await c.submit([
      { type: "demo.sleep", params: { ms: 5_000 }, timeoutMs: 200, maxAttempts: 1 },
    ]);
    const started = Date.now();
    const result = await core(c, { maxTasks: 1 }).done;
    ok(Date.now() - started < 2_000, "the timeout fired late");
    strictEqual(result.stats.failed, 1);
    const task = await c.task(id!);
    strictEqual(task.status, "failed");
    strictEqual(task.error?.code, "timeout");
    strictEqual(task.error?.retryable, true);
  });
});

Deno.test("startWorkerCore() heartbeats, so a task longer than its lease keeps it", async () => {
  await withCoordinator(async (c) => {
    const [id] = await c.submit([{ type: "demo.sleep", params: { ms: 2_500 }, leaseMs: 1_000 }]);
    const result = await core(c, { maxTasks: 1 }).done;
    strictEqual(result.stats.completed, 1);
    const task = await c.task(id!);
    strictEqual(task.status, "completed");
    strictEqual(task.attempts, 1);
    deepStrictEqual(task.history.map((a) => a.outcome), ["completed"]);
  });
});

Deno.test("startWorkerCore() aborts a task cancelled on the coordinator and reports nothing", async () => {
  await withCoordinator(async (c) => {
    const [id] = await c.submit([{ type: "demo.sleep", params: { ms: 20_000 }, leaseMs: 1_500 }]);
    const w = core(c, { maxTasks: 1 });
    await c.until(id!, (t) => t.status === "processing");
    const cancelled = await c.api("POST", `/tasks/${id}/cancel`);
    strictEqual(cancelled.status, 200);
    const started = Date.now();
    const result = await w.done;
    ok(Date.now() - started < 2_000, "the cancellation was noticed late");
    strictEqual(result.stats.abandoned, 1);
    strictEqual(result.stats.failed, 0);
    strictEqual((await c.task(id!)).status, "cancelled");
  });
});

Deno.test("stop() lets in-flight tasks finish within the grace period", async () => {
  await withCoordinator(async (c) => {
    const [id] = await c.submit([{ type: "demo.sleep", params: { ms: 400 } }]);
    const w = core(c);
    await c.until(id!, (t) => t.status === "processing");
    const result = await w.stop({ graceMs: 5_000 });
    strictEqual(result.reason, "stopped");
    strictEqual(result.stats.completed, 1);
    strictEqual(result.stats.released, 0);
    strictEqual((await c.task(id!)).status, "completed");
  });
});

Deno.test("stop() releases tasks still running after the grace: pending at once, attempt not counted", async () => {
  await withCoordinator(async (c) => {
    const ids = await c.submit(
      Array.from({ length: 2 }, () => ({ type: "demo.sleep", params: { ms: 20_000 } })),
    );
    const w = core(c);
    for (const id of ids) await c.until(id, (t) => t.status === "processing");
    const started = Date.now();
    const result = await w.stop({ graceMs: 100 });
    ok(Date.now() - started < 1_500, "stop took too long");
    strictEqual(result.stats.released, 2);
    for (const id of ids) {
      const t = await c.task(id);
      strictEqual(t.status, "pending");
      strictEqual(t.attempts, 0);
      strictEqual(t.history.at(-1)?.outcome, "released");
    }
  });
});

Deno.test("startWorkerCore() never stops for failed tasks, however many in a row", async () => {
  await withCoordinator(async (c) => {
    await c.submit(Array.from({ length: 15 }, () => ({
      type: "demo.sleep",
      params: { ms: 0, fail: "permanent" as const },
    })));
    await c.submit([{ type: "demo.echo", params: { last: true } }]);
    const result = await core(c, { concurrency: 1, maxTasks: 16 }).done;
    strictEqual(result.reason, "max_tasks");
    strictEqual(result.stats.failed, 15);
    strictEqual(result.stats.completed, 1);
  });
});

Deno.test("startWorkerCore() backs off after transport errors and stops once offline for maxOfflineMs", async () => {
  const c = await startTestCoordinator();
  const url = c.url;
  await c.close();
  let claims = 0;
  const real = createHttpTransport({ url, workerId: "w" });
  const transport: Transport = { ...real, claim: (o) => (claims++, real.claim(o)) };
  const started = Date.now();
  const result = await startWorkerCore({
    transport,
    executor: inProcessExecutor,
    concurrency: 1,
    maxOfflineMs: 300,
    backoff: { baseMs: 40, maxMs: 100 },
    log: quiet,
  }).done;
  strictEqual(result.reason, "offline");
  ok(/unreachable for \d+ ms/.test(result.message), result.message);
  const took = Date.now() - started;
  ok(took >= 300, `stopped after ${took} ms, before the window`);
  // Pauses of 20–40, 40–80, then 50–100 ms: a few claims, not a spin.
  ok(claims >= 3 && claims <= 12, `${claims} claims in ${took} ms`);
});

Deno.test("startWorkerCore() stops with reason unauthorized when the token is refused", async () => {
  await withCoordinator(async (c) => {
    const result = await core(c, { transport: transportFor(c, { token: "wrong" }) }).done;
    strictEqual(result.reason, "unauthorized");
  }, { workerToken: "s3cret" });
});

Deno.test("startWorkerCore() does not spin when idle, even with waitMs 0", async () => {
  await withCoordinator(async (c) => {
    for (const waitMs of [400, 0]) {
      const real = transportFor(c);
      let claims = 0;
      const transport: Transport = { ...real, claim: (o) => (claims++, real.claim(o)) };
      const w = core(c, { transport, waitMs });
      await new Promise((r) => setTimeout(r, 1_200));
      await w.stop({ graceMs: 0 });
      ok(claims >= 2 && claims <= 4, `waitMs ${waitMs}: ${claims} claims in 1.2 s`);
    }
  });
});

Deno.test("startWorkerCore() with maxTasks claims that many tasks, finishes them and stops", async () => {
  await withCoordinator(async (c) => {
    const ids = await c.submit(Array.from({ length: 10 }, (_, i) => ({
      type: "demo.echo",
      params: { i },
    })));
    const result = await core(c, { concurrency: 3, maxTasks: 4 }).done;
    strictEqual(result.reason, "max_tasks");
    strictEqual(result.stats.claimed, 4);
    strictEqual(result.stats.completed, 4);
    const statuses = await Promise.all(ids.map(async (id) => (await c.task(id)).status));
    strictEqual(statuses.filter((s) => s === "completed").length, 4);
    strictEqual(statuses.filter((s) => s === "pending").length, 6);
  });
});

Deno.test("startWorkerCore() with the Deno executor runs handlers in sandboxed task threads", async () => {
  await withCoordinator(async (c) => {
    const ids = await c.submit([
      { type: "primes.count", params: { from: 0, to: 1000 }, verification: NO_QUORUM },
      { type: "text.wordcount", params: { text: "a b a" }, verification: NO_QUORUM },
    ]);
    const executor = createDenoExecutor({
      size: 2,
      logLevel: "error",
      source: createHandlerSource({ origin: c.url }),
    });
    try {
      const result = await core(c, { executor, maxTasks: 2 }).done;
      strictEqual(result.stats.completed, 2);
      const [primes, words] = await c.settle(ids);
      deepStrictEqual(primes!.result, { from: 0, to: 1000, count: 168 });
      deepStrictEqual((words!.result as { words: number }).words, 3);
    } finally {
      await executor.close();
    }
  });
});

Deno.test("createHttpTransport() heartbeat says cancelled or stale instead of throwing", async () => {
  await withCoordinator(async (c) => {
    const [a, b] = await c.submit([
      { type: "demo.echo", params: {} },
      { type: "demo.echo", params: {} },
    ]);
    const t = transportFor(c);
    const leases: Lease[] = await t.claim({ max: 2, waitMs: 0 });
    strictEqual(leases.length, 2);
    const la = leases.find((l) => l.taskId === a)!;
    const lb = leases.find((l) => l.taskId === b)!;
    strictEqual((await t.heartbeat(a!, la.leaseId, 0.5)).ok, true);
    await c.api("POST", `/tasks/${a}/cancel`);
    deepStrictEqual(await t.heartbeat(a!, la.leaseId), { ok: false, reason: "cancelled" });
    deepStrictEqual(await t.complete(b!, lb.leaseId, {}), { ok: true });
    deepStrictEqual(await t.heartbeat(b!, lb.leaseId), { ok: false, reason: "stale" });
    const again = await t.complete(b!, "not-the-lease", {});
    strictEqual(again.ok, false);
  });
});

Deno.test("createHttpTransport() retries a report until the coordinator is back", async () => {
  const dir = await Deno.makeTempDir();
  const db = `${dir}/kv.sqlite`;
  let c = await startTestCoordinator({ db });
  const port = c.port;
  try {
    const [id] = await c.submit([{ type: "demo.echo", params: { x: 1 } }]);
    const t = createHttpTransport({
      url: c.url,
      workerId: "w",
      retry: { attempts: 20, baseMs: 50, maxMs: 200 },
    });
    const [lease] = await t.claim({ max: 1, waitMs: 0 });
    await c.coordinator.close();
    const reported = t.complete(id!, lease!.leaseId, { x: 1 });
    await new Promise((r) => setTimeout(r, 400));
    c = await startTestCoordinator({ db, port });
    deepStrictEqual(await reported, { ok: true });
    deepStrictEqual((await c.task(id!)).result, { x: 1 });
  } finally {
    await c.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createHttpTransport() sends reports that finish close together in one request", async () => {
  await withCoordinator(async (c) => {
    const ids = await c.submit(Array.from({ length: 5 }, (_, i) => ({
      type: "demo.echo",
      params: { i },
    })));
    const t = transportFor(c);
    const leases = await t.claim({ max: 5, waitMs: 0 });
    strictEqual(leases.length, 5);
    const realFetch = globalThis.fetch;
    const paths: string[] = [];
    globalThis.fetch = (input, init) => {
      paths.push(new URL(String(input)).pathname);
      return realFetch(input, init);
    };
    try {
      const outcomes = await Promise.all(
        leases.map((l) => t.complete(l.taskId, l.leaseId, l.task.params)),
      );
      ok(outcomes.every((o) => o.ok));
    } finally {
      globalThis.fetch = realFetch;
    }
    deepStrictEqual(paths, ["/api/leases/report"]);
    for (const task of await c.settle(ids)) strictEqual(task.status, "completed");
  });
});

Deno.test("startWorkerCore() hands a staging executor a second short task per slot, and times each from its start, not its staging", async () => {
  await withCoordinator(async (c) => {
    const ids = await c.submit([
      ...Array.from({ length: 3 }, () => ({ type: "demo.sleep", params: { ms: 10 } })),
      { type: "demo.sleep", params: { ms: 400 } },
      // Staged behind the 400 ms task: timed from its hand-over it would time out.
      { type: "demo.sleep", params: { ms: 100 }, timeoutMs: 350, maxAttempts: 1 },
    ]);
    const thread = oneThreadStaging();
    const result = await core(c, { executor: thread.executor, concurrency: 1, maxTasks: 5 }).done;
    strictEqual(result.stats.completed, 5, JSON.stringify(result.stats));
    strictEqual(thread.peak(), 2, "one task staged behind the running one, never more");
    const tasks = await c.settle(ids);
    ok(tasks.every((t) => t.status === "completed"), tasks.map((t) => t.status).join());
    // Run time counts from the start: the mean is that of the runs, not of the waits.
    ok(result.stats.meanRunMs! < 200, `mean run ${result.stats.meanRunMs} ms`);
  });
});
