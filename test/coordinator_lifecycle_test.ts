import assert from "node:assert/strict";
import { eventually, sleep, testCoordinator } from "./_helpers.ts";

const echo = (i = 0, extra: Record<string, unknown> = {}) => ({
  type: "demo.echo",
  params: { i },
  ...extra,
});

Deno.test("claim hands out the highest priority first, then FIFO", async () => {
  await using c = await testCoordinator();
  const low = (await c.call("POST", "/tasks", echo(1, { priority: -5 }))).body;
  const a = (await c.call("POST", "/tasks", echo(2, { priority: 10 }))).body;
  const b = (await c.call("POST", "/tasks", echo(3, { priority: 10 }))).body;
  const mid = (await c.call("POST", "/tasks", echo(4))).body;
  const res = await c.call("POST", "/leases", { workerId: "w", max: 10 });
  assert.deepEqual(res.body.leases.map((l: { taskId: string }) => l.taskId), [
    a.id,
    b.id,
    mid.id,
    low.id,
  ]);
});

Deno.test("the same idempotency key returns the same task, never a duplicate", async () => {
  await using c = await testCoordinator();
  const first = await c.call("POST", "/tasks", echo(1, { idempotencyKey: "order-42" }));
  const again = await c.call("POST", "/tasks", echo(1, { idempotencyKey: "order-42" }));
  assert.equal(first.status, 201);
  assert.equal(again.status, 200);
  assert.equal(again.body.id, first.body.id);
  assert.deepEqual(again.body.params, { i: 1 });
  const batch = await c.call("POST", "/tasks", {
    tasks: [
      echo(3, { idempotencyKey: "k1" }),
      echo(1, { idempotencyKey: "order-42" }),
      echo(3, { idempotencyKey: "k1" }),
    ],
  });
  assert.equal(batch.body.tasks[1].id, first.body.id);
  assert.equal(batch.body.tasks[0].id, batch.body.tasks[2].id);
  // Racing submissions with one key make one task.
  const racing = await Promise.all(
    Array.from(
      { length: 20 },
      () => c.call("POST", "/tasks", echo(7, { idempotencyKey: "race" })),
    ),
  );
  assert.equal(new Set(racing.map((r) => r.body.id)).size, 1);
  // Racing with other params: one wins, the others hear the key is taken (409).
  const differing = await Promise.all(
    Array.from(
      { length: 10 },
      (_, i) => c.call("POST", "/tasks", echo(i, { idempotencyKey: "race-2" })),
    ),
  );
  assert.deepEqual(differing.map((r) => r.status).sort(), [201, ...Array(9).fill(409)]);
  assert.ok(
    differing.every((r) => r.status === 201 || r.body.error.code === "idempotency_conflict"),
  );
  const stats = (await c.call("GET", "/stats")).body;
  assert.equal(stats.status.pending, 4, "order-42, k1, race and race-2: four tasks");
});

Deno.test("an expired lease returns the task to pending within about a second, attempts counted", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", echo(1, { leaseMs: 1000, backoffMs: 0 }))).body;
  const [lease] = (await c.call("POST", "/leases", { workerId: "sleepy" })).body.leases;
  assert.equal((await c.call("GET", `/tasks/${t.id}`)).body.status, "processing");
  const back = await eventually(async () => {
    const cur = (await c.call("GET", `/tasks/${t.id}`)).body;
    return cur.status === "pending" ? cur : null;
  }, 4000);
  const late = Date.now() - lease.expiresAt;
  assert.ok(late < 1000, `requeued ${late} ms after expiry`);
  assert.equal(back.attempts, 1);
  assert.equal(back.history[0].outcome, "expired");
  assert.equal(back.error.code, "expired");
});

Deno.test("a stale holder's completion gets 409 and its result is discarded", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", echo(1, { leaseMs: 1000, backoffMs: 0 }))).body;
  const [old] = (await c.call("POST", "/leases", { workerId: "slow" })).body.leases;
  const [fresh] = (await c.call("POST", "/leases", { workerId: "fast", waitMs: 5000 })).body.leases;
  assert.equal(fresh.taskId, t.id);
  assert.equal(fresh.attempt, 2);
  const stale = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: old.leaseId,
    result: "stale",
  });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.error.code, "stale_lease");
  const hb = await c.call("POST", `/tasks/${t.id}/heartbeat`, { leaseId: old.leaseId });
  assert.equal(hb.status, 409);
  const ok = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: fresh.leaseId,
    result: "fresh",
  });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.result, "fresh");
  const late = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: old.leaseId,
    result: "stale",
  });
  assert.equal(late.status, 409);
  assert.equal((await c.call("GET", `/tasks/${t.id}`)).body.result, "fresh");
});

