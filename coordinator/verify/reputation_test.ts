import assert from "node:assert/strict";
import { combinedTrust, trustOf } from "./reputation.ts";
import { wantsSpotCheck } from "./spot_checks.ts";

Deno.test("trustOf() bans a record with 3+ disagreements and more than one per four agreements", () => {
  assert.equal(trustOf({ agree: 0, disagree: 3 }), "banned");
  assert.equal(trustOf({ agree: 11, disagree: 3 }), "banned");
  assert.equal(trustOf({ agree: 12, disagree: 3 }), "established");
});

Deno.test("trustOf() trusts 10+ agreements with at most one disagreement per 50", () => {
  assert.equal(trustOf({ agree: 10, disagree: 0 }), "trusted");
  assert.equal(trustOf({ agree: 49, disagree: 1 }), "established");
  assert.equal(trustOf({ agree: 50, disagree: 1 }), "trusted");
});

Deno.test("trustOf() calls a worker with 2 agreements established, and anyone less new", () => {
  assert.equal(trustOf({ agree: 2, disagree: 0 }), "established");
  assert.equal(trustOf({ agree: 1, disagree: 0 }), "new");
  assert.equal(trustOf({ agree: 0, disagree: 0 }), "new");
  assert.equal(trustOf({ agree: 3, disagree: 1 }), "new");
});

Deno.test("combinedTrust() bans every worker of a banned donor, and otherwise takes the worker's own", () => {
  const good = { agree: 20, disagree: 0 };
  assert.equal(combinedTrust(good, { agree: 0, disagree: 5 }), "banned");
  assert.equal(combinedTrust(good, { agree: 0, disagree: 0 }), "trusted");
  assert.equal(combinedTrust({ agree: 0, disagree: 0 }, good), "new");
  assert.equal(combinedTrust(good, null), "trusted");
});

Deno.test("wantsSpotCheck() checks newcomers at every claim, others now and then, operators only with all", () => {
  const newcomer = { agree: 0, disagree: 0 };
  const known = { agree: 40, disagree: 0 };
  assert.equal(wantsSpotCheck("untrusted", false, newcomer, 0.9), true);
  assert.equal(wantsSpotCheck("untrusted", false, known, 0.9), false);
  assert.equal(wantsSpotCheck("untrusted", false, known, 0.01), true);
  assert.equal(wantsSpotCheck("untrusted", true, newcomer, 0), false);
  assert.equal(wantsSpotCheck("all", true, newcomer, 0.9), true);
  assert.equal(wantsSpotCheck("off", false, newcomer, 0), false);
});
