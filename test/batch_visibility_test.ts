import assert from "node:assert/strict";
import { newTask, recoverBatches } from "../coordinator/tasks/enqueue.ts";
import {
  batchKey,
  batchPartKey,
  batchPrefix,
  idempotencyKey,
  taskKey,
  taskPrefix,
} from "../coordinator/store/keys.ts";
import { eventually, sleep, type TestCoordinator, testCoordinator } from "./_helpers.ts";

const keyed = (n: number, tag: string) => ({
  tasks: Array.from({ length: n }, (_, i) => ({
    type: "demo.echo",
    params: { i },
    idempotencyKey: `${tag}-${i}`,
  })),
});

/** Leaves a keyed batch in phase 1, as a writer that is still busy (or died) would. */
async function phaseOneBatch(c: TestCoordinator, batch: string, keys: string[]) {
  const tasks = keys.map((k, i) =>
    newTask(c.ctx, {
      type: "demo.echo",
      params: { i },
      idempotencyKey: k,
      queue: "default",
      priority: 0,
      maxAttempts: 3,
      leaseMs: 30_000,
      // As a submission with the defaults makes it: a resubmission is then the same request.
      backoffMs: 1000,
    }, Date.now())
  );
  const op = c.ctx.kv.atomic().set(batchKey(batch), { phase: 1, at: Date.now() });
  for (const t of tasks) {
    op.set(taskKey(t.id), { ...t, batch });
    op.set(idempotencyKey(t.idempotencyKey!), { id: t.id, batch });
  }
  op.set(batchPartKey(batch, "0"), tasks.map((t) => t.id));
  assert.ok((await op.commit()).ok);
  return tasks;
}

Deno.test("resubmitting a large batch's keys returns its tasks, without internal fields", async () => {
  await using c = await testCoordinator();
  const first = await c.call("POST", "/tasks", keyed(1000, "k"));
  assert.equal(first.status, 201);
  const again = await c.call("POST", "/tasks", keyed(1000, "k"));
  assert.equal(again.status, 200);
  assert.deepEqual(
    again.body.tasks.map((t: { id: string }) => t.id),
    first.body.tasks.map((t: { id: string }) => t.id),
  );
  for (const t of again.body.tasks) assert.equal(t.batch, undefined);
  const got = await c.call("GET", `/tasks/${first.body.tasks[0].id}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.batch, undefined);
  const [l] = (await c.call("POST", "/leases", { workerId: "w", max: 1 })).body.leases;
  assert.equal(l.task.batch, undefined);
  const done = await c.call("POST", `/tasks/${l.taskId}/complete`, {
    leaseId: l.leaseId,
    result: 1,
  });
  assert.equal(done.status, 200);
  assert.equal(done.body.batch, undefined);
});

Deno.test("a batch still in phase 1 is invisible to reads and lists; a lookup of its key waits for phase 2", async () => {
  await using c = await testCoordinator();
  const [t] = await phaseOneBatch(c, "b1", ["p-0"]);
  assert.equal((await c.call("GET", `/tasks/${t!.id}`)).status, 404);
  assert.equal((await c.call("GET", "/tasks")).body.tasks.length, 0);
  const started = Date.now();
  const resubmit = c.call("POST", "/tasks", keyed(1, "p"));
  await sleep(300);
  // The writer reaches phase 2: the batch is accepted, its ids may be handed out.
  await c.ctx.kv.set(batchKey("b1"), { phase: 2, at: Date.now() });
  const res = await resubmit;
  assert.ok(Date.now() - started >= 300, "answered only once the batch was accepted");
  assert.equal(res.status, 200);
  assert.equal(res.body.tasks[0].id, t!.id);
  assert.equal((await c.call("GET", `/tasks/${t!.id}`)).status, 200);
});

Deno.test("a lookup that waits on a batch which is then undone makes a new task", async () => {
  await using c = await testCoordinator();
  const [t] = await phaseOneBatch(c, "b2", ["u-0"]);
  const resubmit = c.call("POST", "/tasks", keyed(1, "u"));
  await sleep(200);
  // Undone as an undo does it: records and keys first, then the head.
  await c.ctx.kv.atomic().delete(taskKey(t!.id)).delete(idempotencyKey("u-0"))
    .delete(batchPartKey("b2", "0")).commit();
  await c.ctx.kv.delete(batchKey("b2"));
  const res = await resubmit;
  assert.equal(res.status, 201);
  assert.notEqual(res.body.tasks[0].id, t!.id);
  assert.equal((await c.call("GET", `/tasks/${res.body.tasks[0].id}`)).status, 200);
});

Deno.test("a coordinator that recovers a batch another one is still writing never leaves acknowledged ids deleted or counted twice", async () => {
  await using a = await testCoordinator();
  await using b = await testCoordinator({ db: a.db });
  let outcome: { status: number; body: { tasks?: Array<{ id: string }> } } | null = null;
  const writing = a.call("POST", "/tasks", {
    tasks: Array.from({ length: 1000 }, (_, i) => ({
      type: "demo.echo",
      params: { i, pad: "x".repeat(1200) },
      idempotencyKey: `live-${i}`,
    })),
  }).then((r) => (outcome = r));
  // B starts once part of A's batch is written: B cannot tell it from a dead one.
  while (outcome === null) {
    const journal = await Array.fromAsync(b.ctx.kv.list({ prefix: batchPrefix() }));
    if (journal.some((e) => e.key.length === 3)) break;
    await sleep(1);
  }
  const recovered = await recoverBatches(b.ctx);
  await writing;
  const res = outcome!;
  assert.ok(res.status === 201 || res.status === 503, `${res.status}`);
  // Settled either way: no journal left once both are done.
  await eventually(async () =>
    (await Array.fromAsync(a.ctx.kv.list({ prefix: batchPrefix() }))).length === 0
  );
  const records = await Array.fromAsync(a.ctx.kv.list({ prefix: taskPrefix() }));
  const stats = (await a.call("GET", "/stats")).body;
  if (res.status === 201) {
    assert.equal(records.length, 1000);
    for (const t of res.body.tasks!) {
      assert.equal((await a.call("GET", `/tasks/${t.id}`)).status, 200);
    }
  } else {
    assert.equal(recovered, 1, "only a batch taken over is refused");
    assert.equal(records.length, 0, "an undone batch leaves no records");
  }
  assert.equal(stats.status.pending ?? 0, records.length, "each task counted once");
});