Deno.test("a repeated completion with the same lease is idempotent and counted once", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", echo(1))).body;
  const [l] = (await c.call("POST", "/leases", { workerId: "w" })).body.leases;
  const results = await Promise.all(
    Array.from(
      { length: 5 },
      () => c.call("POST", `/tasks/${t.id}/complete`, { leaseId: l.leaseId, result: 7 }),
    ),
  );
  for (const r of results) {
    assert.equal(r.status, 200);
    assert.equal(r.body.status, "completed");
  }
  const task = (await c.call("GET", `/tasks/${t.id}`)).body;
  assert.equal(task.history.length, 1);
  const stats = (await c.call("GET", "/stats")).body;
  assert.equal(stats.status.completed, 1);
  assert.equal(stats.status.processing, 0);
  assert.equal(stats.rates.completed.reduce((a: number, b: number) => a + b, 0), 1);
  const w = (await c.call("GET", "/workers/w/stats")).body;
  assert.equal(w.completed, 1);
});

Deno.test("a retryable failure is retried after an exponential backoff, then succeeds", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", echo(1, { backoffMs: 200, maxAttempts: 3 }))).body;
  const started = Date.now();
  for (let attempt = 1; attempt <= 2; attempt++) {
    const [l] = (await c.call("POST", "/leases", { workerId: "w", waitMs: 5000 })).body.leases;
    assert.equal(l.attempt, attempt);
    const failed = await c.call("POST", `/tasks/${t.id}/fail`, {
      leaseId: l.leaseId,
      error: { code: "handler", message: `flaky ${attempt}`, retryable: true },
    });
    assert.equal(failed.body.status, "pending");
    // Backoff: base · 2^(attempt-1) · [0.5, 1]
    const delay = failed.body.runAt - Date.now();
    assert.ok(
      delay > 200 * 2 ** (attempt - 1) * 0.5 - 50,
      `attempt ${attempt} backs off (${delay} ms)`,
    );
    const none = await c.call("POST", "/leases", { workerId: "w" });
    assert.equal(none.body.leases.length, 0, "not claimable during backoff");
  }
  const [l3] = (await c.call("POST", "/leases", { workerId: "w", waitMs: 5000 })).body.leases;
  assert.equal(l3.attempt, 3);
  assert.ok(Date.now() - started >= (100 + 200) - 50);
  const done = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: l3.leaseId,
    result: "third time",
  });
  assert.equal(done.body.status, "completed");
  assert.equal(done.body.attempts, 3);
  assert.deepEqual(done.body.history.map((h: { outcome: string }) => h.outcome), [
    "failed",
    "failed",
    "completed",
  ]);
});

Deno.test("after maxAttempts a task fails for good with the last error and full history", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", echo(1, { backoffMs: 0, maxAttempts: 2 }))).body;
  for (let attempt = 1; attempt <= 2; attempt++) {
    const [l] =
      (await c.call("POST", "/leases", { workerId: `w${attempt}`, waitMs: 5000 })).body.leases;
    await c.call("POST", `/tasks/${t.id}/fail`, {
      leaseId: l.leaseId,
      error: { code: "handler", message: `boom ${attempt}`, retryable: true },
    });
  }
  const failed = (await c.call("GET", `/tasks/${t.id}`)).body;
  assert.equal(failed.status, "failed");
  assert.equal(failed.error.message, "boom 2");
  assert.deepEqual(failed.history.map((h: { workerId: string }) => h.workerId), ["w1", "w2"]);
  const listed = (await c.call("GET", "/tasks?status=failed")).body.tasks;
  assert.deepEqual(listed.map((x: { id: string }) => x.id), [t.id]);
  const retried = await c.call("POST", `/tasks/${t.id}/retry`);
  assert.equal(retried.body.status, "pending");
  assert.equal((await c.call("GET", "/tasks?status=failed")).body.tasks.length, 0);
  const [again] = (await c.call("POST", "/leases", { workerId: "w3" })).body.leases;
  assert.equal(again.taskId, t.id);
});

Deno.test("a non-retryable (validation) failure fails at once", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", echo(1, { maxAttempts: 5 }))).body;
  const [l] = (await c.call("POST", "/leases", { workerId: "w" })).body.leases;
  const res = await c.call("POST", `/tasks/${t.id}/fail`, {
    leaseId: l.leaseId,
    error: { code: "validation", message: "bad params", retryable: false },
  });
  assert.equal(res.body.status, "failed");
  assert.equal(res.body.attempts, 1);
});

