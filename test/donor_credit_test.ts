// deno-lint-ignore-file no-explicit-any -- JSON messages in tests
/**
 * Donor credit (`GET /api/donors`): only for accepted work, and the time is the coordinator's
 * own measure, from the worker's start notice to its report, capped by the task's timeout.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadHandler } from "../handlers/mod.ts";
import { createLogger } from "../shared/logger.ts";
import { createWsTransport } from "../shared/worker/ws_transport.ts";
import { startWorkerCore } from "../shared/worker/worker_core.ts";
import {
  eventually,
  quorumOf2,
  sleep,
  submitEcho,
  type TestCoordinator,
  testCoordinator,
} from "./_helpers.ts";
import { connectSocket } from "./_socket.ts";
import { inProcessExecutor, oneThreadStaging } from "./_worker_helpers.ts";

const NONE = { mode: "none" };

async function donors(c: TestCoordinator): Promise<Map<string, any>> {
  const list = (await c.call("GET", "/donors")).body.donors;
  return new Map(list.map((d: any) => [d.id, d]));
}

/** A browser-kind volunteer with a donor id on a raw socket. */
async function volunteer(c: TestCoordinator, id: string, extra: Record<string, unknown> = {}) {
  const s = await connectSocket(c.url);
  s.send({ type: "hello", workerId: id, kind: "browser", slots: 1, donorId: `d-${id}`, ...extra });
  await s.next((m) => m.type === "welcome");
  const complete = async (lease: any, result: unknown, more: Record<string, unknown> = {}) => {
    const ref = s.ref();
    s.send({
      type: "complete",
      ref,
      taskId: lease.taskId,
      leaseId: lease.leaseId,
      result,
      ...more,
    });
    return await s.next((m) => m.type === "ack" && m.ref === ref);
  };
  const started = (lease: any) =>
    s.send({ type: "started", taskId: lease.taskId, leaseId: lease.leaseId });
  return {
    s,
    complete,
    started,
    lease: async () => (await s.next((m) => m.type === "lease")).lease,
  };
}

Deno.test("a donor is credited the time the coordinator measures from its start notice to its report, not a longer runMs the page claims, capped by the timeout", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  await c.call("POST", "/tasks", { type: "demo.echo", params: {}, verification: NONE });
  const v = await volunteer(c, "tab");
  const lease = await v.lease();
  await sleep(300); // prefetched: waiting for a free thread is not compute
  v.started(lease);
  await sleep(300);
  assert.equal((await v.complete(lease, {}, { runMs: 1e12 })).ok, true);
  const d = await eventually(async () => (await donors(c)).get("d-tab"));
  assert.equal(d.completed, 1);
  assert.ok(d.computeMs >= 250 && d.computeMs < 600, `credited ${d.computeMs} ms`);

  // A task that may run 100 ms earns at most 100 ms, however long its report takes.
  await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: {},
    verification: NONE,
    timeoutMs: 100,
  });
  const short = await v.lease();
  v.started(short);
  await sleep(400);
  assert.equal((await v.complete(short, {}, { runMs: 1e12 })).ok, true);
  const capped = await eventually(async () => {
    const x = (await donors(c)).get("d-tab");
    return x.completed === 2 ? x : null;
  });
  assert.equal(capped.computeMs - d.computeMs, 100);
  await v.s.close();
});

Deno.test("a staged task's wait for its thread is not credited: the worker's own run time can only lower its credit", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  await c.call("POST", "/tasks", { type: "demo.echo", params: {}, verification: NONE });
  const v = await volunteer(c, "staged");
  const lease = await v.lease();
  // Staged behind a short task, it began too soon for a start notice: it waited, then ran 20 ms.
  await sleep(300);
  assert.equal((await v.complete(lease, {}, { runMs: 20 })).ok, true);
  const d = await eventually(async () => (await donors(c)).get("d-staged"));
  assert.ok(d.computeMs >= 20 && d.computeMs < 100, `credited ${d.computeMs} ms`);
  await v.s.close();
});

