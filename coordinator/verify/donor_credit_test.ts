// deno-lint-ignore-file no-explicit-any -- reading a mutation's value
import assert from "node:assert/strict";
import type { Task, Vote } from "../../shared/protocol.ts";
import { donorPendingKey } from "../store/keys.ts";
import { pendingCreditMoves } from "./donor_credit.ts";

const vote = (donorId: string | null, computeMs = 100): Vote => ({
  leaseId: `l-${donorId}`,
  workerId: `w-${donorId}`,
  donorId,
  computeMs,
  hash: "h",
  at: 1,
});

const task = (over: Partial<Task>): Task =>
  ({ id: "t1", status: "pending", votes: [], ...over }) as Task;

Deno.test("pendingCreditMoves() sets an entry per donor's vote while undecided, re-sets it when the task starts waiting for a record, and deletes all when it ends", () => {
  const a = vote("a", 120);
  const first = pendingCreditMoves(task({}), task({ votes: [a] }));
  assert.deepEqual(first, [{
    type: "set",
    key: donorPendingKey("a", "t1"),
    value: { computeMs: 120, waiting: false, at: 1 },
  }]);
  // A vote without a donor (a server worker) has no credit to wait for.
  assert.deepEqual(pendingCreditMoves(task({ votes: [a] }), task({ votes: [a, vote(null)] })), []);

  const b = vote("b");
  const waiting = pendingCreditMoves(
    task({ votes: [a] }),
    task({ votes: [a, b], waiting: "needs a voter with a record" }),
  );
  assert.deepEqual(waiting.map((m) => [m.type, m.key, (m as any).value?.waiting]), [
    ["set", donorPendingKey("a", "t1"), true],
    ["set", donorPendingKey("b", "t1"), true],
  ]);

  // However it ends (decided, failed unverified at its deadline, cancelled): nothing stays.
  for (const status of ["completed", "failed", "cancelled"] as const) {
    const ended = pendingCreditMoves(
      task({ votes: [a, b], waiting: "x" }),
      task({ votes: [a, b, vote("c")], status }),
    );
    assert.deepEqual(ended, [
      { type: "delete", key: donorPendingKey("a", "t1") },
      { type: "delete", key: donorPendingKey("b", "t1") },
    ], status);
  }
  assert.deepEqual(pendingCreditMoves(task({}), task({ status: "completed" })), []);
});
