// deno-lint-ignore-file no-explicit-any -- JSON messages in tests
import assert from "node:assert/strict";
import type { Ctx } from "../coordinator/context.ts";
import { deadlineOf } from "../coordinator/verify/quorum.ts";
import { loadHandler } from "../handlers/mod.ts";
import { DEFAULTS, type Task } from "../shared/protocol.ts";
import { eventually, quorumOf2, submitEcho, testCoordinator } from "./_helpers.ts";
import { connectSocket } from "./_socket.ts";

/** A browser-kind volunteer on a raw socket; a liar returns a consistent wrong answer. */
function volunteer(url: string, id: string, liar: boolean, stats: { leases: number }) {
  const ws = new WebSocket(url.replace(/^http/, "ws") + "/api/ws");
  let ref = 0;
  ws.onopen = () =>
    ws.send(
      JSON.stringify({
        type: "hello",
        workerId: id,
        kind: "browser",
        slots: 2,
        donorId: `donor-${id}`,
      }),
    );
  ws.onmessage = async (e) => {
    const m = JSON.parse(e.data);
    if (m.type !== "lease") return;
    stats.leases++;
    const { task } = m.lease;
    const handler = await loadHandler(task.type);
    let result: any = await handler.run(handler.params.parse(task.params), {
      signal: new AbortController().signal,
      progress: () => {},
      log: console,
      taskId: task.id,
      attempt: 1,
    });
    // Colluding liars: all of them give the same wrong answer, the hardest case for a quorum.
    if (liar) {
      result = task.type === "primes.count"
        ? { ...result, count: result.count + 1 }
        : { ...result, lie: 1 };
    }
    ws.send(
      JSON.stringify({
        type: "complete",
        ref: ++ref,
        taskId: m.lease.taskId,
        leaseId: m.lease.leaseId,
        result,
      }),
    );
  };
  return ws;
}

/** pi(n) by trial division: the test's own, independent answer. */
function countPrimes(from: number, to: number): number {
  let n = 0;
  for (let x = Math.max(2, from); x < to; x++) {
    let prime = true;
    for (let d = 2; d * d <= x; d++) if (x % d === 0) prime = false;
    if (prime) n++;
  }
  return n;
}

Deno.test("with 20% lying volunteers and quorum on, no wrong result is accepted and liars lose their work", async () => {
  await using c = await testCoordinator();
  const ranges = Array.from({ length: 120 }, (_, i) => ({ from: i * 1000, to: i * 1000 + 1000 }));
  const submitted = (await c.call("POST", "/tasks", {
    tasks: ranges.map((params) => ({ type: "primes.count", params })),
  })).body.tasks;
  assert.equal(
    submitted[0].verification.mode,
    "quorum",
    "deterministic handlers verify by default",
  );

  const stats = new Map<string, { leases: number }>();
  const sockets = Array.from({ length: 10 }, (_, i) => {
    const id = `vol-${i}`;
    stats.set(id, { leases: 0 });
    return volunteer(c.url, id, i < 2, stats.get(id)!);
  });
  try {
    const ids = submitted.map((t: any) => t.id);
    const final = await eventually(
      async () => {
        const tasks = await Promise.all(
          ids.map(async (id: string) => (await c.call("GET", `/tasks/${id}`)).body),
        );
        return tasks.every((t) => ["completed", "failed"].includes(t.status)) ? tasks : null;
      },
      60_000,
      200,
    );
    let wrong = 0, completed = 0;
    for (const t of final!) {
      if (t.status !== "completed") continue;
      completed++;
      if (t.result.count !== countPrimes(t.params.from, t.params.to)) wrong++;
      assert.ok(t.claimedAt !== null && t.claimedAt <= t.completedAt);
      assert.ok(t.agreement.agreed >= 1 && t.agreement.of >= t.agreement.agreed);
    }
    assert.equal(wrong, 0, "no wrong result accepted");
    assert.ok(completed >= 110, `most tasks complete (${completed} of 120)`);

    // The liars are banned: their records show it, and they get no more work.
    for (const liar of ["vol-0", "vol-1"]) {
      const info = (await c.call("GET", `/workers/${liar}/stats`)).body;
      assert.equal(info.reputation.trust, "banned", `${liar}: ${JSON.stringify(info.reputation)}`);
    }
    const honest = (await c.call("GET", "/workers/vol-5/stats")).body;
    assert.ok(honest.reputation.agree > 0 && honest.reputation.disagree === 0);
    const before = stats.get("vol-0")!.leases + stats.get("vol-1")!.leases;
    await c.call("POST", "/tasks", {
      tasks: Array.from(
        { length: 40 },
        (_, i) => ({
          type: "primes.count",
          params: { from: 500_000 + i * 100, to: 500_100 + i * 100 },
        }),
      ),
    });
    const settled = await eventually(
      async () => {
        const st = (await c.call("GET", "/stats")).body.status;
        return st.pending === 0 && st.processing === 0 ? st : null;
      },
      30_000,
      100,
    );
    for (const n of Object.values(settled) as number[]) assert.ok(n >= 0, "no counter below zero");
    assert.equal(
      stats.get("vol-0")!.leases + stats.get("vol-1")!.leases,
      before,
      "banned liars get no work",
    );
  } finally {
    for (const s of sockets) s.close();
  }
});

