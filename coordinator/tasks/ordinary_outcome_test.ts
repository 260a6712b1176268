import assert from "node:assert/strict";
import { FIXTURE_NOW as NOW, sampleTask as task } from "../../test/_task_fixture.ts";
import { countKey, failedKey, keyString, readyKey, taskKey } from "../store/keys.ts";
import type { LeaseRecord } from "../store/task_view.ts";
import { endAttempt } from "./ordinary_outcome.ts";

const lease = (attempt = 1): LeaseRecord => ({
  leaseId: "l1",
  taskId: "t1",
  workerId: "w1",
  attempt,
  startedAt: NOW - 50,
  expiresAt: NOW + 30_000,
  leaseMs: 30_000,
  slot: 0,
  donorId: null,
  kind: "deno",
} as LeaseRecord);

const sets = (m: Deno.KvMutation[]) =>
  m.filter((x) => x.type === "set").map((x) => keyString(x.key));

Deno.test("endAttempt() completed: the result is the task's, counted once, the lease checked", () => {
  const e = endAttempt(task(), lease(), "vs", { kind: "completed", result: { ok: 1 } }, NOW);
  assert.equal(e.final, true);
  assert.equal(e.next.status, "completed");
  assert.deepEqual(e.next.result, { ok: 1 });
  assert.equal(e.next.history.at(-1)?.outcome, "completed");
  assert.deepEqual(e.intent.checks.map((c) => c.versionstamp), ["vs"]);
  assert.ok(
    e.intent.sums!.some(([k, n]) =>
      keyString(k) === keyString(countKey("demo.echo", "q", "completed")) && n === 1n
    ),
  );
});

Deno.test("endAttempt() failed and retryable with attempts left: pending again after a backoff", () => {
  const error = { code: "handler" as const, message: "boom", retryable: true };
  const e = endAttempt(task(), lease(1), "vs", { kind: "failed", error }, NOW);
  assert.equal(e.final, false);
  assert.equal(e.next.status, "pending");
  assert.ok(e.next.runAt >= NOW + 500 && e.next.runAt <= NOW + 1000, String(e.next.runAt - NOW));
  assert.equal(e.next.attempts, 1);
});

Deno.test("endAttempt() failed for good: not retryable, or the last attempt; the failed index set", () => {
  const error = { code: "handler" as const, message: "boom", retryable: false };
  const once = endAttempt(task(), lease(1), "vs", { kind: "failed", error }, NOW);
  assert.equal(once.next.status, "failed");
  assert.ok(sets(once.intent.mutations).includes(keyString(failedKey("t1"))));
  const last = endAttempt(task(), lease(3), "vs", {
    kind: "failed",
    error: { ...error, retryable: true },
  }, NOW);
  assert.equal(last.next.status, "failed");
  assert.equal(last.final, true);
});

Deno.test("endAttempt() expired: a retryable expired error naming the worker", () => {
  const e = endAttempt(task(), lease(1), "vs", { kind: "expired" }, NOW);
  assert.equal(e.next.status, "pending");
  assert.equal(e.next.error?.code, "expired");
  assert.match(e.next.error!.message, /w1/);
});

Deno.test("endAttempt() released: ready again at once, and the attempt does not count", () => {
  const e = endAttempt(task({ attempts: 0 }), lease(1), "vs", { kind: "released" }, NOW);
  assert.equal(e.next.status, "pending");
  assert.equal(e.next.attempts, 0);
  assert.equal(e.next.runAt, NOW);
  assert.ok(
    sets(e.intent.mutations).includes(
      keyString(readyKey({ queue: "q", type: "demo.echo", priority: 0, id: "t1" })),
    ),
  );
});

Deno.test("endAttempt() cancelled: final, nothing queued again", () => {
  const e = endAttempt(task(), lease(1), "vs", { kind: "cancelled" }, NOW);
  assert.equal(e.next.status, "cancelled");
  assert.equal(e.final, true);
  assert.ok(!sets(e.intent.mutations).some((k) => k.startsWith("ready")));
  assert.ok(sets(e.intent.mutations).includes(keyString(taskKey("t1"))));
});