Deno.test("cancel stops a pending task, and a processing one at its holder's next heartbeat", async () => {
  await using c = await testCoordinator();
  const p = (await c.call("POST", "/tasks", echo(1))).body;
  assert.equal((await c.call("POST", `/tasks/${p.id}/cancel`)).body.status, "cancelled");
  assert.equal((await c.call("POST", "/leases", { workerId: "w" })).body.leases.length, 0);

  const q = (await c.call("POST", "/tasks", echo(2))).body;
  const [l] = (await c.call("POST", "/leases", { workerId: "w" })).body.leases;
  assert.equal(
    (await c.call("POST", `/tasks/${q.id}/heartbeat`, { leaseId: l.leaseId })).status,
    200,
  );
  const cancelled = await c.call("POST", `/tasks/${q.id}/cancel`);
  assert.equal(cancelled.body.status, "cancelled");
  const hb = await c.call("POST", `/tasks/${q.id}/heartbeat`, { leaseId: l.leaseId });
  assert.equal(hb.status, 409);
  assert.equal(hb.body.error.code, "cancelled");
  const late = await c.call("POST", `/tasks/${q.id}/complete`, { leaseId: l.leaseId, result: 1 });
  assert.equal(late.status, 409);
  assert.equal(
    (await c.call("POST", `/tasks/${q.id}/cancel`)).status,
    409,
    "cancelling twice is refused",
  );
  const stats = (await c.call("GET", "/stats")).body;
  assert.equal(stats.status.cancelled, 2);
  assert.equal(stats.status.pending + stats.status.processing, 0);
});

Deno.test("a delayed task is not claimable before runAt, and is right after", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", echo(1, { delayMs: 400 }))).body;
  assert.equal((await c.call("POST", "/leases", { workerId: "w" })).body.leases.length, 0);
  const [l] = (await c.call("POST", "/leases", { workerId: "w", waitMs: 3000 })).body.leases;
  assert.equal(l.taskId, t.id);
  assert.ok(Date.now() >= t.runAt);
});

Deno.test("a long-polling claim wakes when work arrives, without waiting out its timeout", async () => {
  await using c = await testCoordinator();
  const claim = c.call("POST", "/leases", { workerId: "idle", waitMs: 10_000 });
  await sleep(150);
  const submitted = Date.now();
  const t = (await c.call("POST", "/tasks", echo(1))).body;
  const res = await claim;
  const latency = Date.now() - submitted;
  assert.equal(res.body.leases[0].taskId, t.id);
  assert.ok(latency < 1000, `woke after ${latency} ms`);
});

Deno.test("GET /api/tasks/:id?wait= returns as soon as the task ends", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", echo(1))).body;
  const waiting = c.call("GET", `/tasks/${t.id}?wait=10000`);
  const [l] = (await c.call("POST", "/leases", { workerId: "w" })).body.leases;
  await sleep(100);
  await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: l.leaseId, result: { ok: true } });
  const done = await waiting;
  assert.equal(done.body.status, "completed");
  assert.deepEqual(done.body.result, { ok: true });
});

Deno.test("release hands a lease back at once without spending an attempt", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", echo(1))).body;
  const [l] = (await c.call("POST", "/leases", { workerId: "w" })).body.leases;
  const released = await c.call("POST", `/tasks/${t.id}/release`, { leaseId: l.leaseId });
  assert.equal(released.body.status, "pending");
  assert.equal(released.body.attempts, 0);
  const [again] = (await c.call("POST", "/leases", { workerId: "w2" })).body.leases;
  assert.equal(again.attempt, 1);
});

Deno.test("list pages through tasks with a cursor and filters by type, queue and status", async () => {
  await using c = await testCoordinator();
  await c.call("POST", "/tasks", {
    tasks: [
      ...Array.from({ length: 25 }, (_, i) => echo(i)),
      ...Array.from({ length: 5 }, (_, i) => ({ ...echo(i), queue: "bulk" })),
    ],
  });
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: { tasks: Array<{ id: string }>; cursor: string | null } } = await c.call(
      "GET",
      `/tasks?limit=10${cursor ? `&cursor=${cursor}` : ""}`,
    );
    seen.push(...page.body.tasks.map((t) => t.id));
    cursor = page.body.cursor;
  } while (cursor);
  assert.equal(seen.length, 30);
  assert.equal(new Set(seen).size, 30);
  assert.deepEqual([...seen].sort(), seen, "oldest first");
  assert.equal((await c.call("GET", "/tasks?queue=bulk&limit=100")).body.tasks.length, 5);
  await c.call("POST", "/leases", { workerId: "w", max: 3 });
  assert.equal((await c.call("GET", "/tasks?status=processing")).body.tasks.length, 3);
  assert.equal((await c.call("GET", "/tasks?status=pending&limit=100")).body.tasks.length, 27);
  const stats = (await c.call("GET", "/stats")).body;
  assert.equal(stats.byQueue.bulk.pending + stats.byQueue.bulk.processing, 5);
  assert.equal(stats.byType["demo.echo"].processing, 3);
  assert.equal(stats.rates.submitted.reduce((a: number, b: number) => a + b, 0), 30);
});