Deno.test("the worker core reports the run time of a staged task from its start, not its staging", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  await c.call("POST", "/tasks", {
    tasks: [0, 1, 2, 3].map((i) => ({
      type: "demo.sleep",
      params: { ms: 30, i },
      verification: NONE,
    })),
  });
  const transport = createWsTransport({
    url: c.url,
    workerId: "core-staged",
    kind: "browser",
    capacity: 2,
    concurrency: 1,
    donorId: "d-staged-core",
  });
  const core = startWorkerCore({
    transport,
    concurrency: 1,
    waitMs: 200,
    log: createLogger({ level: "error" }),
    executor: oneThreadStaging().executor,
  });
  try {
    const d = await eventually(async () => {
      const x = (await donors(c)).get("d-staged-core");
      return x?.completed === 4 ? x : null;
    }, 10_000);
    // Each staged task waited ~30 ms under 50 ms, too short for a notice: ~210 ms if from staging.
    assert.ok(d.computeMs >= 115 && d.computeMs < 190, `credited ${d.computeMs} ms`);
  } finally {
    await core.stop({ graceMs: 0 });
    transport.close();
  }
});

Deno.test("a failed spot check earns no credit; a passed one does", async () => {
  await using c = await testCoordinator();
  const v = await volunteer(c, "new", { types: ["primes.count"] });
  const first = await v.lease();
  assert.equal(first.task.verification.mode, "none", "a newcomer's first task is a spot check");
  const handler = await loadHandler("primes.count");
  const right = async (l: any) =>
    await handler.run(handler.params.parse(l.task.params), {
      signal: new AbortController().signal,
      progress: () => {},
      log: console,
      taskId: l.taskId,
      attempt: 1,
    }) as { count: number };
  const answer = await right(first);
  v.started(first);
  assert.equal((await v.complete(first, { ...answer, count: answer.count + 1 })).ok, true);
  assert.equal((await c.call("GET", `/tasks/${first.taskId}`)).body.status, "failed");
  await sleep(100);
  assert.equal((await donors(c)).get("d-new"), undefined, "a wrong answer earns nothing");

  const second = await v.lease();
  assert.equal(second.task.verification.mode, "none");
  v.started(second);
  assert.equal((await v.complete(second, await right(second))).ok, true);
  const d = await eventually(async () => (await donors(c)).get("d-new"));
  assert.equal(d.completed, 1);
  await v.s.close();
});

Deno.test("a replica is credited once the task is decided, and only when its vote is on the winning side", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const t = (await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: { x: 1 },
    verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 3, adaptive: false },
  })).body;
  const a = await volunteer(c, "a");
  const la = await a.lease();
  const b = await volunteer(c, "b");
  const lb = await b.lease();
  assert.equal(la.taskId, t.id);
  assert.equal(lb.taskId, t.id);
  a.started(la);
  b.started(lb);
  assert.equal((await a.complete(la, { x: 1 })).ok, true);
  await sleep(100);
  assert.equal((await donors(c)).size, 0, "no credit before the decision");
  assert.equal((await b.complete(lb, { x: 2 })).ok, true);
  const cc = await volunteer(c, "c");
  const lc = await cc.lease();
  cc.started(lc);
  assert.equal((await cc.complete(lc, { x: 1 })).ok, true);
  assert.equal((await c.call("GET", `/tasks/${t.id}`)).body.status, "completed");
  const d = (await eventually(async () => {
    const m = await donors(c);
    return m.size >= 2 ? m : null;
  }))!;
  assert.equal(d.get("d-a")?.completed, 1);
  assert.equal(d.get("d-c")?.completed, 1);
  assert.equal(d.get("d-b"), undefined, "the losing vote earns nothing");
  for (const v of [a, b, cc]) await v.s.close();
});

