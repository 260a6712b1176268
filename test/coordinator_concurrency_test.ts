// deno-lint-ignore-file no-explicit-any -- JSON bodies in tests
import assert from "node:assert/strict";
import { testCoordinator } from "./_helpers.ts";

interface LeaseBody {
  leaseId: string;
  taskId: string;
}

/** Claims and completes until nothing is left; returns the task ids it completed. */
async function claimLoop(
  call: (m: string, p: string, b?: unknown) => Promise<{ status: number; body: any }>,
  workerId: string,
  max: number,
): Promise<string[]> {
  const done: string[] = [];
  while (true) {
    const res = await call("POST", "/leases", { workerId, max, waitMs: 200 });
    const leases: LeaseBody[] = res.body.leases;
    if (leases.length === 0) return done;
    for (const l of leases) {
      const r = await call("POST", `/tasks/${l.taskId}/complete`, {
        leaseId: l.leaseId,
        result: workerId,
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      done.push(l.taskId);
    }
  }
}

Deno.test("20 concurrent claimers over 2,000 tasks complete each exactly once", async () => {
  await using c = await testCoordinator();
  for (let b = 0; b < 2; b++) {
    const tasks = Array.from(
      { length: 1000 },
      (_, i) => ({ type: "demo.echo", params: { i: b * 1000 + i } }),
    );
    assert.equal((await c.call("POST", "/tasks", { tasks })).status, 201);
  }
  const perWorker = await Promise.all(
    Array.from({ length: 20 }, (_, w) => claimLoop(c.call, `w${w}`, 1 + (w % 5))),
  );
  const all = perWorker.flat();
  assert.equal(all.length, 2000, "2,000 completions accepted");
  assert.equal(new Set(all).size, 2000, "no task was leased twice");
  assert.ok(perWorker.filter((d) => d.length > 0).length >= 10, "the work was spread");
  const stats = (await c.call("GET", "/stats")).body;
  assert.equal(stats.status.completed, 2000);
  assert.equal(stats.status.pending, 0);
  assert.equal(stats.status.processing, 0);
  let cursor: string | null = null;
  let n = 0;
  do {
    const page: {
      body: { tasks: Array<{ status: string; history: unknown[] }>; cursor: string | null };
    } = await c.call("GET", `/tasks?limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
    for (const t of page.body.tasks) {
      assert.equal(t.status, "completed");
      assert.equal(t.history.length, 1, "exactly one attempt each");
      n++;
    }
    cursor = page.body.cursor;
  } while (cursor);
  assert.equal(n, 2000);
});

Deno.test("two coordinators on one KV file (separate connections) never lease a task twice", async () => {
  await using a = await testCoordinator();
  await using b = await testCoordinator({ db: a.db });
  const tasks = Array.from({ length: 600 }, (_, i) => ({ type: "demo.echo", params: { i } }));
  await a.call("POST", "/tasks", { tasks });
  const perWorker = await Promise.all([
    ...Array.from({ length: 6 }, (_, w) => claimLoop(a.call, `a${w}`, 3)),
    ...Array.from({ length: 6 }, (_, w) => claimLoop(b.call, `b${w}`, 3)),
  ]);
  const all = perWorker.flat();
  assert.equal(all.length, 600);
  assert.equal(new Set(all).size, 600);
  assert.ok(perWorker.slice(6).flat().length > 0, "the second coordinator served work too");
});
