// deno-lint-ignore-file no-explicit-any -- JSON messages in tests
import assert from "node:assert/strict";
import { eventually, sleep, testCoordinator } from "./_helpers.ts";
import { connectSocket } from "./_socket.ts";

const connect = (url: string) => connectSocket(url);

const echo = (n: number, extra: Record<string, unknown> = {}) => ({
  tasks: Array.from({ length: n }, (_, i) => ({ type: "demo.echo", params: { i }, ...extra })),
});

Deno.test("the socket pushes no more leases than the slots announced, and more as slots free", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  await c.call("POST", "/tasks", echo(5));
  const s = await connect(c.url);
  s.send({ type: "hello", workerId: "sock-1", kind: "deno", slots: 2 });
  await s.next((m) => m.type === "welcome");
  const a = await s.next((m) => m.type === "lease");
  const b = await s.next((m) => m.type === "lease");
  await sleep(200);
  assert.equal(
    s.inbox.filter((m) => m.type === "lease").length,
    0,
    "a third lease would overrun the credit",
  );
  const ref = s.ref();
  s.send({
    type: "complete",
    ref,
    taskId: a.lease.taskId,
    leaseId: a.lease.leaseId,
    result: "done",
  });
  const ack = await s.next((m) => m.type === "ack" && m.ref === ref);
  assert.equal(ack.ok, true);
  const third = await s.next((m) => m.type === "lease");
  assert.notEqual(third.lease.taskId, b.lease.taskId);
  const hbRef = s.ref();
  s.send({ type: "heartbeat", ref: hbRef, taskId: b.lease.taskId, leaseId: b.lease.leaseId });
  const hb = await s.next((m) => m.type === "ack" && m.ref === hbRef);
  assert.ok(hb.ok && hb.expiresAt > Date.now());
  assert.equal((await c.call("GET", `/tasks/${a.lease.taskId}`)).body.result, "done");
  await s.close();
});

Deno.test("an idle socket gets new work pushed at once, without polling", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const s = await connect(c.url);
  s.send({ type: "hello", workerId: "idle", kind: "browser", slots: 1 });
  await s.next((m) => m.type === "welcome");
  await sleep(300);
  const t0 = Date.now();
  const t = (await c.call("POST", "/tasks", { type: "demo.echo", params: {} })).body;
  const lease = await s.next((m) => m.type === "lease");
  assert.equal(lease.lease.taskId, t.id);
  assert.ok(Date.now() - t0 < 500, `pushed after ${Date.now() - t0} ms`);
  await s.close();
});

Deno.test("closing a socket hands its leases back at once", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  await c.call("POST", "/tasks", echo(3, { leaseMs: 60_000 }));
  const s = await connect(c.url);
  s.send({ type: "hello", workerId: "leaver", kind: "browser", slots: 3 });
  for (let i = 0; i < 3; i++) await s.next((m) => m.type === "lease");
  assert.equal((await c.call("GET", "/stats")).body.status.processing, 3);
  await s.close();
  await eventually(async () => (await c.call("GET", "/stats")).body.status.pending === 3, 2000);
  const tasks = (await c.call("GET", "/tasks?status=pending")).body.tasks;
  assert.ok(tasks.every((t: any) => t.attempts === 0 && t.history[0].outcome === "released"));
});

Deno.test("a credit of 0 pauses delivery; stale and foreign leases are refused", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const s = await connect(c.url);
  s.send({ type: "hello", workerId: "pauser", kind: "browser", slots: 1 });
  await s.next((m) => m.type === "welcome");
  s.send({ type: "credit", slots: 0 });
  await sleep(100);
  await c.call("POST", "/tasks", echo(2));
  await sleep(300);
  assert.equal(s.inbox.filter((m) => m.type === "lease").length, 0, "paused: nothing pushed");
  s.send({ type: "credit", slots: 1 });
  const l = await s.next((m) => m.type === "lease");

  // A lease held by someone else cannot be completed through this socket.
  const [other] = (await c.call("POST", "/leases", { workerId: "http-worker" })).body.leases;
  const ref = s.ref();
  s.send({ type: "complete", ref, taskId: other.taskId, leaseId: other.leaseId, result: 1 });
  const refused = await s.next((m) => m.type === "ack" && m.ref === ref);
  assert.equal(refused.ok, false);
  assert.equal(refused.code, "stale_lease");
  assert.equal((await c.call("GET", `/tasks/${other.taskId}`)).body.status, "processing");

  // Completing twice: the second is refused (the socket no longer holds it), counted once.
  const r1 = s.ref(), r2 = s.ref();
  s.send({
    type: "complete",
    ref: r1,
    taskId: l.lease.taskId,
    leaseId: l.lease.leaseId,
    result: 1,
  });
  s.send({
    type: "complete",
    ref: r2,
    taskId: l.lease.taskId,
    leaseId: l.lease.leaseId,
    result: 2,
  });
  assert.equal((await s.next((m) => m.ref === r1)).ok, true);
  assert.equal((await s.next((m) => m.ref === r2)).ok, false);
  assert.equal((await c.call("GET", `/tasks/${l.lease.taskId}`)).body.result, 1);
  await s.close();
});

