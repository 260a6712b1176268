/**
 * Jobs end to end: a real coordinator on 127.0.0.1 with a KV file in a temp dir, real
 * `worker.ts` processes, real HTTP streams, a real webhook receiver.
 */
import assert from "node:assert/strict";
import type { Job, JobResultLine, JobWebhook } from "../shared/protocol.ts";
import {
  spawnWorker,
  type TestCoordinator,
  withCoordinator,
  type WorkerProcess,
} from "./_worker_helpers.ts";
import { eventually, spawnCoordinatorProcess } from "./_helpers.ts";
import { createApiKey } from "../coordinator/auth/api_keys.ts";
import { signature } from "../coordinator/jobs/webhook.ts";

type Api = TestCoordinator["api"];

/** Reads a results stream (NDJSON) to its end, or `stopAfter` lines. */
async function readResults(
  api: string,
  id: string,
  query = "",
  stopAfter = Infinity,
): Promise<JobResultLine[]> {
  const res = await fetch(`${api}/jobs/${id}/results${query}`);
  if (res.status !== 200) throw new Error(`results: ${res.status} ${await res.text()}`);
  const lines: JobResultLine[] = [];
  let buf = "";
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return lines;
    buf += value;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
      if (lines.length >= stopAfter) {
        await reader.cancel();
        return lines;
      }
    }
  }
}

/** A started `worker.ts` (the thread pool up), killed after `fn`. */
async function withWorker(
  url: string,
  args: string[],
  fn: (w: WorkerProcess) => Promise<void>,
): Promise<void> {
  const w = spawnWorker(["--coordinator", url, "--nice", "0", ...args]);
  try {
    await w.waitFor(/worker started/, 30_000);
    await fn(w);
  } finally {
    try {
      w.kill("SIGKILL");
    } catch { /* gone */ }
    await w.status;
  }
}

const getJob = async (api: Api, id: string): Promise<Job> => (await api("GET", `/jobs/${id}`)).body;
const untilJob = (api: Api, id: string, check: (j: Job) => boolean, ms = 60_000) =>
  eventually(
    async () => {
      const j = await getJob(api, id);
      return check(j) ? j : null;
    },
    ms,
    50,
  ) as Promise<Job>;

