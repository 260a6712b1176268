/**
 * A worker written from the seed integration guide (004), unchanged: POST /tasks/claim
 * {worker_id, task_types} → a task or null; POST /tasks/{id}/complete {result};
 * POST /tasks/{id}/fail {error}; GET /health; GET /tasks?status=...; GET /workers/{id}/stats.
 */
import assert from "node:assert/strict";
import { callJson, eventually, testCoordinator } from "./_helpers.ts";

/** The guide's main loop, transcribed: claim, route by type, report, stop when idle. */
async function seedWorker(apiUrl: string, workerId: string, taskTypes: string[]) {
  const stats = { processed: 0, failed: 0 };
  const health = await callJson(apiUrl, "GET", "/health");
  if (health.status !== 200) throw new Error("API health check failed");
  while (true) {
    const claim = await callJson(apiUrl, "POST", "/tasks/claim", {
      worker_id: workerId,
      task_types: taskTypes,
    });
    const task = claim.body;
    if (!task) return stats;
    try {
      if (task.type !== "demo.echo") throw new Error(`no handler for ${task.type}`);
      if (task.params.fail) throw new Error("asked to fail");
      await callJson(apiUrl, "POST", `/tasks/${task.id}/complete`, {
        result: { echoed: task.params },
      });
      stats.processed++;
    } catch (e) {
      await callJson(apiUrl, "POST", `/tasks/${task.id}/fail`, { error: (e as Error).message });
      stats.failed++;
    }
  }
}

Deno.test("a worker written from the seed guide works unchanged end to end", async () => {
  await using c = await testCoordinator();
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const res = await c.call("POST", "/tasks", {
      type: "demo.echo",
      params: { i, fail: i === 3 },
      maxAttempts: 1,
    });
    ids.push(res.body.id);
  }
  await c.call("POST", "/tasks", { type: "primes.count", params: { from: 0, to: 10 } });
  const stats = await seedWorker(c.api, "seed-worker-1", ["demo.echo"]);
  assert.deepEqual(stats, { processed: 9, failed: 1 });

  const completed = (await c.call("GET", "/tasks?status=completed")).body.tasks;
  assert.equal(completed.length, 9);
  assert.deepEqual(completed[0].result, { echoed: { i: 0, fail: false } });
  assert.equal(completed[0].workerId, "seed-worker-1");
  assert.ok(completed[0].claimedAt && completed[0].completedAt && completed[0].createdAt);
  const failed = (await c.call("GET", "/tasks?status=failed")).body.tasks;
  assert.equal(failed.length, 1);
  assert.equal(failed[0].error.message, "asked to fail");
  const pending = (await c.call("GET", "/tasks?status=pending")).body.tasks;
  assert.equal(pending.length, 1, "the task type it does not handle is left alone");
  assert.equal(pending[0].type, "primes.count");

  const w = await c.call("GET", "/workers/seed-worker-1/stats");
  assert.equal(w.status, 200);
  assert.equal(w.body.completed, 9);
  assert.equal(w.body.failed, 1);
  assert.equal(
    (await c.call("POST", "/tasks/claim", { worker_id: "x", task_types: ["demo.echo"] })).body,
    null,
  );
});

Deno.test("a lease-less report cannot end a lease the native route handed to another worker after the first one's expired", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: { x: 1 },
    leaseMs: 1000,
    backoffMs: 0,
  })).body;
  const a = (await c.call("POST", "/tasks/claim", { worker_id: "A", task_types: ["demo.echo"] }))
    .body;
  assert.equal(a.id, t.id);
  // A goes quiet: no heartbeat, so its lease expires and the task is pending again.
  await eventually(async () => (await c.call("GET", `/tasks/${t.id}`)).body.status === "pending");
  const [b] = (await c.call("POST", "/leases", { workerId: "B", kind: "deno" })).body.leases;
  assert.equal(b.taskId, t.id);

  const late = await c.call("POST", `/tasks/${t.id}/complete`, { result: { by: "A" } });
  assert.equal(late.status, 409, JSON.stringify(late.body));
  assert.equal(late.body.error.code, "stale_lease");
  const own = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: b.leaseId,
    result: { by: "B" },
  });
  assert.equal(own.status, 200);
  assert.deepEqual(own.body.result, { by: "B" }, "B's own result is the one accepted");
  assert.equal(own.body.workerId, "B");
});

Deno.test("a lease-less report naming a worker_id ends only that worker's seed lease", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", { type: "demo.echo", params: {} })).body;
  await c.call("POST", "/tasks/claim", { worker_id: "A", task_types: ["demo.echo"] });
  const other = await c.call("POST", `/tasks/${t.id}/complete`, {
    worker_id: "Z",
    result: { by: "Z" },
  });
  assert.equal(other.status, 409, JSON.stringify(other.body));
  const failOther = await c.call("POST", `/tasks/${t.id}/fail`, { worker_id: "Z", error: "no" });
  assert.equal(failOther.status, 409);
  const mine = await c.call("POST", `/tasks/${t.id}/complete`, {
    worker_id: "A",
    result: { by: "A" },
  });
  assert.equal(mine.status, 200);
  assert.deepEqual(mine.body.result, { by: "A" });
  const again = await c.call("POST", `/tasks/${t.id}/complete`, {
    worker_id: "A",
    result: { by: "A" },
  });
  assert.equal(again.status, 200, "a repeated seed report is idempotent");
});

Deno.test("a lease-less report after another worker's native lease completed is refused, not answered with that result", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: {},
    leaseMs: 1000,
    backoffMs: 0,
  }))
    .body;
  await c.call("POST", "/tasks/claim", { worker_id: "A", task_types: ["demo.echo"] });
  await eventually(async () => (await c.call("GET", `/tasks/${t.id}`)).body.status === "pending");
  const [b] = (await c.call("POST", "/leases", { workerId: "B", kind: "deno" })).body.leases;
  await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: b.leaseId, result: { by: "B" } });
  const late = await c.call("POST", `/tasks/${t.id}/complete`, { result: { by: "A" } });
  assert.equal(late.status, 409, JSON.stringify(late.body));
});

Deno.test("a lease-less report cannot end a native lease even when it names the holder", async () => {
  await using c = await testCoordinator();
  const t = (await c.call("POST", "/tasks", { type: "demo.echo", params: {} })).body;
  const [b] = (await c.call("POST", "/leases", { workerId: "B", kind: "deno" })).body.leases;
  const forged = await c.call("POST", `/tasks/${t.id}/complete`, {
    worker_id: "B",
    result: { by: "someone" },
  });
  assert.equal(forged.status, 409, JSON.stringify(forged.body));
  const own = await c.call("POST", `/tasks/${t.id}/complete`, {
    leaseId: b.leaseId,
    result: { by: "B" },
  });
  assert.deepEqual(own.body.result, { by: "B" });
});
