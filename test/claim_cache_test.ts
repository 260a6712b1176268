/**
 * A coordinator remembers the records it wrote (a task it made ready, a lease it granted) so
 * that a claim and a completion read nothing from KV. What it remembers is never trusted: the
 * intents still check the ready entry and the lease, so a record changed by another coordinator
 * on the same store sends the request down the careful path, with the same answers as before.
 */
import assert from "node:assert/strict";
import { type TestCoordinator, testCoordinator } from "./_helpers.ts";
import { connectSocket } from "./_socket.ts";

/** Socket workers that complete every lease at once, echoing its params. */
function echoingWorkers(url: string, ids: string[], slots: number) {
  return Promise.all(ids.map(async (id) => {
    const s = await connectSocket(url);
    s.send({ type: "hello", workerId: id, kind: "deno", slots });
    s.ws.addEventListener("message", (e) => {
      const m = JSON.parse(e.data);
      if (m.type !== "lease") return;
      s.send({
        type: "complete",
        ref: s.ref(),
        taskId: m.lease.taskId,
        leaseId: m.lease.leaseId,
        result: m.lease.task.params,
      });
    });
    return s;
  }));
}

/** Submits `n` 2-of-2 echo tasks and returns the stats once all completed (or 30 s passed). */
async function runQuorumTasks(c: TestCoordinator, n: number) {
  const tasks = Array.from({ length: n }, (_, i) => ({
    type: "demo.echo",
    params: { n: i },
    verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2, adaptive: false },
  }));
  const sub = await c.call("POST", "/tasks", { tasks });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));
  const deadline = Date.now() + 30_000;
  let stats;
  do {
    await new Promise((r) => setTimeout(r, 50));
    stats = (await c.call("GET", "/stats")).body;
  } while ((stats.status.completed ?? 0) < n && Date.now() < deadline);
  assert.equal(stats.status.completed, n, JSON.stringify(stats.status));
  return stats;
}

Deno.test("a socket completion on the claiming coordinator is accepted after another coordinator moved the lease", async () => {
  await using a = await testCoordinator();
  await using b = await testCoordinator({ db: a.db });
  const sub = await a.call("POST", "/tasks", { type: "demo.echo", params: { n: 1 } });
  const s = await connectSocket(a.url);
  try {
    s.send({ type: "hello", workerId: "w1", kind: "deno", slots: 1 });
    const l = (await s.next((m) => m.type === "lease")).lease;
    assert.equal(l.taskId, sub.body.id);
    // B rewrites the lease record: A's remembered versionstamp is now stale.
    const hb = await b.call("POST", `/tasks/${l.taskId}/heartbeat`, { leaseId: l.leaseId });
    assert.equal(hb.status, 200, JSON.stringify(hb.body));
    s.send({ type: "complete", ref: 1, taskId: l.taskId, leaseId: l.leaseId, result: { n: 1 } });
    const ack = await s.next((m) => m.type === "ack" && m.ref === 1);
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const read = await b.call("GET", `/tasks/${l.taskId}`);
    assert.equal(read.body.status, "completed");
    assert.deepEqual(read.body.result, { n: 1 });
  } finally {
    await s.close();
  }
});

Deno.test("a socket report is refused once its lease expired and another coordinator re-leased the task", async () => {
  await using a = await testCoordinator();
  await using b = await testCoordinator({ db: a.db });
  const sub = await a.call("POST", "/tasks", {
    type: "demo.echo",
    params: { n: 2 },
    leaseMs: 1000,
    maxAttempts: 3,
  });
  const s = await connectSocket(a.url);
  try {
    s.send({ type: "hello", workerId: "slow", kind: "deno", slots: 1 });
    const first = (await s.next((m) => m.type === "lease")).lease;
    assert.equal(first.taskId, sub.body.id);
    s.send({ type: "credit", slots: 0 });
    // The slow worker never heartbeats: the lease expires and B hands the task to another.
    let second;
    for (let i = 0; i < 60 && !second; i++) {
      const c = await b.call("POST", "/leases", { workerId: "fast", max: 1, waitMs: 200 });
      second = c.body.leases[0];
    }
    assert.ok(second, "the expired task was never re-leased");
    assert.notEqual(second.leaseId, first.leaseId);
    s.send({
      type: "complete",
      ref: 1,
      taskId: first.taskId,
      leaseId: first.leaseId,
      result: { n: 2 },
    });
    const stale = await s.next((m) => m.type === "ack" && m.ref === 1);
    assert.equal(stale.ok, false, JSON.stringify(stale));
    assert.equal(stale.code, "stale_lease");
    const fresh = await b.call("POST", `/tasks/${second.taskId}/complete`, {
      leaseId: second.leaseId,
      result: { n: 2 },
    });
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.equal(fresh.body.attempts, 2);
  } finally {
    await s.close();
  }
});