Deno.test("the worker core sends the start notice when a prefetched lease really starts", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  await c.call("POST", "/tasks", {
    tasks: [0, 1].map((i) => ({
      type: "demo.sleep",
      params: { ms: 600, i },
      verification: NONE,
    })),
  });
  const quiet = createLogger({ level: "error" });
  // Room for two leases, one thread: the second lease waits ~600 ms before it starts.
  const transport = createWsTransport({
    url: c.url,
    workerId: "core-donor",
    kind: "browser",
    capacity: 2,
    concurrency: 1,
    donorId: "d-core",
  });
  const core = startWorkerCore({
    transport,
    concurrency: 1,
    waitMs: 200,
    log: quiet,
    executor: inProcessExecutor,
  });
  try {
    const d = await eventually(async () => {
      const x = (await donors(c)).get("d-core");
      return x?.completed === 2 ? x : null;
    }, 10_000);
    // From the lease instead of the start, the second task would count ~1,200 ms: ~1,800 in all.
    assert.ok(d.computeMs >= 1150 && d.computeMs < 1500, `credited ${d.computeMs} ms`);
  } finally {
    await core.stop({ graceMs: 0 });
    transport.close();
  }
});

Deno.test("GET /donors/{id}: a replica's vote is pending credit until the quorum decides, then checked for the winners and gone for the loser", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const credit = async (id: string) => (await c.call("GET", `/donors/d-${id}`)).body;
  const quorum = quorumOf2(3);
  const t = await submitEcho(c, quorum);
  const a = await volunteer(c, "a");
  const la = await a.lease();
  a.started(la);
  await sleep(50);
  assert.equal((await a.complete(la, { x: 1 })).ok, true);
  const one = await credit("a");
  assert.deepEqual(one.checked, { tasks: 0, computeMs: 0 }, "nothing checked before a decision");
  assert.equal(one.pending.tasks, 1);
  assert.equal(one.pending.waitingForRecord, 0);
  assert.ok(one.pending.computeMs >= 40, `pending ${one.pending.computeMs} ms`);

  // A second volunteer disagrees, a third agrees with the first: decided.
  const b = await volunteer(c, "b");
  const lb = await b.lease();
  b.started(lb);
  assert.equal((await b.complete(lb, { x: 2 })).ok, true);
  assert.equal((await credit("b")).pending.tasks, 1);
  const cc = await volunteer(c, "c");
  const lc = await cc.lease();
  cc.started(lc);
  assert.equal((await cc.complete(lc, { x: 1 })).ok, true);
  assert.equal((await c.call("GET", `/tasks/${t.id}`)).body.status, "completed");
  const [da, db, dc] = await Promise.all([credit("a"), credit("b"), credit("c")]);
  assert.equal(da.checked.tasks, 1);
  assert.equal(da.checked.computeMs, one.pending.computeMs, "the pending time is what is credited");
  assert.equal(dc.checked.tasks, 1);
  assert.deepEqual(db.checked, { tasks: 0, computeMs: 0 }, "the losing vote earns nothing");
  for (const d of [da, db, dc]) {
    assert.deepEqual(d.pending, { tasks: 0, computeMs: 0, waitingForRecord: 0 }, d.id);
  }

  // A task cancelled with a vote on it leaves no pending credit behind.
  for (const v of [b, cc]) await v.s.close(); // so that `a` gets a replica of it
  const u = (await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: { x: 3 },
    verification: quorum,
  })).body;
  const la2 = await a.lease();
  assert.equal((await a.complete(la2, { x: 3 })).ok, true);
  assert.equal((await credit("a")).pending.tasks, 1);
  assert.equal((await c.call("POST", `/tasks/${u.id}/cancel`)).status, 200);
  assert.equal((await credit("a")).pending.tasks, 0);
  assert.deepEqual((await credit("never-seen")).checked, { tasks: 0, computeMs: 0 });
  await a.s.close();
});
