import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import {
  createDenoExecutor,
  type DenoExecutorOptions,
} from "../shared/worker/deno/deno_executor.ts";
import { createHandlerSource } from "../shared/worker/handler_source.ts";
import type { Lease } from "../shared/protocol.ts";
import { buildPack, builtinPack, type Pack, servePack } from "./_pack_server.ts";

const SANDBOX_PACK = new URL("./fixtures/sandbox_pack.ts", import.meta.url).pathname;
let sandboxPack: Promise<Pack> | null = null;

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
  options: Partial<DenoExecutorOptions> & { sandbox?: boolean },
  fn: (
    executor: ReturnType<typeof createDenoExecutor>,
    server: ReturnType<typeof servePack>,
  ) => Promise<void>,
) {
  const pack = options.sandbox
    ? await (sandboxPack ??= buildPack([SANDBOX_PACK]))
    : await builtinPack();
  await using server = servePack(pack);
  const executor = createDenoExecutor({
    size: 1,
    logLevel: "error",
    source: createHandlerSource({ origin: server.url }),
    ...options,
  });
  try {
    // The first task of a thread waits for its process and its code: not what tests time.
    const warm = options.sandbox ? ["demo.echo"] : ["demo.echo", "demo.sleep"];
    for (const type of warm) {
      const params = type === "demo.sleep" ? { ms: 0 } : {};
      ok((await executor.run(lease(type, params), { signal: never(), onProgress() {} })).ok);
    }
    await fn(executor, server);
  } finally {
    await executor.close();
  }
}

Deno.test("createDenoExecutor() runs a handler in a sandboxed subprocess and returns its checked result", async () => {
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

Deno.test("createDenoExecutor() kills (SIGKILL) a thread whose task ignores abort and starts a fresh one", async () => {
  await withExecutor({ sandbox: true, stopWithinMs: 300 }, async (executor) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort("timeout"), 100);
    const started = Date.now();
    const outcome = await executor.run(lease("sandbox.probe", { probe: "spin", arg: "60000" }), {
      signal: controller.signal,
      onProgress() {},
    });
    const took = Date.now() - started;
    ok(took >= 350 && took < 5_000, `settled after ${took} ms`);
    ok(!outcome.ok && outcome.error.code === "timeout" && outcome.error.retryable);
    strictEqual(executor.restarts, 1);
    const after = await executor.run(lease("demo.echo", { arg: "b" }), {
      signal: never(),
      onProgress() {},
    });
    deepStrictEqual(after, { ok: true, result: { probe: "none", arg: "b" } });
  });
});

Deno.test("createDenoExecutor() runs handlers with no permissions: reading a file, fetching, reading the environment each fail their attempt with a permission error; the thread runs on", async () => {
  await withExecutor({ sandbox: true }, async (executor, server) => {
    const run = (probe: string, arg = "") =>
      executor.run(lease("sandbox.probe", { probe, arg }), { signal: never(), onProgress() {} });
    for (
      const [probe, arg, what] of [
        ["read", import.meta.filename!, "read"],
        ["fetch", `${server.url}/api/handlers`, "net"],
        ["env", "", "env"],
      ]
    ) {
      const outcome = await run(probe!, arg);
      ok(!outcome.ok, `${probe} succeeded`);
      strictEqual(outcome.error.code, "handler");
      match(outcome.error.message, new RegExp(`NotCapable: Requires ${what} access`));
    }
    deepStrictEqual(await run("none", "x"), { ok: true, result: { probe: "none", arg: "x" } });
    strictEqual(executor.restarts, 0);
  });
});

Deno.test("createDenoExecutor() with permissions [read] lets a handler read a file", async () => {
  await withExecutor({ sandbox: true, permissions: ["read"] }, async (executor) => {
    const outcome = await executor.run(
      lease("sandbox.probe", { probe: "read", arg: import.meta.filename! }),
      { signal: never(), onProgress() {} },
    );
    ok(outcome.ok && /permission error/.test(JSON.stringify(outcome.result)));
  });
});

Deno.test("createDenoExecutor() refuses a bundle whose bytes do not match its hash: the attempt fails retryable (internal) and nothing runs", async () => {
  await withExecutor({}, async (executor, server) => {
    const entry = server.pack.entries.find((e) => e.type === "primes.count")!;
    server.tamper(entry.version, new TextEncoder().encode("export default { type: 'x' }"));
    const outcome = await executor.run(lease("primes.count", { from: 0, to: 10 }), {
      signal: never(),
      onProgress() {},
    });
    ok(!outcome.ok);
    strictEqual(outcome.error.code, "internal");
    strictEqual(outcome.error.retryable, true);
    match(outcome.error.message, new RegExp(`hash mismatch: /handlers/${entry.version}\\.js`));
  });
});