Deno.test("a socket report naming one task with the lease of another is refused and ends neither", async () => {
  await using c = await testCoordinator();
  await c.call("POST", "/tasks", {
    tasks: [{ type: "demo.echo", params: { n: 1 } }, {
      type: "demo.echo",
      params: { n: 2 },
    }],
  });
  const s = await connectSocket(c.url);
  try {
    s.send({ type: "hello", workerId: "mixer", kind: "deno", slots: 2 });
    const x = (await s.next((m) => m.type === "lease")).lease;
    const y = (await s.next((m) => m.type === "lease" && m.lease.leaseId !== x.leaseId)).lease;
    s.send({ type: "complete", ref: 1, taskId: x.taskId, leaseId: y.leaseId, result: { n: 0 } });
    const wrong = await s.next((m) => m.type === "ack" && m.ref === 1);
    assert.equal(wrong.ok, false, JSON.stringify(wrong));
    for (const l of [x, y]) {
      const t = await c.call("GET", `/tasks/${l.taskId}`);
      assert.notEqual(t.body.status, "completed", JSON.stringify(t.body));
    }
  } finally {
    await s.close();
  }
});

Deno.test("replicas of one task claimed and reported side by side on one coordinator never fail a check", async () => {
  await using c = await testCoordinator();
  // Answers every lease at once, so claims and reports of sibling replicas overlap.
  const workers = await echoingWorkers(c.url, ["rA", "rB"], 4);
  try {
    const before = (await c.call("GET", "/stats")).body.committer.conflicts;
    const stats = await runQuorumTasks(c, 200);
    // Each failed check split the commit it shared; three in four tasks had one.
    assert.equal(stats.committer.conflicts - before, 0);
  } finally {
    for (const s of workers) await s.close();
  }
});

Deno.test("a 2-of-2 quorum task is decided without reading its leases or slots: its record counts them", async () => {
  await using c = await testCoordinator();
  // Records every range read of one task's leases (["lease", id]) or ready slots (["ready", …, id]).
  const taskReads: string[] = [];
  const kv = c.ctx.kv;
  c.ctx.kv = new Proxy(kv, {
    get(target, p) {
      const v = Reflect.get(target, p, target);
      if (typeof v !== "function") return v;
      if (p !== "list") return v.bind(target);
      return (selector: { prefix?: Deno.KvKey }, ...rest: unknown[]) => {
        const prefix = selector.prefix ?? [];
        const perTask = (prefix[0] === "lease" && prefix.length === 2) ||
          (prefix[0] === "ready" && prefix.length === 6);
        if (perTask) taskReads.push(JSON.stringify(prefix));
        return kv.list(selector as Deno.KvListSelector, ...(rest as [Deno.KvListOptions]));
      };
    },
  });
  const workers = await echoingWorkers(c.url, ["qA", "qB"], 2);
  try {
    await runQuorumTasks(c, 20);
    assert.deepEqual(taskReads, []);
    // What the skipped reads would have cleaned up is not there: no lease, no ready slot is left.
    assert.equal((await Array.fromAsync(kv.list({ prefix: ["lease"] }))).length, 0);
    assert.equal((await Array.fromAsync(kv.list({ prefix: ["ready"] }))).length, 0);
  } finally {
    for (const s of workers) await s.close();
    c.ctx.kv = kv;
  }
});
