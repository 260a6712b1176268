/**
 * Fair share: clients of equal priority take turns, so one client's big backlog does not starve
 * another's few tasks; and key quotas bound what one client may put in. Real coordinator, real
 * KV file, claims over HTTP.
 */
import assert from "node:assert/strict";
import { createApiKey, setApiKeyQuota } from "../coordinator/auth/api_keys.ts";
import { keysCli } from "../coordinator/keys_cli.ts";
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

Deno.test("a key's maxQueued quota refuses submits past its unfinished tasks with 429, and lets them in once some end", async () => {
  const { c, claimOne } = await fairCoordinator();
  await using _ = c;
  const { key, record } = await createApiKey(c.ctx.kv, { name: "capped", role: "client" });
  const auth = { authorization: `Bearer ${key}` };
  // Set after creation, the way `deno task keys quota` does: it applies to the next request.
  await setApiKeyQuota(c.ctx.kv, record.id, { maxQueued: 5 });
  assert.equal((await c.call("POST", "/tasks", { tasks: echoes("capped", 4) }, auth)).status, 201);
  const over = await c.call("POST", "/tasks", { tasks: echoes("capped", 2) }, auth);
  assert.equal(over.status, 429, JSON.stringify(over.body));
  assert.equal(over.body.error.code, "quota_exceeded");
  assert.equal(over.body.error.field, "tasks");
  assert.match(over.body.error.message, /5 unfinished tasks; it has 4/);
  // Nothing of the refused batch was written.
  const listed = await c.call("GET", "/tasks?limit=100", undefined, auth);
  assert.equal(listed.body.tasks.length, 4);
  assert.equal((await c.call("POST", "/tasks", echoes("capped", 1)[0], auth)).status, 201);
  assert.equal((await c.call("POST", "/tasks", echoes("capped", 1)[0], auth)).status, 429);
  assert.equal(await claimOne(), "capped");
  assert.equal((await c.call("POST", "/tasks", echoes("capped", 1)[0], auth)).status, 201);
});

Deno.test("a key's submitPerSecond quota refuses a burst past its rate with 429 and Retry-After", async () => {
  const { c } = await fairCoordinator();
  await using _ = c;
  const { key } = await createApiKey(c.ctx.kv, {
    name: "slow",
    role: "client",
    quota: { submitPerSecond: 10 },
  });
  const auth = { authorization: `Bearer ${key}` };
  const tooBig = await c.call("POST", "/tasks", { tasks: echoes("slow", 11) }, auth);
  assert.equal(tooBig.status, 429);
  assert.match(tooBig.body.error.message, /at most 10 at a time/);
  assert.equal((await c.call("POST", "/tasks", { tasks: echoes("slow", 10) }, auth)).status, 201);
  const res = await fetch(`${c.api}/tasks`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(echoes("slow", 1)[0]),
  });
  assert.equal(res.status, 429);
  assert.equal((await res.json()).error.code, "quota_exceeded");
  assert.ok(Number(res.headers.get("retry-after")) >= 1);
  // Another key is not slowed by this one.
  const other = (await createApiKey(c.ctx.kv, { name: "other", role: "client" })).key;
  const free = await c.call("POST", "/tasks", { tasks: echoes("other", 50) }, {
    authorization: `Bearer ${other}`,
  });
  assert.equal(free.status, 201);
});

Deno.test("deno task keys create --max-queued and keys quota set, change and clear a key's quota", async () => {
  const { c } = await fairCoordinator();
  await using _ = c;
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const code = await keysCli([...args, "--db", c.db], {}, (l) => out.push(l), (l) => out.push(l));
    return { code, out: out.join("\n") };
  };
  const made = await run("create", "--name", "ci", "--max-queued", "2", "--json");
  assert.equal(made.code, 0, made.out);
  const { key, id } = JSON.parse(made.out);
  const auth = { authorization: `Bearer ${key}` };
  assert.equal((await c.call("POST", "/tasks", { tasks: echoes("ci", 3) }, auth)).status, 429);
  const raised = await run("quota", id, "--max-queued", "10", "--submit-rate", "100");
  assert.equal(raised.code, 0, raised.out);
  assert.match(raised.out, /at most 10 unfinished tasks, at most 100 submits a second/);
  assert.equal((await c.call("POST", "/tasks", { tasks: echoes("ci", 3) }, auth)).status, 201);
  const cleared = await run("quota", id, "--max-queued", "none", "--submit-rate", "none");
  assert.match(cleared.out, /no quota/);
  assert.equal((await c.call("POST", "/tasks", { tasks: echoes("ci", 20) }, auth)).status, 201);
  const bad = await run("quota", id, "--max-queued", "0");
  assert.equal(bad.code, 2);
  assert.match(bad.out, /--max-queued must be a positive integer or none/);
  assert.equal((await run("quota", "key_nosuch", "--max-queued", "3")).code, 1);
});

Deno.test("two jobs of one client take turns too: a small job created after a big one is not queued behind it", async () => {
  const { c, bearer, claimOne } = await fairCoordinator();
  await using _ = c;
  const auth = await bearer("renderer");
  const inputs = (from: string, n: number) => Array.from({ length: n }, (_, i) => ({ from, i }));
  const big = await c.call("POST", "/jobs", {
    type: "demo.echo",
    inputs: inputs("big", 1200),
  }, auth);
  assert.equal(big.status, 201, JSON.stringify(big.body));
  const small = await c.call("POST", "/jobs", {
    type: "demo.echo",
    inputs: inputs("small", 5),
  }, auth);
  assert.equal(small.status, 201, JSON.stringify(small.body));
  const order: string[] = [];
  for (let i = 0; i < 10; i++) order.push((await claimOne())!);
  assert.deepEqual(order, Array.from({ length: 10 }, (_, i) => (i % 2 ? "small" : "big")));
});