Deno.test("a quorum task completes with the agreed result, records the disagreeing one, and never gives one worker two replicas", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const t = (await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: { x: 1 },
    verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 3, adaptive: false },
  })).body;
  assert.deepEqual(t.verification, {
    mode: "quorum",
    replicas: 2,
    agree: 2,
    maxReplicas: 3,
    adaptive: false,
  });
  const claim = async (w: string) =>
    (await c.call("POST", "/leases", { workerId: w, kind: "browser", max: 5 })).body.leases;
  const [a] = await claim("A");
  assert.equal((await claim("A")).length, 0, "A may not take the second replica");
  const [b] = await claim("B");
  assert.equal(b.taskId, t.id);
  assert.deepEqual(b.task.votes, [], "workers do not see other replicas' votes");
  await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: a.leaseId, result: { x: 1 } });
  const split = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: b.leaseId,
    result: { x: 2 },
  });
  assert.equal(split.body.status, "pending", "no agreement yet: one more replica");
  assert.equal(split.body.replicas, 3);
  const [cLease] = await claim("C");
  const done = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: cLease.leaseId,
    result: { x: 1 },
  });
  assert.equal(done.body.status, "completed");
  assert.deepEqual(done.body.result, { x: 1 });
  assert.deepEqual(done.body.agreement, { agreed: 2, of: 3 });
  assert.equal(done.body.votes.length, 3);
  assert.equal((await c.call("GET", "/workers/B/stats")).body.reputation.disagree, 1);
  assert.equal((await c.call("GET", "/workers/A/stats")).body.reputation.agree, 1);
});

Deno.test("a worker that released or failed a replica may take a slot of that task again: only a vote bars it", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const t = (await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: { x: 1 },
    backoffMs: 0,
    verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2, adaptive: false },
  })).body;
  const claim = async (w: string) =>
    (await c.call("POST", "/leases", { workerId: w, kind: "browser", max: 1 })).body.leases;
  // With two workers on a 2-of-2 task, a worker kept away after a hand-back stalls the task.
  const [first] = await claim("A");
  await c.call("POST", `/tasks/${t.id}/release`, { leaseId: first.leaseId });
  const [again] = await claim("A");
  assert.equal(again?.taskId, t.id, "A may claim again after a release");
  const failed = await c.call("POST", `/tasks/${t.id}/fail`, {
    leaseId: again.leaseId,
    error: { code: "handler", message: "try again", retryable: true },
  });
  assert.equal(failed.status, 200, JSON.stringify(failed.body));
  let third: any;
  await eventually(async () => ([third] = await claim("A")).length === 1, 5000);
  assert.equal(third.taskId, t.id, "A may claim again after a failure");
  await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: third.leaseId, result: { x: 1 } });
  assert.equal((await claim("A")).length, 0, "a voter may not take the second replica");
  const [b] = await claim("B");
  const done = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: b.leaseId,
    result: { x: 1 },
  });
  assert.equal(done.body.status, "completed");
});

Deno.test("replicas that never agree fail the task with a verification error", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const t = (await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: {},
    verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2 },
  })).body;
  for (const [w, v] of [["A", 1], ["B", 2]] as const) {
    const [l] = (await c.call("POST", "/leases", { workerId: w, kind: "browser" })).body.leases;
    await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: l.leaseId, result: { v } });
  }
  const failed = (await c.call("GET", `/tasks/${t.id}`)).body;
  assert.equal(failed.status, "failed");
  assert.equal(failed.error.code, "verification");
});