/** Every index 0..n-1 exactly once. */
function assertEachOnce(lines: JobResultLine[], n: number) {
  assert.equal(lines.length, n);
  assert.equal(new Set(lines.map((l) => l.id)).size, n);
  assert.deepEqual(
    lines.map((l) => l.index).sort((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i),
  );
}

Deno.test("a job of 5,000 tasks run by a worker process streams every result exactly once in both orders", async () => {
  await withCoordinator(async (c) => {
    await withWorker(c.url, ["--concurrency", "16"], async () => {
      const n = 5000;
      const created = await c.api("POST", "/jobs", {
        type: "demo.echo",
        name: "echo 5k",
        inputs: Array.from({ length: n }, (_, i) => ({ i })),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      assert.equal(created.body.counts.total, n);
      // Followed while it runs: completion order, live.
      const live = await readResults(`${c.url}/api`, id, "?follow=1");
      assertEachOnce(live, n);
      for (const l of live) assert.deepEqual(l.result, { i: l.index });
      const job = await untilJob(c.api, id, (j) => j.status === "completed");
      assert.equal(job.counts.completed, n);
      assert.equal(job.progress.fraction, 1);
      assert.ok(job.finishedAt! >= job.createdAt && job.throughput > 0);
      // Read again once finished: the same set in completion order, and input order.
      const again = await readResults(`${c.url}/api`, id);
      assertEachOnce(again, n);
      const input = await readResults(`${c.url}/api`, id, "?order=input");
      assert.deepEqual(input.map((l) => l.index), Array.from({ length: n }, (_, i) => i));
      // A stream cut short resumes after its last line's cursor, with no line twice.
      const head = await readResults(`${c.url}/api`, id, "", 1234);
      const tail = await readResults(
        `${c.url}/api`,
        id,
        `?after=${encodeURIComponent(head.at(-1)!.cursor)}`,
      );
      assertEachOnce([...head, ...tail], n);
      const iHead = await readResults(`${c.url}/api`, id, "?order=input", 10);
      const iTail = await readResults(
        `${c.url}/api`,
        id,
        `?order=input&after=${iHead.at(-1)!.cursor}`,
      );
      assert.equal(iTail[0].index, 10);
      assert.equal(iHead.length + iTail.length, n);
    });
  });
});

Deno.test("bad job input is refused with the field named and nothing half-created", async () => {
  await withCoordinator(async (c) => {
    const tile = { x0: -2, y0: -1, x1: 1, y1: 1, width: 4, height: 4, maxIter: 10 };
    for (const n of [20, 2500]) {
      const inputs = Array.from({ length: n }, () => ({ ...tile }));
      const bad = n === 20 ? 17 : 2400;
      inputs[bad] = { ...tile, width: "wide" as unknown as number };
      const r = await c.api("POST", "/jobs", { type: "mandelbrot.tile", inputs });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.field, `inputs.${bad}.width`);
    }
    const unknownType = await c.api("POST", "/jobs", { type: "no.such", inputs: [{}] });
    assert.equal(unknownType.status, 400);
    assert.equal(unknownType.body.error.field, "type");
    const empty = await c.api("POST", "/jobs", { type: "demo.echo", inputs: [] });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error.field, "inputs");
    const tooMany = await c.api("POST", "/jobs", {
      type: "demo.echo",
      inputs: Array.from({ length: 100_001 }, () => 0),
    });
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.error.field, "inputs");
    const tooLarge = await c.api("POST", "/jobs", {
      type: "demo.echo",
      inputs: Array.from({ length: 1000 }, () => ({ pad: "x".repeat(5000) })),
    });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.error.field, "body");
    const kv = c.coordinator.ctx.kv;
    for (const prefix of ["task", "job", "job_active", "ready", "batch"]) {
      assert.deepEqual(await Array.fromAsync(kv.list({ prefix: [prefix] })), [], prefix);
    }
    assert.deepEqual((await c.api("GET", "/jobs")).body, { jobs: [], cursor: null });
    const missing = await c.api("GET", "/jobs/01NOSUCHJOB");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.field, "id");
    assert.equal((await c.api("POST", "/jobs/01NOSUCHJOB/tasks", { inputs: [{}] })).status, 404);
    assert.equal((await fetch(`${c.url}/api/jobs/01NOSUCHJOB/results`)).status, 404);
  }, { maxBodyBytes: 1024 * 1024 });
});

Deno.test("an open job takes appends until it is closed, then finishes; appending to it is a 409", async () => {
  await withCoordinator(async (c) => {
    const created = await c.api("POST", "/jobs", {
      type: "demo.echo",
      // Index 0's result is too large to copy into the completion index: read from its task.
      inputs: [{ i: 0, pad: "x".repeat(5000) }, { i: 1 }, { i: 2 }],
      open: true,
    });
    assert.equal(created.status, 201);
    const id = created.body.id;
    const more = await c.api("POST", `/jobs/${id}/tasks`, {
      inputs: Array.from({ length: 400 }, (_, k) => ({ i: 3 + k })),
    });
    assert.equal(more.status, 201, JSON.stringify(more.body));
    assert.equal(more.body.firstIndex, 3);
    assert.equal(more.body.count, 400);
    await withWorker(c.url, ["--concurrency", "16"], async () => {
      await untilJob(c.api, id, (j) => j.counts.completed === 403);
      // Every task ended, but open: still running.
      assert.equal((await getJob(c.api, id)).status, "running");
      const closed = await c.api("POST", `/jobs/${id}/close`);
      assert.equal(closed.status, 200);
      assert.equal(closed.body.open, false);
      await untilJob(c.api, id, (j) => j.status === "completed", 10_000);
    });
    const input = await readResults(`${c.url}/api`, id, "?order=input");
    assert.deepEqual(input.map((l) => (l.result as { i: number }).i), input.map((_, i) => i));
    assert.equal(input.length, 403);
    const completion = await readResults(`${c.url}/api`, id);
    assertEachOnce(completion, 403);
    const big = completion.find((l) => l.index === 0)!.result as { pad: string };
    assert.equal(big.pad.length, 5000);
    const late = await c.api("POST", `/jobs/${id}/tasks`, { inputs: [{}] });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.field, "open");
  });
});

