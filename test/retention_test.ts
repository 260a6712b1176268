/**
 * Retention: finished tasks and finished jobs are purged once their time is up, in bounded
 * commits, and nothing unfinished or young is touched. Real coordinator, real KV file.
 */
import assert from "node:assert/strict";
import { purgeExpired } from "../coordinator/tasks/retention.ts";
import { taskKey } from "../coordinator/store/keys.ts";
import {
  eventually,
  quorumOf2,
  submitEcho,
  type TestCoordinator,
  testCoordinator,
} from "./_helpers.ts";

const echo = (i: number) => ({ type: "demo.echo", params: { i }, idempotencyKey: `echo-${i}` });

async function finishAll(c: Awaited<ReturnType<typeof testCoordinator>>, n: number) {
  for (let done = 0; done < n;) {
    const res = await c.call("POST", "/leases", { workerId: "w", max: 100, waitMs: 0 });
    const items = res.body.leases.map((l: { taskId: string; leaseId: string }) => ({
      taskId: l.taskId,
      leaseId: l.leaseId,
      result: { ok: true },
    }));
    if (items.length === 0) continue;
    assert.equal((await c.call("POST", "/leases/report", { items })).status, 200);
    done += items.length;
  }
}

Deno.test("finished tasks past --retention are purged with their index entries and idempotency keys; pending ones stay", async () => {
  await using c = await testCoordinator({ retentionMs: 50 });
  const done = await c.call("POST", "/tasks", { tasks: [...Array(120)].map((_, i) => echo(i)) });
  assert.equal(done.status, 201);
  await finishAll(c, 120);
  const waiting = await c.call("POST", "/tasks", { type: "demo.echo", params: { later: true } });
  assert.equal(waiting.status, 201);
  // Not yet: they ended less than 50 ms ago, or a moment ago at most.
  await new Promise((r) => setTimeout(r, 80));
  const purged = await purgeExpired(c.ctx);
  assert.equal(purged.tasks, 120);
  for (const t of done.body.tasks.slice(0, 5)) {
    assert.equal((await c.ctx.kv.get(taskKey(t.id))).value, null);
    assert.equal((await c.call("GET", `/tasks/${t.id}`)).status, 404);
  }
  const listed = await c.call("GET", "/tasks?status=completed");
  assert.equal(listed.body.tasks.length, 0);
  assert.equal((await c.call("GET", `/tasks/${waiting.body.id}`)).body.status, "pending");
  // Its idempotency key went with it: the same key makes a new task now.
  const again = await c.call("POST", "/tasks", echo(0));
  assert.equal(again.status, 201);
  assert.notEqual(again.body.id, done.body.tasks[0].id);
  // The counts take them back: one completed (the new echo-0 is pending), none lost.
  const stats = await c.call("GET", "/stats");
  assert.equal(stats.body.status.completed ?? 0, 0);
  assert.equal(stats.body.status.pending, 2);
});

/** Once its retention (50 ms) has passed, the sweep purges the one task `id`: no key names it. */
async function assertPurgedWhole(c: TestCoordinator, id: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 80));
  assert.equal((await purgeExpired(c.ctx)).tasks, 1);
  const left = [];
  for await (const e of c.ctx.kv.list({ prefix: [] })) {
    if (e.key.includes(id)) left.push(JSON.stringify(e.key));
  }
  assert.deepEqual(left, []);
}

Deno.test("a purged quorum task leaves nothing of its verification behind: no key names it", async () => {
  await using c = await testCoordinator({ retentionMs: 50, spotChecks: "off" });
  const t = await submitEcho(c, quorumOf2(3));
  const claim = async (w: string) =>
    (await c.call("POST", "/leases", { workerId: w, kind: "browser", donorId: `d-${w}` })).body
      .leases[0];
  // A hand-back, a disagreement and a third replica that settles it: every kind of leftover.
  const handedBack = await claim("A");
  await c.call("POST", `/tasks/${t.id}/release`, { leaseId: handedBack.leaseId });
  for (const [w, x] of [["A", 1], ["B", 2], ["C", 1]] as const) {
    const l = await claim(w);
    await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: l.leaseId, result: { x } });
  }
  assert.equal((await c.call("GET", `/tasks/${t.id}`)).body.status, "completed");
  await assertPurgedWhole(c, t.id);
});

Deno.test("a quorum task retried after its replicas disagreed leaves nothing of its first round once purged", async () => {
  await using c = await testCoordinator({ retentionMs: 50, spotChecks: "off" });
  const t = await submitEcho(c, quorumOf2(2));
  const claim = async (w: string) =>
    (await c.call("POST", "/leases", { workerId: w, kind: "browser" })).body.leases[0];
  const vote = async (w: string, x: number) => {
    const l = await claim(w);
    assert.equal(l?.taskId, t.id, `${w} gets a slot`);
    return (await c.call("POST", `/tasks/${t.id}/complete`, { leaseId: l.leaseId, result: { x } }))
      .body;
  };
  await vote("A", 1);
  assert.equal((await vote("B", 2)).status, "failed", "no agreement within maxReplicas");
  assert.equal((await c.call("POST", `/tasks/${t.id}/retry`)).status, 200);
  // Voters of the first round may not vote again: two others settle it.
  await vote("C", 1);
  assert.equal((await vote("D", 1)).status, "completed");
  await assertPurgedWhole(c, t.id);
});

Deno.test("a finished job is purged whole once its own retentionMs has passed; another job with the default stays", async () => {
  await using c = await testCoordinator({ retentionMs: 3_600_000 });
  const short = await c.call("POST", "/jobs", {
    type: "demo.echo",
    inputs: [{ a: 1 }, { a: 2 }],
    retentionMs: 10,
  });
  assert.equal(short.status, 201, JSON.stringify(short.body));
  const long = await c.call("POST", "/jobs", { type: "demo.echo", inputs: [{ b: 1 }] });
  await finishAll(c, 3);
  const finished = await eventually(async () => {
    const j = await c.call("GET", `/jobs/${short.body.id}`);
    return j.body.status === "completed" ? j.body : null;
  });
  assert.ok(finished.purgeAt >= finished.finishedAt + 10);
  // The finish is recorded by the job sweeper (every 200 ms); the purge follows it.
  const purged = await eventually(async () => {
    const p = await purgeExpired(c.ctx);
    return p.jobs > 0 ? p : null;
  });
  assert.deepEqual(purged, { tasks: 2, jobs: 1 });
  assert.equal((await c.call("GET", `/jobs/${short.body.id}`)).status, 404);
  assert.equal((await c.call("GET", `/jobs/${long.body.id}`)).status, 200);
});

Deno.test("--retention takes 7d, 12h, 30m and 0 (keep for ever)", async () => {
  const { loadCoordinatorConfig } = await import("../coordinator/config.ts");
  const of = (
    v: string,
  ) => (loadCoordinatorConfig(["--retention", v], {}) as { retentionMs: number });
  assert.equal(of("7d").retentionMs, 7 * 86_400_000);
  assert.equal(of("12h").retentionMs, 12 * 3_600_000);
  assert.equal(of("30m").retentionMs, 1_800_000);
  assert.equal(of("0").retentionMs, 0);
  assert.throws(() => of("soon"), /retentionMs/);
});
