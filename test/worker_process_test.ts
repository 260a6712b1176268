/**
 * `deno run -A worker.ts` as users run it: real child processes against a real coordinator on
 * 127.0.0.1 with its KV in a temp dir.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { loadHandler } from "../handlers/mod.ts";
import { testContext } from "../handlers/_test_context.ts";
import type { SubmitTask } from "../shared/protocol.ts";
import { generateSigningKey } from "../shared/packs/signature.ts";
import {
  spawnWorker,
  startTestCoordinator,
  type TestCoordinator,
  withCoordinator,
  type WorkerProcess,
} from "./_worker_helpers.ts";

/** One worker per test: replicated (quorum) verification would wait for a second one. */
const NO_QUORUM = { mode: "none" as const };

/** Spawns a worker and makes sure it is gone (and its pipes drained) when `fn` ends. */
async function withWorker(
  c: TestCoordinator,
  args: string[],
  fn: (w: WorkerProcess) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const w = spawnWorker(["--coordinator", c.url, ...args], env);
  try {
    await fn(w);
  } finally {
    try {
      w.kill("SIGKILL");
    } catch { /* already gone */ }
    await w.status;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mixedTasks(n: number): SubmitTask[] {
  const words = "the quick brown fox jumps over the lazy dog the end".split(" ");
  return Array.from({ length: n }, (_, i): SubmitTask => {
    switch (i % 6) {
      case 0:
        return { type: "primes.count", params: { from: i * 100, to: i * 100 + 100 } };
      case 1:
        return {
          type: "mandelbrot.tile",
          params: {
            x0: -2,
            y0: -1 + i / n,
            x1: 0.5,
            y1: -0.9 + i / n,
            width: 8,
            height: 8,
            maxIter: 50,
          },
        };
      case 2:
        return { type: "montecarlo.pi", params: { seed: i, samples: 2_000 } };
      case 3:
        return { type: "text.wordcount", params: { text: words.slice(0, 1 + (i % 11)).join(" ") } };
      case 4:
        return { type: "hash.search", params: { prefix: `t${i}:`, difficulty: 4 } };
      default:
        return { type: "demo.echo", params: { i, note: "hello" } };
    }
  }).map((t) => ({ ...t, verification: NO_QUORUM }));
}

async function expected(t: SubmitTask): Promise<unknown> {
  const handler = await loadHandler(t.type);
  const result = await handler.run(handler.params.parse(t.params), testContext());
  return handler.result.parse(result);
}

Deno.test("worker.ts completes 500 mixed tasks correctly, and the coordinator lists it as a deno worker", async () => {
  await withCoordinator(async (c) => {
    const tasks = mixedTasks(500);
    const ids = await c.submit(tasks);
    // --nice 0: under a busy CI machine, nice task threads would only get scraps.
    const args = ["--worker-id", "proc-500", "--concurrency", "2", "--nice", "0"];
    await withWorker(c, args, async (w) => {
      const done = await c.settle(ids, 40_000);
      for (const [i, t] of done.entries()) {
        strictEqual(
          t.status,
          "completed",
          `task ${i} (${t.type}) is ${t.status}: ${JSON.stringify(t.error)}`,
        );
        deepStrictEqual(t.result, await expected(tasks[i]), `task ${i} (${t.type})`);
      }
      deepStrictEqual(done[0].result, { from: 0, to: 100, count: 25 });
      const worker = (await c.workers()).find((x) => x.id === "proc-500");
      strictEqual(worker?.kind, "deno");
      strictEqual(worker?.completed, 500);
      strictEqual(worker?.concurrency, 2);
      w.kill("SIGTERM");
      strictEqual((await w.status).code, 0);
      ok(/stopped .*completed=500/.test(w.stderr()), w.stderr());
    });
  });
});

Deno.test("worker.ts --transport http killed with SIGKILL mid-task: the task completes on another worker after its lease expires", async () => {
  await withCoordinator(async (c) => {
    const [id] = await c.submit([
      { type: "demo.sleep", params: { ms: 800 }, leaseMs: 1_000, backoffMs: 50 },
    ]);
    await withWorker(c, ["--worker-id", "doomed", "--transport", "http"], async (a) => {
      await c.until(id!, (t) => t.status === "processing" && t.workerId === "doomed");
      a.kill("SIGKILL");
      strictEqual((await a.status).signal, "SIGKILL");
    });
    await withWorker(c, ["--worker-id", "rescuer"], async () => {
      const [t] = await c.settle([id!], 15_000);
      strictEqual(t!.status, "completed");
      strictEqual(t!.workerId, "rescuer");
      deepStrictEqual(t!.history.map((h) => [h.workerId, h.outcome]), [
        ["doomed", "expired"],
        ["rescuer", "completed"],
      ]);
    });
  });
});

Deno.test("worker.ts on a socket killed with SIGKILL: its lease is handed back at once, long before expiry", async () => {
  await withCoordinator(async (c) => {
    const [id] = await c.submit([
      { type: "demo.sleep", params: { ms: 500 }, leaseMs: 60_000, backoffMs: 50 },
    ]);
    await withWorker(c, ["--worker-id", "doomed-ws"], async (a) => {
      await c.until(id!, (t) => t.status === "processing" && t.workerId === "doomed-ws");
      a.kill("SIGKILL");
      strictEqual((await a.status).signal, "SIGKILL");
    });
    const back = await c.until(id!, (t) => t.status === "pending", 5_000);
    strictEqual(back.history.at(-1)?.outcome, "released");
    strictEqual(back.attempts, 0, "a vanished socket's attempt is not counted against the task");
    await withWorker(c, ["--worker-id", "rescuer-ws"], async () => {
      const [t] = await c.settle([id!], 15_000);
      strictEqual(t!.status, "completed");
      strictEqual(t!.workerId, "rescuer-ws");
    });
  });
});

Deno.test("worker.ts on SIGTERM finishes what it can within --grace-ms, releases the rest (pending at once, attempts not used) and exits 0", async () => {
  await withCoordinator(async (c) => {
    const ids = await c.submit([
      { type: "demo.sleep", params: { ms: 30_000 } },
      { type: "demo.sleep", params: { ms: 30_000 } },
      { type: "demo.sleep", params: { ms: 300 } },
    ]);
    await withWorker(
      c,
      ["--concurrency", "3", "--grace-ms", "1500", "--log-format", "json", "--debug"],
      async (w) => {
        // Processing in the store means leased, which for a socket can be pushed and not yet
        // started: a loaded machine signalled then would rightly hand the short one back unrun.
        for (const id of ids) await w.waitFor(new RegExp(`"claimed","taskId":"${id}"`));
        const signalled = Date.now();
        w.kill("SIGTERM");
        strictEqual((await w.status).code, 0);
        ok(Date.now() - signalled < 5_000, "the drain took too long");
        const [long1, long2, short] = await Promise.all(ids.map((id) => c.task(id)));
        strictEqual(short!.status, "completed");
        for (const t of [long1!, long2!]) {
          strictEqual(t.status, "pending");
          strictEqual(t.attempts, 0);
          strictEqual(t.history.at(-1)?.outcome, "released");
        }
        const final = w.stderr().trim().split("\n").map((l) => JSON.parse(l))
          .find((l) => l.message === "stopped");
        strictEqual(final?.reason, "stopped");
        strictEqual(final?.completed, 1);
        strictEqual(final?.released, 2);
      },
    );
  });
});

Deno.test("worker.ts exits at once (130) on a second signal", async () => {
  await withCoordinator(async (c) => {
    const [id] = await c.submit([{ type: "demo.sleep", params: { ms: 30_000 } }]);
    await withWorker(c, ["--grace-ms", "30000"], async (w) => {
      await c.until(id!, (t) => t.status === "processing");
      w.kill("SIGTERM");
      await w.waitFor(/SIGTERM: finishing in-flight tasks/);
      await sleep(400); // a repeat within 250 ms counts as the same signal
      w.kill("SIGINT");
      strictEqual((await w.status).code, 130);
    });
  });
});

Deno.test("worker.ts fails an attempt that exceeds timeoutMs (retryable) and the retry succeeds", async () => {
  await withCoordinator(async (c) => {
    // The first attempt runs out of time because the whole worker stalls (SIGSTOP), as a swapped
    // out or overloaded machine would; the second runs 600 ms of its 1000 ms budget.
    const [id] = await c.submit([
      { type: "demo.sleep", params: { ms: 600 }, timeoutMs: 1_000, leaseMs: 10_000, backoffMs: 50 },
    ]);
    await withWorker(c, ["--concurrency", "1"], async (w) => {
      await c.until(id!, (t) => t.status === "processing");
      await sleep(200);
      w.kill("SIGSTOP");
      await sleep(1_300);
      w.kill("SIGCONT");
      const [t] = await c.settle([id!], 15_000);
      strictEqual(t!.status, "completed");
      strictEqual(t!.attempts, 2);
      strictEqual(t!.history[0]?.outcome, "failed");
      deepStrictEqual(t!.history[0]?.error, {
        code: "timeout",
        message: "timed out after 1000 ms",
        retryable: true,
      });
    });
  });
});

Deno.test("worker.ts retries a handler's retryable error: fails attempt 1, completes attempt 2", async () => {
  await withCoordinator(async (c) => {
    const [id] = await c.submit([{
      type: "demo.sleep",
      params: { ms: 0, fail: "retryable", failUntilAttempt: 2 },
      backoffMs: 50,
    }]);
    await withWorker(c, [], async () => {
      const [t] = await c.settle([id!], 15_000);
      strictEqual(t!.status, "completed");
      strictEqual(t!.attempts, 2);
      deepStrictEqual(t!.result, { sleptMs: 0, attempt: 2 });
      strictEqual(t!.history[0]?.error?.code, "handler");
      strictEqual(t!.history[0]?.error?.retryable, true);
    });
  });
});

Deno.test("the coordinator refuses bad params at submit with a 400 naming the field", async () => {
  await withCoordinator(async (c) => {
    const res = await c.api("POST", "/tasks", {
      type: "primes.count",
      params: { from: 0, to: "lots" },
    });
    strictEqual(res.status, 400);
    strictEqual(res.body.error.field, "params.to");
  });
});

Deno.test("worker.ts --types demo.echo never takes a primes.count task", async () => {
  await withCoordinator(async (c) => {
    const [primes, ...echoes] = await c.submit([
      { type: "primes.count", params: { from: 0, to: 100 }, verification: NO_QUORUM },
      ...Array.from({ length: 5 }, (_, i) => ({ type: "demo.echo", params: { i } })),
    ]);
    await withWorker(c, ["--types", "demo.echo"], async () => {
      await c.settle(echoes, 15_000);
      await sleep(300);
      const t = await c.task(primes!);
      strictEqual(t.status, "pending");
      strictEqual(t.history.length, 0);
    });
  });
});

Deno.test("worker.ts exits 1 with one line when the coordinator is unreachable", async () => {
  const c = await startTestCoordinator();
  const url = c.url;
  await c.close();
  const w = spawnWorker(["--coordinator", url]);
  const status = await w.status;
  strictEqual(status.code, 1);
  const lines = w.stderr().trim().split("\n");
  strictEqual(lines.length, 1, w.stderr());
  ok(lines[0].startsWith(`tessera-worker: cannot reach coordinator at ${url}: `), lines[0]);
});

Deno.test("worker.ts exits 1 with one line when its token is refused, and works with the right one", async () => {
  await withCoordinator(async (c) => {
    const refused = spawnWorker(["--coordinator", c.url, "--token", "wrong"]);
    strictEqual((await refused.status).code, 1);
    deepStrictEqual(refused.stderr().trim().split("\n"), [
      `tessera-worker: the coordinator at ${c.url} refused the worker token`,
    ]);
    const [id] = await c.submit([{ type: "demo.echo", params: { ok: true } }]);
    const accepted = spawnWorker(["--coordinator", c.url, "--max-tasks", "1"], {
      TESSERA_TOKEN: "s3cret",
    });
    strictEqual((await accepted.status).code, 0);
    strictEqual((await c.task(id!)).status, "completed");
  }, { workerToken: "s3cret" });
});

Deno.test("worker.ts keeps working after failing tasks in a row: no task outcome stops it, --max-consecutive-errors is ignored with a warning", async () => {
  await withCoordinator(async (c) => {
    const failing = await c.submit(Array.from({ length: 12 }, () => ({
      type: "demo.sleep",
      params: { ms: 0, fail: "permanent" as const },
    })));
    const args = ["--concurrency", "1", "--max-consecutive-errors", "3"];
    await withWorker(c, args, async (w) => {
      for (const t of await c.settle(failing, 20_000)) strictEqual(t.status, "failed");
      const [echo] = await c.submit([{ type: "demo.echo", params: { after: "failures" } }]);
      const [t] = await c.settle([echo!], 10_000);
      strictEqual(t!.status, "completed");
      ok(/--max-consecutive-errors is deprecated and ignored/.test(w.stderr()), w.stderr());
      w.kill("SIGTERM");
      strictEqual((await w.status).code, 0);
    });
  });
});

Deno.test("worker.ts survives a handler that never yields: the attempt times out, the thread is replaced, the next task runs", async () => {
  await withCoordinator(async (c) => {
    const [stuck] = await c.submit([{
      type: "demo.sleep",
      params: { ms: 0, hog: "cpu" as const },
      timeoutMs: 500,
      maxAttempts: 1,
    }]);
    await withWorker(c, ["--concurrency", "1", "--log-format", "json"], async (w) => {
      const [t] = await c.settle([stuck!], 15_000);
      strictEqual(t!.status, "failed");
      strictEqual(t!.error?.code, "timeout");
      const [echo] = await c.submit([{ type: "demo.echo", params: { next: true } }]);
      strictEqual((await c.settle([echo!], 10_000))[0].status, "completed");
      w.kill("SIGTERM");
      strictEqual((await w.status).code, 0);
      const final = w.stderr().trim().split("\n").map((l) => JSON.parse(l))
        .find((l) => l.message === "stopped");
      strictEqual(final?.restarts, 1);
    });
  });
});

Deno.test("worker.ts survives a handler that runs its thread out of memory: the attempt fails, the thread is replaced, the next task runs", async () => {
  await withCoordinator(async (c) => {
    // Deno may end a thread's over-the-limit promise chain without telling the parent: then the
    // attempt ends at its timeout, when the thread is replaced. Either way the process lives on.
    const [hog] = await c.submit([{
      type: "demo.sleep",
      params: { ms: 0, hog: "memory" as const },
      timeoutMs: 2_000,
      maxAttempts: 1,
    }]);
    await withWorker(c, ["--concurrency", "1", "--thread-memory-mb", "64"], async (w) => {
      const [t] = await c.settle([hog!], 20_000);
      strictEqual(t!.status, "failed");
      ok(
        t!.error?.code === "timeout" || /out of memory/.test(t!.error?.message ?? ""),
        JSON.stringify(t!.error),
      );
      const [echo] = await c.submit([{ type: "demo.echo", params: { next: true } }]);
      strictEqual((await c.settle([echo!], 10_000))[0].status, "completed");
      w.kill("SIGTERM");
      strictEqual((await w.status).code, 0);
    });
  });
});

Deno.test("worker.ts exits 1 with one line once the coordinator has been unreachable for --max-offline-ms", async () => {
  const c = await startTestCoordinator();
  const w = spawnWorker(["--coordinator", c.url, "--max-offline-ms", "1500"]);
  try {
    await w.waitFor(/worker started/);
    await c.close();
    const gone = Date.now();
    strictEqual((await w.status).code, 1);
    const waited = Date.now() - gone;
    ok(waited >= 1_500 && waited < 20_000, `exited ${waited} ms after the coordinator went away`);
    const last = w.stderr().trim().split("\n").at(-1)!;
    ok(/^tessera-worker: the coordinator was unreachable for \d+ ms/.test(last), w.stderr());
  } finally {
    try {
      w.kill("SIGKILL");
    } catch { /* gone */ }
    await w.status;
  }
});

for (const transport of ["ws", "http"]) {
  Deno.test(`worker.ts --transport ${transport} without a token, against a coordinator that enforces keys, exits 1 with one line`, async () => {
    await withCoordinator(async (c) => {
      const started = Date.now();
      const w = spawnWorker(["--coordinator", c.url, "--transport", transport]);
      const timer = setTimeout(() => w.kill("SIGKILL"), 10_000);
      const status = await w.status;
      clearTimeout(timer);
      strictEqual(status.code, 1, w.stderr());
      ok(Date.now() - started < 10_000);
      deepStrictEqual(w.stderr().trim().split("\n"), [
        `tessera-worker: the coordinator at ${c.url} requires a worker token (--token or TESSERA_TOKEN)`,
      ]);
    }, { auth: "on" });
  });
}

Deno.test("worker.ts on SIGTERM announces credit 0: no lease is pushed to it after the signal, and what it held unstarted goes to another worker at once", async () => {
  await withCoordinator(async (c) => {
    const ids = await c.submit(Array.from({ length: 6 }, () => ({
      type: "demo.sleep",
      params: { ms: 1_000 },
      verification: NO_QUORUM,
    })));
    const args = ["--worker-id", "drainer", "--concurrency", "1", "--grace-ms", "10000"];
    await withWorker(c, args, async (a) => {
      // One running, one waiting in the socket's buffer (capacity is concurrency × 1.5).
      await c.until(ids[1], (t) => t.workerId === "drainer");
      await c.until(ids[0], (t) => t.workerId === "drainer");
      const signalled = Date.now();
      a.kill("SIGTERM");
      await withWorker(c, ["--worker-id", "taker", "--concurrency", "4"], async () => {
        const done = await c.settle(ids, 20_000);
        strictEqual((await a.status).code, 0);
        const byDrainer = done.flatMap((t) => t.history.filter((h) => h.workerId === "drainer"));
        for (const h of byDrainer) {
          ok(
            h.startedAt < signalled,
            `a lease was pushed to the draining worker ${h.startedAt - signalled} ms after SIGTERM`,
          );
        }
        const released = byDrainer.filter((h) => h.outcome === "released");
        strictEqual(released.length, 1, JSON.stringify(byDrainer));
        ok(
          released[0].endedAt - signalled < 1_000,
          `released ${released[0].endedAt - signalled} ms after SIGTERM, not at once`,
        );
        strictEqual(byDrainer.filter((h) => h.outcome === "completed").length, 1);
        for (const t of done) {
          strictEqual(t.status, "completed");
          if (t.history.some((h) => h.outcome === "released")) strictEqual(t.workerId, "taker");
        }
      });
    });
  });
});

Deno.test("worker.ts exits 2 naming the option for a bad value", async () => {
  const w = spawnWorker(["--concurrency", "many"]);
  strictEqual((await w.status).code, 2);
  strictEqual(
    w.stderr().trim(),
    "tessera-worker: invalid --concurrency (from the command line): must be a whole number",
  );
});

Deno.test("worker.ts runs handlers with no permissions: reading a file, fetching, reading the environment each fail that attempt with a permission error, and the next task completes", async () => {
  // The coordinator loads the pack (and not the built-ins): its demo.echo probes the sandbox.
  const pack = new URL("./fixtures/sandbox_pack.ts", import.meta.url).pathname;
  await withCoordinator(async (c) => {
    const probes = [
      ["read", import.meta.filename!, "read"],
      ["fetch", `${c.url}/api/health`, "net"],
      ["env", "", "env"],
    ];
    const ids = await c.submit(probes.map(([probe, arg]) => ({
      type: "demo.echo",
      params: { probe, arg },
      maxAttempts: 1,
    })));
    await withWorker(c, ["--concurrency", "1"], async (w) => {
      const done = await c.settle(ids, 20_000);
      for (const [i, t] of done.entries()) {
        strictEqual(t.status, "failed");
        ok(
          new RegExp(`NotCapable: Requires ${probes[i]![2]} access`).test(t.error!.message),
          t.error!.message,
        );
      }
      const [next] = await c.submit([{ type: "demo.echo", params: { arg: "after" } }]);
      deepStrictEqual((await c.settle([next!], 10_000))[0]!.result, {
        probe: "none",
        arg: "after",
      });
      w.kill("SIGTERM");
      strictEqual((await w.status).code, 0);
    });
  }, { handlers: [pack], builtinHandlers: false });
});

Deno.test("worker.ts exits 1 with one line when the coordinator's key is not the pinned one, and 2 naming a type the grid does not run", async () => {
  await withCoordinator(async (c) => {
    const env = {};
    const other = generateSigningKey().publicKey;
    const pinned = spawnWorker(["--coordinator", c.url, "--coordinator-key", other], env);
    strictEqual((await pinned.status).code, 1);
    const line = pinned.stderr().trim();
    ok(/^tessera-worker: the coordinator at .* signs its handlers with key/.test(line), line);
    strictEqual(line.split("\n").length, 1);
    const unknown = spawnWorker(["--coordinator", c.url, "--types", "demo.echo,nope.nothing"], env);
    strictEqual((await unknown.status).code, 2);
    ok(/unknown task type nope\.nothing: the grid runs demo\.echo, /.test(unknown.stderr()));
  });
});

Deno.test("worker.ts --max-tasks N never takes leases it will not run: none is handed back when it stops", async () => {
  await withCoordinator(async (c) => {
    const ids = await c.submit(
      Array.from({ length: 200 }, (_, i) => ({
        type: "demo.echo",
        params: { i },
        verification: NO_QUORUM,
      })),
    );
    const w = spawnWorker([
      "--coordinator",
      c.url,
      "--max-tasks",
      "40",
      "--concurrency",
      "2",
      "--worker-id",
      "bounded",
    ]);
    strictEqual((await w.status).code, 0, w.stderr());
    const tasks = await Promise.all(ids.map((id) => c.task(id)));
    strictEqual(tasks.filter((t) => t.status === "completed").length, 40);
    // Prefetched leases beyond the 40 would have gone back unstarted at the stop.
    const handedBack = tasks.filter((t) => t.history.some((h) => h.outcome === "released"));
    ok(handedBack.length <= 2, `${handedBack.length} leases handed back`);
  });
});
