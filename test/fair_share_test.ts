/**
 * Fair share: clients of equal priority take turns, so one client's big backlog does not starve
 * another's few tasks. Real coordinator, real KV file, claims over HTTP.
 */
import assert from "node:assert/strict";
import { createApiKey } from "../coordinator/auth/api_keys.ts";
import { testCoordinator } from "./_helpers.ts";

const WORKER_TOKEN = "worker-token-for-fair-share";

async function fairCoordinator() {
  const c = await testCoordinator({ auth: "on", workerToken: WORKER_TOKEN });
  const bearer = async (name: string) => ({
    authorization: `Bearer ${(await createApiKey(c.ctx.kv, { name, role: "client" })).key}`,
  });
  const claimOne = async (): Promise<string | null> => {
    const res = await c.call("POST", "/leases", { workerId: "w1", max: 1, waitMs: 0 }, {
      authorization: `Bearer ${WORKER_TOKEN}`,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const lease = res.body.leases[0];
    if (!lease) return null;
    const done = await c.call("POST", "/leases/report", {
      items: [{ taskId: lease.taskId, leaseId: lease.leaseId, result: lease.task.params }],
    }, { authorization: `Bearer ${WORKER_TOKEN}` });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.outcomes[0].ok, true, JSON.stringify(done.body));
    return lease.task.params.from as string;
  };
  return { c, bearer, claimOne };
}

const echoes = (from: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ type: "demo.echo", params: { from, i } }));

Deno.test("a client's ten tasks are served in turn with another's backlog of 1,500, not after it", async () => {
  const { c, bearer, claimOne } = await fairCoordinator();
  await using _ = c;
  const big = await bearer("big"), small = await bearer("small");
  for (let i = 0; i < 3; i++) {
    const res = await c.call("POST", "/tasks", { tasks: echoes("big", 500) }, big);
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  // The grid works through some of the backlog before the small client arrives.
  for (let i = 0; i < 20; i++) assert.equal(await claimOne(), "big");
  const res = await c.call("POST", "/tasks", { tasks: echoes("small", 10) }, small);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const order: string[] = [];
  for (let i = 0; i < 20; i++) order.push((await claimOne())!);
  // One of each in turn: the small client's ten are done within the next twenty claims.
  assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => (i % 2 ? "small" : "big")));
  const after = await claimOne();
  assert.equal(after, "big");
});

Deno.test("fair share works within a priority: a higher priority still goes first", async () => {
  const { c, bearer, claimOne } = await fairCoordinator();
  await using _ = c;
  const a = await bearer("a"), b = await bearer("b");
  assert.equal((await c.call("POST", "/tasks", { tasks: echoes("a", 50) }, a)).status, 201);
  const urgent = await c.call("POST", "/tasks", {
    tasks: [{ type: "demo.echo", params: { from: "urgent" }, priority: 5 }],
  }, b);
  assert.equal(urgent.status, 201);
  assert.equal(await claimOne(), "urgent");
  assert.equal(await claimOne(), "a");
});
