// deno-lint-ignore-file no-explicit-any -- JSON bodies in tests
/**
 * What the operator console reads, over HTTP against a real coordinator: why work waits (from
 * counters), spot checks kept out of the client's figures, the public view, the worker filter.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createApiKey } from "../coordinator/auth/api_keys.ts";
import { LAYOUT_VERSION } from "../coordinator/store/migrate.ts";
import { eventually, runInTestWorker, testCoordinator } from "./_helpers.ts";

const echo = (n: number, over: Record<string, unknown> = {}) => ({
  type: "demo.echo",
  params: { n },
  ...over,
});

/** The backlog row of one (queue, type) in a fresh snapshot. */
async function backlogRow(
  c: Awaited<ReturnType<typeof testCoordinator>>,
  queue: string,
  type: string,
) {
  const snap = await c.live.snapshot();
  return snap.backlog.find((r) => r.queue === queue && r.type === type) ?? null;
}

Deno.test("the live snapshot's backlog counts ready, delayed, leased and waiting-for-votes work from counters", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  // Ready and delayed in one queue.
  await c.call("POST", "/tasks", { tasks: [echo(1, { queue: "q" }), echo(2, { queue: "q" })] });
  const later =
    (await c.call("POST", "/tasks", echo(3, { queue: "q", runAt: Date.now() + 60_000 })))
      .body;
  let row = await backlogRow(c, "q", "demo.echo");
  assert.deepEqual(
    { ready: row!.ready, delayed: row!.delayed, leased: row!.leased, votes: row!.votes },
    { ready: 2, delayed: 1, leased: 0, votes: 0 },
  );
  // A cancel of the delayed one takes it off the delayed count.
  assert.equal((await c.call("POST", `/tasks/${later.id}/cancel`)).status, 200);
  row = await backlogRow(c, "q", "demo.echo");
  assert.equal(row!.delayed, 0);
  // Leased: claimed and held.
  const claim = await c.call("POST", "/leases", {
    workerId: "holder",
    max: 1,
    types: ["demo.echo"],
    queues: ["q"],
  });
  assert.equal(claim.body.leases.length, 1);
  row = await backlogRow(c, "q", "demo.echo");
  assert.deepEqual({ ready: row!.ready, leased: row!.leased }, { ready: 1, leased: 1 });

  // Replicated tasks one volunteer answered: they wait for one more volunteer each.
  const quorum = { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2, adaptive: false };
  const { tasks } = (await c.call("POST", "/tasks", {
    tasks: [1, 2, 3].map((n) => echo(n, { queue: "v", verification: quorum })),
  })).body;
  const stop = new AbortController();
  const worker = runInTestWorker(c.api, stop.signal, { workerId: "lonely", types: ["demo.echo"] });
  try {
    await eventually(async () => {
      const r = await backlogRow(c, "v", "demo.echo");
      return r && r.votes === 3 && r.leased === 0;
    }, 10_000);
  } finally {
    stop.abort();
    await worker;
  }
  row = await backlogRow(c, "v", "demo.echo");
  assert.deepEqual(
    { ready: row!.ready, votes: row!.votes, voters: row!.voters },
    { ready: 0, votes: 3, voters: 3 },
  );
  // A second volunteer decides them: nothing waits any more.
  const stop2 = new AbortController();
  const second = runInTestWorker(c.api, stop2.signal, { workerId: "second", types: ["demo.echo"] });
  try {
    await eventually(async () => {
      const done = await Promise.all(tasks.map((t: any) => c.call("GET", `/tasks/${t.id}`)));
      return done.every((r) => r.body.status === "completed");
    }, 10_000);
  } finally {
    stop2.abort();
    await second;
  }
  assert.equal(await backlogRow(c, "v", "demo.echo"), null, "no open work left in v");
});