Deno.test("a trusted (operator) worker's single result is accepted under adaptive quorum", async () => {
  await using c = await testCoordinator();
  const t =
    (await c.call("POST", "/tasks", { type: "primes.count", params: { from: 0, to: 100 } })).body;
  const [l] = (await c.call("POST", "/leases", { workerId: "server-1", kind: "deno" })).body.leases;
  const done = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: l.leaseId,
    result: { from: 0, to: 100, count: 25 },
  });
  assert.equal(done.body.status, "completed");
  assert.deepEqual(done.body.agreement, { agreed: 1, of: 1 });
  const stats = (await c.call("GET", "/stats")).body;
  assert.equal(
    stats.status.pending + stats.status.processing,
    0,
    "the unused replica slot is gone",
  );
});

Deno.test("a result that does not match the type's result schema fails that attempt with a retryable validation error", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", {
    type: "demo.sleep",
    params: { ms: 0 },
    backoffMs: 0,
  })).body;
  const [l] = (await c.call("POST", "/leases", { workerId: "server-1", kind: "deno" })).body.leases;
  const wrong = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: l.leaseId,
    result: { totally: "wrong" },
  });
  assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
  assert.equal(wrong.body.error.code, "validation");
  assert.equal(wrong.body.error.field, "result");
  const after = (await c.call("GET", `/tasks/${t.id}`)).body;
  assert.equal(after.status, "pending", "one bad result does not doom the task");
  assert.equal(after.result, null);
  assert.equal(after.error.code, "validation");
  assert.equal(after.error.retryable, true);
  assert.equal(after.history[0].outcome, "failed");
  const again = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: l.leaseId,
    result: { totally: "wrong" },
  });
  assert.equal(again.status, 409, "the refused lease is over");

  const [l2] = (await c.call("POST", "/leases", { workerId: "server-2", kind: "deno" })).body
    .leases;
  const ok = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: l2.leaseId,
    result: { sleptMs: 0, attempt: 2 },
  });
  assert.equal(ok.body.status, "completed");
  assert.deepEqual(ok.body.result, { sleptMs: 0, attempt: 2 });
});

Deno.test("a batch report and a socket complete refuse a result that does not match the schema", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", {
    type: "primes.count",
    params: { from: 0, to: 100 },
    maxAttempts: 1,
  })).body;
  const [l] = (await c.call("POST", "/leases", { workerId: "server-1", kind: "deno" })).body.leases;
  const rep = await c.call("POST", "/leases/report", {
    items: [{ taskId: t.id, leaseId: l.leaseId, result: { totally: "wrong" } }],
  });
  assert.deepEqual(rep.body.outcomes, [{ taskId: t.id, ok: false, code: "validation" }]);
  const failed = (await c.call("GET", `/tasks/${t.id}`)).body;
  assert.equal(failed.status, "failed", "its only attempt failed");
  assert.equal(failed.error.code, "validation");

  const t2 = (await c.call("POST", "/tasks", {
    type: "primes.count",
    params: { from: 0, to: 100 },
    maxAttempts: 1,
  })).body;
  const ws = new WebSocket(c.url.replace(/^http/, "ws") + "/api/ws");
  const acks: any[] = [];
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "lease") {
      ws.send(JSON.stringify({
        type: "complete",
        ref: 1,
        taskId: m.lease.taskId,
        leaseId: m.lease.leaseId,
        result: { count: "many" },
      }));
    }
    if (m.type === "ack") acks.push(m);
  };
  ws.onopen = () =>
    ws.send(JSON.stringify({ type: "hello", workerId: "server-3", kind: "deno", slots: 1 }));
  try {
    await eventually(() => acks.length > 0);
    assert.equal(acks[0].ok, false);
    assert.equal(acks[0].code, "validation");
    assert.equal((await c.call("GET", `/tasks/${t2.id}`)).body.error.code, "validation");
  } finally {
    ws.close();
  }
});

Deno.test("a replica with a result that does not match the schema is not a vote", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const t = (await c.call("POST", "/tasks", {
    type: "primes.count",
    params: { from: 0, to: 100 },
    backoffMs: 0,
    verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 4, adaptive: false },
  })).body;
  const claim = async (w: string) =>
    (await c.call("POST", "/leases", { workerId: w, kind: "browser" })).body.leases[0];
  const a = await claim("A");
  const b = await claim("B");
  const bad = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: a.leaseId,
    result: { totally: "wrong" },
  });
  assert.equal(bad.status, 400);
  const mid = (await c.call("GET", `/tasks/${t.id}`)).body;
  assert.equal(mid.votes.length, 0, "the invalid result did not vote");
  const good = { from: 0, to: 100, count: 25 };
  await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: b.leaseId, result: good });
  const d = await eventually(() => claim("D"));
  const done = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: d.leaseId,
    result: good,
  });
  assert.equal(done.body.status, "completed");
  assert.deepEqual(done.body.agreement, { agreed: 2, of: 2 });
  assert.deepEqual(done.body.result, good);
});

