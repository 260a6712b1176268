import assert from "node:assert/strict";
import { sleep, testCoordinator } from "../../test/_helpers.ts";
import { LiveSnapshot, LiveTaskEvent, type Task } from "../../shared/protocol.ts";
import { LiveFeed } from "./live.ts";

type TestCoordinator = Awaited<ReturnType<typeof testCoordinator>>;

/** A real submitted task, ended by hand as `changes` say (no worker needed). */
async function endedTask(c: TestCoordinator, changes: Partial<Task>): Promise<Task> {
  const { body } = await c.call("POST", "/tasks", { type: "demo.echo", params: {} });
  return { ...body, ...changes };
}

function parse(chunk: string): Array<{ event: string; data: unknown }> {
  return chunk.split("\n\n").filter(Boolean).map((block) => ({
    event: block.match(/^event: (.*)$/m)![1],
    data: JSON.parse(block.match(/^data: (.*)$/m)![1]),
  }));
}

Deno.test("LiveFeed.snapshot() has queue-wait and run-time percentiles of the tasks that ended", async () => {
  await using c = await testCoordinator();
  const feed = new LiveFeed(c.ctx, c.workers);
  try {
    const base = await endedTask(c, {});
    for (let i = 1; i <= 100; i++) {
      const created = 1_000_000;
      c.ctx.signals.taskEnded({
        ...base,
        id: `t${i}`,
        status: "completed",
        createdAt: created,
        runAt: created,
        claimedAt: created + i,
        completedAt: created + i + 2 * i,
        workerId: "w",
      });
    }
    const { latency } = await feed.snapshot();
    assert.deepEqual(latency.queueWait, { p50: 50, p90: 90, p99: 99, count: 100 });
    assert.deepEqual(latency.run, { p50: 100, p90: 180, p99: 198, count: 100 });
  } finally {
    feed.close();
  }
});

Deno.test("LiveFeed.subscribe() fans one snapshot out to all, task events by type, with kinds", async () => {
  await using c = await testCoordinator();
  const feed = new LiveFeed(c.ctx, c.workers, { intervalMs: 100, flushMs: 10 });
  const all: string[] = [];
  const echoes: string[] = [];
  let ended = 0;
  const offAll = feed.subscribe({ send: (s) => all.push(s), end: () => ended++ });
  feed.subscribe({ send: (s) => echoes.push(s), end: () => ended++, types: new Set(["x.other"]) });
  try {
    c.workers.seen("volunteer-1", { kind: "browser" });
    const now = Date.now();
    const done = await endedTask(c, {
      status: "completed",
      claimedAt: now - 5,
      completedAt: now,
      workerId: "volunteer-1",
    });
    c.ctx.signals.taskEnded(done);
    const failed = await endedTask(c, {
      status: "failed",
      claimedAt: now - 5,
      completedAt: now,
      workerId: "volunteer-1",
      error: { code: "handler", message: "boom", retryable: false },
    });
    c.ctx.signals.taskEnded(failed);
    await sleep(350);

    const events = all.flatMap(parse);
    const tasks = events.filter((e) => e.event === "task").map((e) => e.data as LiveTaskEvent);
    assert.deepEqual(tasks.map((t) => [t.id, t.status, t.workerKind]), [
      [done.id, "completed", "browser"],
      [failed.id, "failed", "browser"],
    ]);
    assert.ok(!echoes.flatMap(parse).some((e) => e.event === "task"), "filtered out");

    const snapshots = events.filter((e) => e.event === "stats").map((e) => e.data as LiveSnapshot);
    assert.ok(snapshots.length >= 2, "one snapshot a second (here every 100 ms)");
    const last = snapshots.at(-1)!;
    assert.equal(last.workers.online.browser, 1);
    assert.equal(last.workers.list[0].id, "volunteer-1");
    assert.ok(last.workers.list[0].rate > 0, "rate from completions seen here");
    assert.deepEqual(last.failures.map((f) => [f.id, f.message]), [[failed.id, "boom"]]);
    // The same text went to both subscribers: serialized once.
    const statsOf = (chunks: string[]) => chunks.filter((s) => s.startsWith("event: stats"));
    assert.equal(statsOf(echoes).at(-1), statsOf(all).at(-1));

    offAll();
    assert.equal(feed.subscriberCount, 1);
  } finally {
    feed.close();
  }
  assert.equal(ended, 1, "close() ends the subscribers still there");
});

Deno.test("LiveFeed events are exactly the LiveSnapshot and LiveTaskEvent schemas of the protocol", async () => {
  await using c = await testCoordinator();
  c.workers.seen("volunteer-2", { kind: "deno", types: ["demo.echo"], concurrency: 2 });
  const feed = new LiveFeed(c.ctx, c.workers, { intervalMs: 100, flushMs: 10 });
  const chunks: string[] = [];
  feed.subscribe({ send: (s) => chunks.push(s), end: () => {} });
  try {
    const now = Date.now();
    const common = { claimedAt: now - 5, completedAt: now, workerId: "volunteer-2" };
    c.ctx.signals.taskEnded(await endedTask(c, { ...common, status: "completed", result: 1 }));
    c.ctx.signals.taskEnded(
      await endedTask(c, {
        ...common,
        status: "failed",
        error: { code: "handler", message: "boom", retryable: false },
      }),
    );
    await sleep(350);
    const events = chunks.flatMap(parse);
    const stats = events.filter((e) => e.event === "stats");
    const tasks = events.filter((e) => e.event === "task");
    assert.ok(stats.length >= 1 && tasks.length === 2);
    // Parsing strips keys a schema does not name, so equality means no field is missing or extra.
    for (const e of stats) assert.deepEqual(LiveSnapshot.parse(e.data), e.data);
    for (const e of tasks) assert.deepEqual(LiveTaskEvent.parse(e.data), e.data);
    const last = LiveSnapshot.parse(stats.at(-1)!.data);
    assert.equal(last.failures.length, 1, "the failure is in the snapshot the schema checked");
  } finally {
    feed.close();
  }
});
