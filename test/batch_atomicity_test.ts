import assert from "node:assert/strict";
import { newTask } from "../coordinator/tasks/enqueue.ts";
import { batchKey, batchPartKey, batchPrefix, taskKey } from "../coordinator/store/keys.ts";
import { testCoordinator } from "./_helpers.ts";

const echo = (i: number) => ({ type: "demo.echo", params: { i } });

Deno.test("a 1,000-task batch (more than one KV commit) is written whole and leaves no journal", async () => {
  await using c = await testCoordinator();
  const res = await c.call("POST", "/tasks", {
    tasks: Array.from({ length: 1000 }, (_, i) => echo(i)),
  });
  assert.equal(res.status, 201);
  assert.equal(res.body.tasks.length, 1000);
  assert.equal((await c.call("GET", "/stats")).body.status.pending, 1000);
  assert.equal((await Array.fromAsync(c.ctx.kv.list({ prefix: batchPrefix() }))).length, 0);
  const claimed = (await c.call("POST", "/leases", { workerId: "w", max: 100 })).body.leases;
  assert.equal(claimed.length, 100);
});

/** Leaves a batch as a process that died in `phase` would, then restarts on the same file. */
async function crashedBatch(phase: 1 | 2) {
  const first = await testCoordinator();
  const tasks = [0, 1, 2].map((i) =>
    newTask(first.ctx, {
      ...echo(i),
      queue: "default",
      priority: 0,
      maxAttempts: 3,
      leaseMs: 30_000,
      backoffMs: 0,
    }, Date.now())
  );
  const op = first.ctx.kv.atomic().set(batchKey("b1"), { phase, at: Date.now() });
  for (const t of tasks) op.set(taskKey(t.id), t);
  op.set(batchPartKey("b1", "0"), tasks.map((t) => t.id));
  await op.commit();
  await first.close();
  const second = await testCoordinator({ db: first.db });
  return { c: second, ids: tasks.map((t) => t.id), dir: first.dir };
}

Deno.test("recoverBatches undoes a batch that died before all its records were written", async () => {
  const { c, ids, dir } = await crashedBatch(1);
  try {
    for (const id of ids) assert.equal((await c.call("GET", `/tasks/${id}`)).status, 404);
    assert.equal((await c.call("GET", "/stats")).body.status.pending, 0);
    assert.equal((await Array.fromAsync(c.ctx.kv.list({ prefix: batchPrefix() }))).length, 0);
  } finally {
    await c.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recoverBatches finishes a batch that died after all its records were written", async () => {
  const { c, ids, dir } = await crashedBatch(2);
  try {
    assert.equal((await c.call("GET", "/stats")).body.status.pending, 3);
    const leases = (await c.call("POST", "/leases", { workerId: "w", max: 10 })).body.leases;
    assert.deepEqual(leases.map((l: { taskId: string }) => l.taskId).sort(), [...ids].sort());
    assert.equal((await Array.fromAsync(c.ctx.kv.list({ prefix: batchPrefix() }))).length, 0);
  } finally {
    await c.close();
    await Deno.remove(dir, { recursive: true });
  }
});
