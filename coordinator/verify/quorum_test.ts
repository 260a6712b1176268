import assert from "node:assert/strict";
import type { Vote } from "../../shared/protocol.ts";
import { decide } from "./quorum.ts";
import type { Trust } from "./reputation.ts";

const vote = (hash: string, trust: Trust, n = 0) => ({
  vote: { leaseId: `l${n}`, workerId: `w${n}`, donorId: null, hash, at: 0 } as Vote,
  trust,
});

Deno.test("decide() needs agree matching votes and, with spot checks on, one voter with a record", () => {
  assert.equal(decide([vote("a", "new", 1), vote("a", "new", 2)], 2, false, "a", true), null);
  assert.equal(
    decide([vote("a", "new", 1), vote("a", "established", 2)], 2, false, "a", true),
    "a",
  );
  // Without spot checks nobody can earn a record: the count alone decides.
  assert.equal(decide([vote("a", "new", 1), vote("a", "new", 2)], 2, false, "a", false), "a");
});

Deno.test("decide() takes one trusted voter's result alone only under adaptive verification", () => {
  assert.equal(decide([vote("a", "trusted")], 2, true, "a", true), "a");
  assert.equal(decide([vote("a", "trusted")], 2, false, "a", true), null);
});

Deno.test("decide() lets no group win short of agree votes, whoever is in it", () => {
  const split = [vote("a", "established", 1), vote("b", "established", 2)];
  assert.equal(decide(split, 2, false, "a", true), null);
  assert.equal(decide([...split, vote("b", "new", 3)], 2, false, "a", true), "b");
});