Deno.test("spot checks are the coordinator's own: not in client counts, rates or lists", async () => {
  await using c = await testCoordinator({ spotChecks: "all" });
  const { tasks } = (await c.call("POST", "/tasks", {
    tasks: [1, 2].map((i) => ({
      type: "primes.count",
      params: { from: i * 100, to: i * 100 + 50 },
    })),
  })).body;
  const stop = new AbortController();
  const worker = runInTestWorker(c.api, stop.signal, {
    workerId: "checked",
    types: ["primes.count"],
  });
  try {
    await eventually(async () => {
      const done = await Promise.all(tasks.map((t: any) => c.call("GET", `/tasks/${t.id}`)));
      return done.every((r) => r.body.status === "completed");
    }, 15_000);
  } finally {
    stop.abort();
    await worker;
  }
  const stats = (await c.call("GET", "/stats")).body;
  assert.ok((stats.spotChecks.made ?? 0) >= 1, "a spot check was made");
  assert.equal(stats.status.completed, 2, "only the client's two tasks count as completed");
  assert.equal(stats.status.processing, 0);
  const submittedOrDone = stats.rates.completed.reduce((a: number, b: number) => a + b, 0);
  assert.equal(submittedOrDone, 2, "the completed rate counts the client's tasks only");
  const listed = (await c.call("GET", "/tasks?limit=100")).body.tasks.map((t: any) => t.id);
  assert.deepEqual(listed.sort(), tasks.map((t: any) => t.id).sort(), "no spot check listed");
  const completed = (await c.call("GET", "/tasks?status=completed")).body.tasks;
  assert.equal(completed.length, 2);
});

Deno.test("GET /api/public answers anyone with totals and types, and no task data", async () => {
  await using c = await testCoordinator({ auth: "on" });
  const { key } = await createApiKey(c.ctx.kv, { name: "client", role: "client" });
  const submitted = await c.call("POST", "/tasks", echo(7), { authorization: `Bearer ${key}` });
  assert.equal(submitted.status, 201);
  const res = await c.call("GET", "/public");
  assert.equal(res.status, 200);
  assert.equal(res.body.totals.queued, 1);
  const echoType = res.body.types.find((t: any) => t.type === "demo.echo");
  assert.equal(echoType.queued, 1);
  assert.match(echoType.description, /\w+/);
  assert.equal(res.body.rates.completed.length, 600);
  assert.ok(!JSON.stringify(res.body).includes(submitted.body.id), "no task id in the view");
  // The console's own feed stays closed to the same visitor from elsewhere.
  const live = await c.call("GET", "/stats", undefined, { "x-forwarded-for": "203.0.113.9" });
  assert.equal(live.status, 401);
});

Deno.test("GET /api/tasks?worker= lists the tasks a worker last held", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  await c.call("POST", "/tasks", { tasks: [echo(1), echo(2), echo(3)] });
  const a = await c.call("POST", "/leases", { workerId: "w-a", max: 2, types: ["demo.echo"] });
  await c.call("POST", "/leases", { workerId: "w-b", max: 1, types: ["demo.echo"] });
  const mine = (await c.call("GET", "/tasks?worker=w-a")).body.tasks.map((t: any) => t.id).sort();
  assert.deepEqual(mine, a.body.leases.map((l: any) => l.taskId).sort());
  assert.equal((await c.call("GET", "/tasks?worker=w-b&status=processing")).body.tasks.length, 1);
});

Deno.test("a store from before the wait counts gets them at start (key layout 5)", async () => {
  const first = await testCoordinator({ spotChecks: "off" });
  try {
    await first.call("POST", "/tasks", echo(1, { queue: "m", runAt: Date.now() + 60_000 }));
    const quorum = { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2, adaptive: false };
    await first.call("POST", "/tasks", echo(2, { queue: "m", verification: quorum }));
    const { leases } = (await first.call("POST", "/leases", { workerId: "one", max: 1 })).body;
    await first.call("POST", `/tasks/${leases[0].taskId}/complete`, {
      leaseId: leases[0].leaseId,
      result: { n: 2 },
    });
    // As a store written before the counters: none of them, layout 4.
    const kv = first.ctx.kv;
    for await (const e of kv.list({ prefix: ["wait"] })) await kv.delete(e.key);
    await kv.set(["meta", "layout"], 4);
    await first.close();
    await using second = await testCoordinator({ db: first.db, spotChecks: "off" });
    assert.equal((await second.ctx.kv.get(["meta", "layout"])).value, LAYOUT_VERSION);
    const row = await backlogRow(second, "m", "demo.echo");
    assert.deepEqual(
      { delayed: row!.delayed, votes: row!.votes, voters: row!.voters, ready: row!.ready },
      { delayed: 1, votes: 1, voters: 1, ready: 0 },
    );
  } finally {
    await Deno.remove(first.dir, { recursive: true }).catch(() => {});
  }
});