/** Claims for a browser volunteer that accepts only demo.echo (no spot checks exist for it). */
async function claimAs(c: { call: any }, workerId: string, kind = "browser") {
  const res = await c.call("POST", "/leases", { workerId, kind, types: ["demo.echo"] });
  return res.body.leases[0];
}

Deno.test("identical results from newcomers wait for a voter with a record, then fail unverified at the deadline", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: { x: 1 },
    verification: {
      mode: "quorum",
      replicas: 2,
      agree: 2,
      maxReplicas: 4,
      adaptive: false,
      deadlineMs: 1500,
    },
  })).body;
  for (const w of ["N1", "N2"]) {
    const l = await claimAs(c, w);
    await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: l.leaseId, result: { x: 1 } });
  }
  const waiting = (await c.call("GET", `/tasks/${t.id}`)).body;
  assert.equal(waiting.status, "pending", JSON.stringify(waiting));
  assert.match(waiting.waiting, /voter with a record/);
  assert.equal(waiting.error, null);
  assert.ok(waiting.verifyBy > Date.now() && waiting.verifyBy <= Date.now() + 1500);
  assert.equal(await claimAs(c, "N3"), undefined, "another newcomer's vote could not decide it");

  const failed = await eventually(async () => {
    const x = (await c.call("GET", `/tasks/${t.id}`)).body;
    return x.status === "failed" ? x : null;
  }, 5000);
  assert.equal(failed.error.code, "unverified");
  assert.match(failed.error.message, /record/);
  assert.doesNotMatch(failed.error.message, /did not agree/);
  assert.equal(failed.waiting, null);
  assert.equal((await c.call("GET", "/stats")).body.status.failed, 1);
  // Listed where it now is: with the failed tasks, no longer with the open ones.
  const listed = async (status: string) =>
    (await c.call("GET", `/tasks?status=${status}`)).body.tasks.map((x: { id: string }) => x.id);
  assert.deepEqual(await listed("failed"), [t.id]);
  assert.deepEqual(await listed("pending"), []);
});

Deno.test("a task waiting for a voter with a record completes when one votes with the group", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: { x: 1 },
    verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2, adaptive: false },
  })).body;
  for (const w of ["N1", "N2"]) {
    const l = await claimAs(c, w);
    await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: l.leaseId, result: { x: 1 } });
  }
  const waiting = (await c.call("GET", `/tasks/${t.id}`)).body;
  assert.match(waiting.waiting, /record/);
  const deadline = waiting.verifyBy - Date.now();
  assert.ok(
    deadline > 590_000 && deadline <= 600_000,
    `the default deadline is 10 min (${deadline})`,
  );
  const op = await claimAs(c, "server-1", "deno");
  assert.equal(op.taskId, t.id, "an operator's worker has a record: it gets the open slot");
  const done = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: op.leaseId,
    result: { x: 1 },
  });
  assert.equal(done.body.status, "completed");
  assert.deepEqual(done.body.agreement, { agreed: 3, of: 3 });
  assert.equal(done.body.waiting, null);
});

Deno.test("a newcomer passed over for a waiting task gets its slot once it has earned a record", async () => {
  await using c = await testCoordinator();
  const quorum = quorumOf2(2);
  const t = await submitEcho(c, quorum);
  for (const w of ["N1", "N2"]) {
    const l = await claimAs(c, w);
    await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: l.leaseId, result: { x: 1 } });
  }
  assert.match((await c.call("GET", `/tasks/${t.id}`)).body.waiting, /record/);
  assert.equal(await claimAs(c, "N3"), undefined, "a newcomer's vote could not decide it");
  // N3 earns its record: two agreements beside an operator's worker.
  for (const x of [2, 3]) {
    const other = (await c.call("POST", "/tasks", {
      type: "demo.echo",
      params: { x },
      priority: 5,
      verification: quorum,
    })).body;
    for (const [w, kind] of [["N3", "browser"], ["server-1", "deno"]]) {
      const l = await claimAs(c, w, kind);
      assert.equal(l?.taskId, other.id, `${w} takes task ${x}`);
      await c.call("POST", `/tasks/${other.id}/complete`, { leaseId: l.leaseId, result: { x } });
    }
    assert.equal((await c.call("GET", `/tasks/${other.id}`)).body.status, "completed");
  }
  const l = await eventually(() => claimAs(c, "N3"), 5000, 100);
  assert.equal(l.taskId, t.id, "established now: N3 gets the waiting task's slot");
  const done = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: l.leaseId,
    result: { x: 1 },
  });
  assert.equal(done.body.status, "completed");
});

