// The SDK's job handle and map() against a real coordinator and real worker processes.
import assert from "node:assert/strict";
import { ApiRequestError, createClient, TaskFailedError } from "../shared/client.ts";
import type { JobResultLine } from "../shared/protocol.ts";
import { spawnCoordinatorProcess, testCoordinator } from "./_helpers.ts";
import { spawnWorker, type WorkerProcess } from "./_worker_helpers.ts";

async function stopWorker(w: WorkerProcess) {
  w.kill("SIGTERM");
  await w.status;
}

const freePort = () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
};

// One coordinator and one worker process for these steps: a worker takes seconds to start on a
// loaded machine.
Deno.test("the SDK's job handle and map() on a coordinator with a worker process", async (t) => {
  await using c = await testCoordinator();
  const w = spawnWorker(["--coordinator", c.url, "--concurrency", "4"]);
  try {
    await t.step(
      "createJob() results() streams every result once, in completion and in input order",
      async () => {
        const tessera = createClient({ baseUrl: c.api });
        const inputs = Array.from({ length: 200 }, (_, i) => ({ i }));
        const job = await tessera.createJob("demo.echo", inputs, { name: "echo 200" });
        const byCompletion: JobResultLine[] = [];
        for await (const line of job.results({ follow: true })) byCompletion.push(line);
        assert.equal(byCompletion.length, 200);
        assert.deepEqual(
          byCompletion.map((l) => l.index).sort((a, b) => a - b),
          inputs.map((_, i) => i),
          "each index once",
        );
        assert.ok(byCompletion.every((l) => l.status === "completed"));

        const byInput: unknown[] = [];
        for await (const line of job.results({ order: "input" })) byInput.push(line.result);
        assert.deepEqual(byInput, inputs);

        const status = await job.status();
        assert.equal(status.status, "completed");
        assert.equal(status.counts.completed, 200);
        assert.equal(status.progress.fraction, 1);
        assert.equal((await tessera.job(job.id).status()).name, "echo 200");
        assert.ok((await tessera.jobs()).jobs.some((j) => j.id === job.id));
      },
    );

    await t.step(
      "createJob() sends inputs over a request's size in pieces and closes the job after the last",
      async () => {
        const tessera = createClient({ baseUrl: c.api });
        // 300 inputs of 4 KB: about 1.2 MiB of JSON, two requests (create open, append, close).
        const inputs = Array.from({ length: 300 }, (_, i) => ({ i, pad: "x".repeat(4000) }));
        const job = await tessera.createJob("demo.echo", inputs);
        const created = await job.status();
        assert.equal(created.counts.total, 300);
        assert.equal(created.open, false, "closed after the last piece");
        const indexes: number[] = [];
        for await (const line of job.results({ follow: true, order: "input" })) {
          indexes.push((line.result as { i: number }).i);
        }
        assert.deepEqual(indexes, inputs.map((_, i) => i));
      },
    );

    await t.step("an open job takes append() until close(), then finishes", async () => {
      const tessera = createClient({ baseUrl: c.api });
      const job = await tessera.createJob("demo.echo", [{ n: 0 }], { open: true });
      const appended = await job.append([{ n: 1 }, { n: 2 }]);
      assert.equal(appended.firstIndex, 1);
      assert.equal(appended.count, 2);
      assert.equal((await job.status()).open, true);
      await job.close();
      const done = await job.wait({ intervalMs: 50 });
      assert.equal(done.status, "completed");
      const results: unknown[] = [];
      for await (const l of job.results({ order: "input" })) results.push(l.result);
      assert.deepEqual(results, [{ n: 0 }, { n: 1 }, { n: 2 }]);
      await assert.rejects(() => job.append([{ n: 3 }]), (e) => e instanceof ApiRequestError);
    });

    await t.step("cancel() ends a running job's tasks and its result stream", async () => {
      const tessera = createClient({ baseUrl: c.api });
      const job = await tessera.createJob(
        "demo.sleep",
        Array.from({ length: 20 }, () => ({ ms: 20_000 })),
      );
      const lines: JobResultLine[] = [];
      const reading = (async () => {
        for await (const l of job.results({ follow: true })) lines.push(l);
      })();
      // Wait until the worker runs some, so the cancel reaches live leases too.
      while ((await job.status()).counts.processing === 0) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const { affected } = await job.cancel();
      assert.equal(affected, 20);
      await reading;
      assert.equal(lines.length, 20);
      assert.ok(lines.every((l) => l.status === "cancelled"));
      assert.equal((await job.wait()).status, "cancelled");
    });

    await t.step(
      "map() resolves with input-order results and reports growing progress fractions",
      async () => {
        const tessera = createClient({ baseUrl: c.api });
        const ranges = Array.from({ length: 40 }, (_, i) => ({ from: i * 100, to: (i + 1) * 100 }));
        const seen: { done: number; fraction: number }[] = [];
        const results = await tessera.map<{ from: number; count: number }>("primes.count", ranges, {
          onProgress: (p) => seen.push(p),
          progressEveryMs: 50,
        });
        assert.deepEqual(results.map((r) => r.from), ranges.map((r) => r.from));
        assert.equal(results.reduce((a, r) => a + r.count, 0), 550, "pi(4000) = 550");
        assert.deepEqual(seen.at(-1), { total: 40, done: 40, failed: 0, fraction: 1 });
        assert.ok(seen.every((p, i) => i === 0 || p.fraction >= seen[i - 1]!.fraction));

        await assert.rejects(
          () =>
            tessera.map("demo.sleep", [{ ms: 1 }, { ms: 1, fail: "permanent" }], {
              maxAttempts: 1,
            }),
          (e) => e instanceof TaskFailedError && e.task.status === "failed",
        );
      },
    );
  } finally {
    await stopWorker(w);
  }
});

Deno.test("results() resumes after its cursor when the coordinator restarts mid-stream", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-sdk-restart-" });
  const db = `${dir}/tessera.sqlite`;
  const port = freePort();
  let coordinator = await spawnCoordinatorProcess(db, port);
  const w = spawnWorker(["--coordinator", coordinator.url, "--concurrency", "4"]);
  try {
    const tessera = createClient({ baseUrl: coordinator.api });
    const job = await tessera.createJob(
      "demo.sleep",
      Array.from({ length: 30 }, () => ({ ms: 20 })),
    );
    const seen: number[] = [];
    let restarted = false;
    for await (const line of job.results({ follow: true, order: "input" })) {
      seen.push(line.index);
      if (seen.length === 10 && !restarted) {
        restarted = true;
        coordinator.child.kill("SIGKILL");
        await coordinator.child.status;
        coordinator = await spawnCoordinatorProcess(db, port);
      }
    }
    assert.ok(restarted);
    assert.deepEqual(seen, Array.from({ length: 30 }, (_, i) => i), "every line once, in order");
  } finally {
    await stopWorker(w);
    coordinator.child.kill("SIGTERM");
    await coordinator.child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