Deno.test("cancelling a running job stops its tasks on the worker; its progress was visible", async () => {
  await withCoordinator(async (c) => {
    await withWorker(c.url, ["--concurrency", "4"], async (w) => {
      const created = await c.api("POST", "/jobs", {
        type: "demo.sleep",
        inputs: Array.from({ length: 12 }, () => ({ ms: 60_000 })),
        leaseMs: 3000,
      });
      const id = created.body.id;
      // Heartbeats carry the handler's progress: in the task and in the job.
      const running = await untilJob(
        c.api,
        id,
        (j) => j.counts.processing > 0 && j.progress.running.some((r) => r.progress > 0),
        30_000,
      );
      assert.ok(running.progress.fraction > 0 && running.progress.fraction < 1);
      const sample = running.progress.running[0];
      const task = await c.task(sample.taskId);
      assert.equal(task.status, "processing");
      assert.equal(typeof task.progress, "number");
      assert.deepEqual(task.job, { id, index: sample.index });
      const cancelled = await c.api("POST", `/jobs/${id}/cancel`);
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body.affected, 12);
      const job = await untilJob(c.api, id, (j) => j.status === "cancelled", 10_000);
      assert.equal(job.counts.cancelled, 12);
      // The worker dropped them: its four slots take new work at once, not in a minute.
      const [quick] = await c.submit([{ type: "demo.echo", params: { ok: true } }]);
      const done = await c.settle([quick], 20_000);
      assert.equal(done[0].status, "completed");
      // Told over its socket: the worker says so for the task it was running.
      await w.waitFor(new RegExp(`task cancelled: stopping it.*${sample.taskId}`), 10_000);
      const results = await readResults(`${c.url}/api`, id);
      assert.equal(results.length, 12);
      assert.ok(results.every((l) => l.status === "cancelled" && l.error?.code === "cancelled"));
    });
  });
});

Deno.test("retrying a job requeues its failed tasks; deleting it purges every key it had", async () => {
  await withCoordinator(async (c) => {
    const kv = c.coordinator.ctx.kv;
    const keysBefore = new Set(
      (await Array.fromAsync(kv.list({ prefix: [] }))).map((e) => JSON.stringify(e.key)),
    );
    await withWorker(c.url, ["--concurrency", "8"], async () => {
      const created = await c.api("POST", "/jobs", {
        type: "demo.sleep",
        inputs: Array.from(
          { length: 10 },
          (_, i) => i % 2 ? { ms: 0, fail: "permanent" } : { ms: 0 },
        ),
      });
      const id = created.body.id;
      const failed = await untilJob(c.api, id, (j) => j.status === "failed");
      assert.equal(failed.counts.failed, 5);
      assert.equal(failed.counts.completed, 5);
      const running = await c.api("DELETE", `/jobs/${id}`);
      assert.equal(running.status, 200); // finished (failed) jobs may be deleted
      assert.equal(running.body.purged, 10);
      assert.equal((await c.api("GET", `/jobs/${id}`)).status, 404);
      const left = (await Array.fromAsync(kv.list({ prefix: [] })))
        .map((e) => JSON.stringify(e.key))
        .filter((k) => k.includes(id) && !keysBefore.has(k));
      assert.deepEqual(left, []);

      const again = await c.api("POST", "/jobs", {
        type: "demo.sleep",
        inputs: Array.from(
          { length: 6 },
          (_, i) => i < 2 ? { ms: 0, fail: "permanent" } : { ms: 0 },
        ),
      });
      const id2 = again.body.id;
      await untilJob(c.api, id2, (j) => j.status === "failed");
      const retried = await c.api("POST", `/jobs/${id2}/retry`);
      assert.equal(retried.status, 200);
      assert.equal(retried.body.affected, 2);
      const after = await untilJob(
        c.api,
        id2,
        (j) => j.status === "failed" && j.counts.failed === 2,
      );
      assert.equal(after.counts.completed, 4);
      const lines = await readResults(`${c.url}/api`, id2, "?order=input");
      assert.equal(lines.length, 6);
      for (const l of lines.slice(0, 2)) {
        const t = await c.task(l.id);
        assert.equal(t.history.length, 2, "ran again after the retry");
      }
      const completion = await readResults(`${c.url}/api`, id2);
      assertEachOnce(completion, 6);
      // A running job may not be deleted.
      const open = await c.api("POST", "/jobs", { type: "demo.echo", inputs: [], open: true });
      const refused = await c.api("DELETE", `/jobs/${open.body.id}`);
      assert.equal(refused.status, 409);
    });
  });
});