Deno.test("cancelling a task pushes cancel to the socket holding it", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const t = (await c.call("POST", "/tasks", { type: "demo.echo", params: {} })).body;
  const s = await connect(c.url);
  s.send({ type: "hello", workerId: "holder", kind: "deno", slots: 1 });
  const l = await s.next((m) => m.type === "lease");
  await c.call("POST", `/tasks/${t.id}/cancel`);
  const cancel = await s.next((m) => m.type === "cancel");
  assert.equal(cancel.leaseId, l.lease.leaseId);
  await s.close();
});

Deno.test("bad socket messages get an error naming the field; no hello closes with 4000", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const s = await connect(c.url);
  s.send("not json");
  assert.equal((await s.next((m) => m.type === "error")).code, "invalid_json");
  s.send({ type: "hello", workerId: "x", kind: "martian", slots: 1 });
  const e = await s.next((m) => m.type === "error");
  assert.equal(e.code, "validation");
  assert.equal(e.field, "kind");
  s.send({ type: "credit", slots: 1 });
  const closed = await s.closed;
  assert.equal(closed.code, 4000);
  assert.equal((await c.call("GET", "/health")).status, 200, "the coordinator is fine");
});

Deno.test("a hello with another protocol version is closed with 4005 telling the worker to upgrade", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const s = await connect(c.url);
  s.send({ type: "hello", protocol: 1, workerId: "old", kind: "deno", slots: 1 });
  const closed = await s.closed;
  assert.equal(closed.code, 4005);
  assert.match(closed.reason, /speaks protocol 1, the coordinator 2: upgrade the worker/);
  const current = await connect(c.url);
  current.send({ type: "hello", protocol: 2, workerId: "new", kind: "deno", slots: 1 });
  assert.equal((await current.next((m) => m.type === "welcome")).workerId, "new");
  await current.close();
});

Deno.test("donor totals are kept for browser volunteers", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  await c.call("POST", "/tasks", echo(2));
  const s = await connect(c.url);
  s.send({ type: "hello", workerId: "tab-1", kind: "browser", slots: 2, donorId: "donor-abc" });
  for (let i = 0; i < 2; i++) {
    const l = await s.next((m) => m.type === "lease");
    const ref = s.ref();
    s.send({
      type: "complete",
      ref,
      taskId: l.lease.taskId,
      leaseId: l.lease.leaseId,
      result: i,
      runMs: 40,
    });
    await s.next((m) => m.ref === ref);
  }
  const donors = await eventually(async () => {
    const d = (await c.call("GET", "/donors")).body.donors;
    return d.length && d[0].completed === 2 ? d : null;
  });
  assert.equal(donors[0].id, "donor-abc");
  // Timed by the coordinator, not taken from runMs (donor_credit_test.ts pins how).
  assert.ok(donors[0].computeMs >= 0 && donors[0].computeMs < 5000, String(donors[0].computeMs));
  const w = (await c.call("GET", "/workers/tab-1/stats")).body;
  assert.equal(w.kind, "browser");
  await s.close();
});

Deno.test("a hello naming held leases re-attaches those of its worker (reports accepted, heartbeats go on) and refuses the others", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  await c.call("POST", "/tasks", echo(2));
  // Leased before this socket existed, as by a coordinator that has since restarted.
  const [mine] = (await c.call("POST", "/leases", { workerId: "back", max: 1 })).body.leases;
  const [theirs] = (await c.call("POST", "/leases", { workerId: "other", max: 1 })).body.leases;
  const s = await connect(c.url);
  s.send({
    type: "hello",
    workerId: "back",
    kind: "deno",
    slots: 2,
    leases: [mine, theirs, { taskId: mine.taskId, leaseId: "01NOTALEASE" }].map((l) => ({
      taskId: l.taskId,
      leaseId: l.leaseId,
    })),
  });
  const welcome = await s.next((m) => m.type === "welcome");
  assert.deepEqual(welcome.refused.sort(), [theirs.leaseId, "01NOTALEASE"].sort());
  const hb = s.ref();
  s.send({ type: "heartbeat", ref: hb, taskId: mine.taskId, leaseId: mine.leaseId });
  assert.equal((await s.next((m) => m.type === "ack" && m.ref === hb)).ok, true);
  const stolen = s.ref();
  s.send({
    type: "complete",
    ref: stolen,
    taskId: theirs.taskId,
    leaseId: theirs.leaseId,
    result: 1,
  });
  assert.equal((await s.next((m) => m.type === "ack" && m.ref === stolen)).code, "stale_lease");
  const done = s.ref();
  s.send({ type: "complete", ref: done, taskId: mine.taskId, leaseId: mine.leaseId, result: 7 });
  assert.equal((await s.next((m) => m.type === "ack" && m.ref === done)).ok, true);
  const t = (await c.call("GET", `/tasks/${mine.taskId}`)).body;
  assert.equal(t.status, "completed");
  assert.deepEqual(t.history.map((h: any) => [h.workerId, h.outcome]), [["back", "completed"]]);
  assert.equal((await c.call("GET", `/tasks/${theirs.taskId}`)).body.workerId, "other");
  await s.close();
});