Deno.test("deadlineOf() takes the task's deadline, else its type's, else the 10-minute default", () => {
  const quorum = { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2, adaptive: true } as const;
  const ctx = {
    handlers: new Map([["slow.type", { verification: { ...quorum, deadlineMs: 7_200_000 } }]]),
  } as unknown as Ctx;
  const task = (type: string, deadlineMs?: number) =>
    ({ type, verification: { ...quorum, ...(deadlineMs ? { deadlineMs } : {}) } }) as Task;
  assert.equal(deadlineOf(ctx, task("slow.type", 5_000)), 5_000);
  assert.equal(deadlineOf(ctx, task("slow.type")), 7_200_000);
  assert.equal(deadlineOf(ctx, task("demo.echo")), DEFAULTS.verificationDeadlineMs);
  assert.equal(DEFAULTS.verificationDeadlineMs, 600_000);
});

Deno.test("a waiting task offers one more slot to voters with a record while they disagree, past maxReplicas", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: { x: 1 },
    verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2, adaptive: false },
  })).body;
  const vote = async (w: string, kind: string, x: number) => {
    const l = await claimAs(c, w, kind);
    assert.equal(l?.taskId, t.id, `${w} gets a slot`);
    return (await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: l.leaseId, result: { x } }))
      .body;
  };
  await vote("N1", "browser", 1);
  await vote("N2", "browser", 1);
  const split = await vote("S1", "deno", 2);
  assert.equal(split.status, "pending");
  assert.match(split.waiting, /record/, "still only newcomers in the matching group");
  assert.equal(split.replicas, 4);
  const done = await vote("S2", "deno", 1);
  assert.equal(done.status, "completed");
  assert.deepEqual(done.result, { x: 1 });
  assert.deepEqual(done.agreement, { agreed: 3, of: 4 });
});

Deno.test("a 2-of-2 task costs 17 set/delete mutations from submit to decision: who holds its slots is in its record, and a deciding result is kept once", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const n = 20;
  const stats = async () => (await c.call("GET", "/stats")).body.committer.mutations as number;
  // Each worker's first claim records the worker itself: not the tasks' cost.
  for (const w of ["A", "B"]) await c.call("POST", "/leases", { workerId: w, max: 1 });
  const before = await stats();
  const ids = (await c.call("POST", "/tasks", {
    tasks: Array.from({ length: n }, (_, i) => ({
      type: "demo.echo",
      params: { i },
      verification: quorumOf2(2),
    })),
  })).body.tasks.map((t: any) => t.id);
  for (const w of ["A", "B"]) {
    const { leases } = (await c.call("POST", "/leases", { workerId: w, max: n })).body;
    assert.equal(leases.length, n, `${w} takes one slot of each task`);
    for (const l of leases) {
      const r = await c.call("POST", `/tasks/${l.taskId}/complete`, {
        leaseId: l.leaseId,
        result: { ok: l.task.params.i },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  }
  const { body } = await c.call("POST", "/tasks/await", { ids, waitMs: 0 });
  assert.ok(body.tasks.every((t: any) => t.status === "completed"));
  // Submit 4 (record, 2 slots, list entry), 2 claims × 3 (slot out, lease in, record), the first
  // end 3 (lease out, record, its result kept for a later decision), the deciding end 4 (lease
  // out, record, list entry moved). Was 20: 2 holder markers, and the deciding result kept twice.
  assert.equal((await stats()) - before, 17 * n);
});

Deno.test("never two replicas of a task to one donor, even from two of its workers", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const t = await submitEcho(c, quorumOf2(2));
  const sockets: Array<Awaited<ReturnType<typeof connectSocket>>> = [];
  const worker = async (workerId: string, donorId: string) => {
    const s = await connectSocket(c.url);
    sockets.push(s);
    s.send({ type: "hello", workerId, kind: "browser", slots: 1, donorId });
    return s;
  };
  const lease = (m: any) => m.type === "lease";
  try {
    const first = await worker("d1-a", "donor-1");
    assert.equal((await first.next(lease)).lease.taskId, t.id);
    const second = await worker("d1-b", "donor-1");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(second.inbox.some(lease), false, "a second worker of the same donor gets no slot");
    const other = await worker("d2-a", "donor-2");
    assert.equal((await other.next(lease)).lease.taskId, t.id);
  } finally {
    for (const s of sockets) await s.close();
  }
});
