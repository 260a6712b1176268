import assert from "node:assert/strict";
import { FIXTURE_NOW as NOW, sampleTask as task } from "../../test/_task_fixture.ts";
import {
  countKey,
  delayedKey,
  failedKey,
  keyString,
  leaseKey,
  readyKey,
  readySignalKey,
  statusIndexKey,
  taskKey,
} from "./keys.ts";
import { applyTransition } from "./transition.ts";

const keys = (ms: Deno.KvMutation[], type: string) =>
  ms.filter((m) => m.type === type).map((m) => keyString(m.key));

Deno.test("applyTransition() ends the leases, writes the record and moves the list index and counters once", () => {
  const from = task();
  const next = task({ status: "completed", result: { ok: 1 }, completedAt: NOW });
  const intent = applyTransition({
    from,
    counted: "processing",
    next,
    checks: [{ key: leaseKey("t1", "l1"), versionstamp: "00" }],
    endsLeases: [{ leaseId: "l1" }],
  }, NOW);
  assert.deepEqual(intent.checks, [{ key: leaseKey("t1", "l1"), versionstamp: "00" }]);
  assert.deepEqual(
    keys(intent.mutations, "delete").sort(),
    [
      keyString(leaseKey("t1", "l1")),
      keyString(statusIndexKey("open", "q", "t1")),
    ].sort(),
  );
  assert.deepEqual(
    keys(intent.mutations, "set").sort(),
    [
      keyString(statusIndexKey("completed", "q", "t1")),
      keyString(taskKey("t1")),
    ].sort(),
  );
  assert.deepEqual(intent.sums, [
    [countKey("demo.echo", "q", "processing"), -1n],
    [countKey("demo.echo", "q", "completed"), 1n],
  ]);
});

Deno.test("applyTransition() queues slots ready or delayed, and signals only the ready ones", () => {
  const from = task();
  const ready = applyTransition({
    from,
    counted: "processing",
    next: task({ runAt: NOW }),
    checks: [],
    enqueue: [0],
  }, NOW);
  assert.ok(
    keys(ready.mutations, "set").includes(
      keyString(readyKey({ queue: "q", type: "demo.echo", priority: 0, id: "t1" })),
    ),
  );
  assert.deepEqual(ready.sums, [
    [readySignalKey("q", "demo.echo"), 1n],
    [countKey("demo.echo", "q", "processing"), -1n],
    [countKey("demo.echo", "q", "pending"), 1n],
  ]);
  const later = applyTransition({
    from,
    counted: "processing",
    next: task({ runAt: NOW + 5000 }),
    checks: [],
    enqueue: [0],
  }, NOW);
  assert.ok(keys(later.mutations, "set").includes(keyString(delayedKey(NOW + 5000, "t1", 0))));
  assert.ok(!later.sums!.some(([k]) => k[0] === "signal"));
});

Deno.test("applyTransition() keeps the failed index: set when a task fails, gone when it is retried, never for unlisted tasks", () => {
  const failed = task({ status: "failed", completedAt: NOW });
  const fail = applyTransition(
    { from: task(), counted: "processing", next: failed, checks: [] },
    NOW,
  );
  assert.ok(keys(fail.mutations, "set").includes(keyString(failedKey("t1"))));
  const retry = applyTransition({
    from: failed,
    counted: "failed",
    next: task({ attempts: 0 }),
    checks: [],
    enqueue: [0],
  }, NOW);
  assert.ok(keys(retry.mutations, "delete").includes(keyString(failedKey("t1"))));
  const spot = applyTransition({
    from: task(),
    counted: "processing",
    next: failed,
    checks: [],
    unlisted: true,
  }, NOW);
  assert.ok(!keys(spot.mutations, "set").includes(keyString(failedKey("t1"))));
});

Deno.test("applyTransition() writes no status counters when the counted status does not change", () => {
  const t = task({
    status: "processing",
    verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 3, adaptive: false },
  });
  const intent = applyTransition({
    from: t,
    counted: "processing",
    next: { ...t, live: 1 },
    checks: [],
  }, NOW);
  assert.deepEqual(intent.sums, []);
});