Deno.test("a job's webhook is delivered once, signed, after a receiver that first fails", async () => {
  const received: Array<{ body: string; signature: string | null; ok: boolean }> = [];
  const receiver = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    async (req) => {
      const body = await req.text();
      const ok = received.length > 0;
      received.push({ body, signature: req.headers.get("x-tessera-signature"), ok });
      return new Response(ok ? "thanks" : "not now", { status: ok ? 200 : 503 });
    },
  );
  try {
    await withCoordinator(async (c) => {
      await withWorker(c.url, ["--concurrency", "4"], async () => {
        const created = await c.api("POST", "/jobs", {
          type: "demo.echo",
          inputs: [{ a: 1 }, { a: 2 }],
          callbackUrl: `http://127.0.0.1:${receiver.addr.port}/hook`,
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const id = created.body.id;
        const job = await untilJob(c.api, id, (j) => j.webhook?.deliveredAt != null, 30_000);
        assert.equal(job.webhook!.attempts, 2);
        assert.equal(received.length, 2);
        const secret = (await Deno.readTextFile(
          `${c.coordinator.ctx.config.db.replace(/[^/]*$/, "")}webhook.secret`,
        )).trim();
        for (const r of received) assert.equal(r.signature, await signature(secret, r.body));
        const [first, second] = received.map((r) => JSON.parse(r.body) as JobWebhook);
        assert.equal(first.deliveryId, second.deliveryId);
        assert.equal(second.job.id, id);
        assert.equal(second.job.status, "completed");
        // Recorded as delivered: later passes send nothing more.
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal(received.length, 2);
      });
    });
  } finally {
    await receiver.shutdown();
  }
});

Deno.test("clients list only their own jobs, newest first, by status", async () => {
  await withCoordinator(async (c) => {
    const kv = c.coordinator.ctx.kv;
    const a = (await createApiKey(kv, { name: "a", role: "client" })).key;
    const b = (await createApiKey(kv, { name: "b", role: "client" })).key;
    const call = async (key: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${c.url}/api${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const ids = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (await call(a, "POST", "/jobs", { type: "demo.echo", inputs: [], open: true })).body.id,
      );
    }
    const theirs = (await call(b, "POST", "/jobs", { type: "demo.echo", inputs: [{}] })).body.id;
    const page = await call(a, "GET", "/jobs?limit=2");
    assert.deepEqual(page.body.jobs.map((j: Job) => j.id), [ids[2], ids[1]]);
    const rest = await call(a, "GET", `/jobs?limit=2&cursor=${page.body.cursor}`);
    assert.deepEqual(rest.body.jobs.map((j: Job) => j.id), [ids[0]]);
    assert.equal((await call(a, "GET", `/jobs/${theirs}`)).status, 404);
    assert.deepEqual(
      (await call(b, "GET", "/jobs?status=running")).body.jobs.map((j: Job) => j.id),
      [theirs],
    );
    assert.deepEqual((await call(b, "GET", "/jobs?status=completed")).body.jobs, []);
  });
});

Deno.test("a coordinator restart in the middle of a job loses nothing and ?after= resumes the stream", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-jobs-restart-" });
  const db = `${dir}/tessera.sqlite`;
  const port = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  })();
  let coordinator = await spawnCoordinatorProcess(db, port);
  try {
    await withWorker(coordinator.url, ["--concurrency", "4"], async () => {
      const n = 300;
      const created = await (await fetch(`${coordinator.api}/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          type: "demo.sleep",
          inputs: Array.from({ length: n }, () => ({ ms: 20 })),
        }),
      })).json();
      const id = created.id;
      const head = await readResults(coordinator.api, id, "?follow=1", 40);
      coordinator.child.kill("SIGKILL");
      await coordinator.child.status;
      coordinator = await spawnCoordinatorProcess(db, port);
      const tail = await readResults(
        coordinator.api,
        id,
        `?follow=1&after=${encodeURIComponent(head.at(-1)!.cursor)}`,
      );
      assertEachOnce([...head, ...tail], n);
      const job = await (await fetch(`${coordinator.api}/jobs/${id}`)).json() as Job;
      assert.equal(job.counts.completed, n);
      assert.equal(job.status, "completed");
    });
  } finally {
    try {
      coordinator.child.kill("SIGKILL");
    } catch { /* gone */ }
    await coordinator.child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
