// deno-lint-ignore-file no-explicit-any -- JSON bodies in tests
/**
 * `GET /api/tasks` by status, queue and owner reads indexes: every page is full however many
 * other tasks sit in between, and the pages together are exactly the matching tasks, in order.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createApiKey } from "../coordinator/auth/api_keys.ts";
import { type TestCoordinator, testCoordinator } from "./_helpers.ts";

const echo = (queue: string, i: number) => ({ type: "demo.echo", params: { i }, queue });

/** Submits `n` tasks to `queue` and completes them all. */
async function completed(c: TestCoordinator, queue: string, n: number, headers = {}) {
  for (let done = 0; done < n; done += 1000) {
    const tasks = Array.from({ length: Math.min(1000, n - done) }, (_, i) => echo(queue, i));
    assert.equal((await c.call("POST", "/tasks", { tasks }, headers)).status, 201);
  }
  for (let left = n; left > 0;) {
    const { leases } = (await c.call("POST", "/leases", {
      workerId: "bulk",
      max: 100,
      queues: [queue],
    })).body;
    assert.ok(leases.length > 0);
    const items = leases.map((l: any) => ({ taskId: l.taskId, leaseId: l.leaseId, result: 1 }));
    await c.call("POST", "/leases/report", { items });
    left -= leases.length;
  }
}

/** Every page of a listing: their sizes and the ids in order. */
async function pages(c: TestCoordinator, query: string, headers = {}) {
  const sizes: number[] = [];
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res: any = await c.call(
      "GET",
      `/tasks?${query}${cursor ? `&cursor=${cursor}` : ""}`,
      undefined,
      headers,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    sizes.push(res.body.tasks.length);
    ids.push(...res.body.tasks.map((t: any) => t.id));
    cursor = res.body.cursor;
    assert.ok(sizes.length < 50, "too many pages");
  } while (cursor);
  return { sizes, ids };
}

Deno.test("GET /api/tasks?status=pending and ?queue= find 4 tasks behind 1,000 completed ones on one page", async () => {
  await using c = await testCoordinator();
  await completed(c, "bulk", 1000);
  const mine = (await c.call("POST", "/tasks", {
    tasks: [0, 1, 2, 3].map((i) => echo("q", i)),
  })).body.tasks.map((t: any) => t.id);
  for (const query of ["status=pending&limit=10", "queue=q&limit=10", "status=pending&queue=q"]) {
    const res = await c.call("GET", `/tasks?${query}`);
    assert.deepEqual(res.body.tasks.map((t: any) => t.id), mine, query);
    assert.equal(res.body.cursor, null, query);
  }
  const done = await c.call("GET", "/tasks?status=completed&queue=bulk&limit=1000");
  assert.equal(done.body.tasks.length, 1000);
  assert.ok(done.body.tasks.every((t: any) => t.status === "completed" && t.queue === "bulk"));
});

Deno.test("GET /api/tasks pages through sparse matches: every page full, nothing missed or repeated", async () => {
  await using c = await testCoordinator();
  const want: string[] = [];
  for (let round = 0; round < 5; round++) {
    await completed(c, "bulk", 300);
    const t = (await c.call("POST", "/tasks", {
      tasks: [echo("q", round), echo("q", round + 10)],
    })).body.tasks;
    want.push(...t.map((x: any) => x.id));
  }
  for (
    const query of ["status=pending&limit=3", "queue=q&limit=3", "status=pending&queue=q&limit=3"]
  ) {
    const { sizes, ids } = await pages(c, query);
    assert.deepEqual(ids, want, query);
    assert.deepEqual(sizes, [3, 3, 3, 1], query);
  }
  const byType = await pages(c, "status=pending&type=demo.echo&limit=4");
  assert.deepEqual(byType.ids, want);
  assert.deepEqual(byType.sizes, [4, 4, 2]);
});

Deno.test("GET /api/tasks follows every status change: claim, complete, fail, cancel, retry", async () => {
  await using c = await testCoordinator();
  await completed(c, "bulk", 200);
  const [a, b, d, e] = (await c.call("POST", "/tasks", {
    tasks: [0, 1, 2, 3].map((i) => ({ ...echo("q", i), maxAttempts: 1 })),
  })).body.tasks.map((t: any) => t.id);
  const list = async (status: string) =>
    (await c.call("GET", `/tasks?status=${status}&queue=q`)).body.tasks.map((t: any) => t.id);
  const { leases } = (await c.call("POST", "/leases", { workerId: "w", max: 2, queues: ["q"] }))
    .body;
  assert.deepEqual(leases.map((l: any) => l.taskId), [a, b]);
  assert.deepEqual(await list("processing"), [a, b]);
  assert.deepEqual(await list("pending"), [d, e], "leased tasks are not listed as pending");
  await c.call("POST", `/tasks/${a}/complete`, { leaseId: leases[0].leaseId, result: 1 });
  await c.call("POST", `/tasks/${b}/fail`, {
    leaseId: leases[1].leaseId,
    error: { code: "handler", message: "no", retryable: false },
  });
  await c.call("POST", `/tasks/${d}/cancel`);
  assert.deepEqual(await list("completed"), [a]);
  assert.deepEqual(await list("failed"), [b]);
  assert.deepEqual(await list("cancelled"), [d]);
  assert.deepEqual(await list("pending"), [e]);
  assert.deepEqual(await list("processing"), []);
  await c.call("POST", `/tasks/${b}/retry`);
  await c.call("POST", `/tasks/${d}/retry`);
  assert.deepEqual(await list("pending"), [b, d, e]);
  assert.deepEqual(await list("failed"), []);
  assert.deepEqual(await list("cancelled"), []);
  const all = await c.call("GET", "/tasks?queue=q");
  assert.deepEqual(all.body.tasks.map((t: any) => [t.id, t.status]), [
    [a, "completed"],
    [b, "pending"],
    [d, "pending"],
    [e, "pending"],
  ]);
});

