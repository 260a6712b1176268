import assert from "node:assert/strict";
import { backoffDelay } from "./backoff.ts";

Deno.test("backoffDelay() doubles from baseMs up to maxMs", () => {
  const b = { baseMs: 100, maxMs: 1000, jitter: false };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, b)), [
    100,
    200,
    400,
    800,
    1000,
    1000,
  ]);
});

Deno.test("backoffDelay() jitters into [0.5, 1] of the delay", () => {
  const b = { baseMs: 1000, maxMs: 60_000 };
  assert.equal(backoffDelay(3, b, 0), 2000);
  assert.equal(backoffDelay(3, b, 1), 4000);
});