Deno.test("a client's list is full pages of its own tasks, however many others' sit between", async () => {
  await using c = await testCoordinator({ auth: "on" });
  const key = async (name: string) => (await createApiKey(c.ctx.kv, { name, role: "client" })).key;
  const alice = { authorization: `Bearer ${await key("alice")}` };
  const bob = { authorization: `Bearer ${await key("bob")}` };
  const admin = {
    authorization: `Bearer ${(await createApiKey(c.ctx.kv, { name: "a", role: "admin" })).key}`,
  };
  const want: string[] = [];
  for (let round = 0; round < 3; round++) {
    const tasks = Array.from({ length: 400 }, (_, i) => echo("q", i));
    await c.call("POST", "/tasks", { tasks }, bob);
    want.push((await c.call("POST", "/tasks", echo("q", round), alice)).body.id);
  }
  for (const query of ["limit=2", "status=pending&limit=2", "queue=q&limit=2"]) {
    const { sizes, ids } = await pages(c, query, alice);
    assert.deepEqual(ids, want, query);
    assert.deepEqual(sizes, [2, 1], query);
  }
  assert.equal((await pages(c, "limit=1000", bob)).ids.length, 1200);
  assert.equal((await pages(c, "limit=1000", admin)).ids.length, 1203);
});

Deno.test("a KV written before the list indexes gets them at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-list-" });
  const db = `${dir}/kv.sqlite`;
  try {
    let ids: string[];
    {
      await using c = await testCoordinator({ db });
      await completed(c, "done", 50);
      ids = (await c.call("POST", "/tasks", {
        tasks: Array.from({ length: 250 }, (_, i) => echo("q", i)),
      })).body.tasks.map((t: any) => t.id);
    }
    {
      // As an older coordinator left it: no index entries, no marker.
      using kv = await Deno.openKv(db);
      for (const prefix of [["by_status"], ["by_owner"], ["meta"]]) {
        for await (const e of kv.list({ prefix })) await kv.delete(e.key);
      }
    }
    await using c = await testCoordinator({ db });
    const res = await c.call("GET", "/tasks?status=pending&limit=1000");
    assert.deepEqual(res.body.tasks.map((t: any) => t.id), ids);
    const done = await c.call("GET", "/tasks?status=completed&queue=done&limit=1000");
    assert.equal(done.body.tasks.length, 50);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("GET /api/tasks lists a replicated task by its status while replicas run and once decided", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const t = (await c.call("POST", "/tasks", {
    ...echo("q", 1),
    verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2 },
  })).body;
  const list = async (status: string) =>
    (await c.call("GET", `/tasks?status=${status}&queue=q`)).body.tasks.map((x: any) => x.id);
  const leases = [];
  for (const workerId of ["w1", "w2"]) {
    leases.push(...(await c.call("POST", "/leases", { workerId, queues: ["q"] })).body.leases);
  }
  assert.equal(leases.length, 2);
  assert.deepEqual(await list("processing"), [t.id]);
  for (const l of leases) {
    await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: l.leaseId, result: { i: 1 } });
  }
  assert.deepEqual(await list("completed"), [t.id]);
  assert.deepEqual(await list("pending"), []);
  assert.deepEqual(await list("processing"), []);
});

Deno.test("a batch of 1,000 owned tasks, or of 5-replica tasks, fits the KV's mutation limit", async () => {
  await using c = await testCoordinator({ auth: "on" });
  const key = (await createApiKey(c.ctx.kv, { name: "alice", role: "client" })).key;
  const alice = { authorization: `Bearer ${key}` };
  const quorum = { mode: "quorum", replicas: 5, agree: 3, maxReplicas: 5 };
  for (const n of [250, 300, 1000]) {
    for (const extra of [{}, { verification: quorum }]) {
      const tasks = Array.from({ length: n }, (_, i) => ({ ...echo(`b${n}`, i), ...extra }));
      const res = await c.call("POST", "/tasks", { tasks }, alice);
      assert.equal(res.status, 201, `${n} ${JSON.stringify(extra)}: ${JSON.stringify(res.body)}`);
    }
    const listed = await c.call("GET", `/tasks?queue=b${n}&limit=1000`, undefined, alice);
    assert.equal(listed.body.tasks.length, Math.min(1000, 2 * n));
  }
});
