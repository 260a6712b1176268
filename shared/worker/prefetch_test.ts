import assert from "node:assert/strict";
import { createPrefetch, MAX_PREFETCH_PER_SLOT, prefetchFor } from "./prefetch.ts";

Deno.test("prefetch covers two round trips of the slots' work, at least one lease, at most the cap", () => {
  // 8 slots finishing 5 ms tasks, 10 ms round trip: 32 tasks finish in two round trips.
  assert.equal(prefetchFor(8, 5, 10), 32);
  assert.equal(prefetchFor(2, 50, 10), 1);
  assert.equal(prefetchFor(8, 10_000, 10), 1);
  assert.equal(prefetchFor(8, 0, 10), 8 * MAX_PREFETCH_PER_SLOT);
  assert.equal(prefetchFor(8, 0.05, 50), 8 * MAX_PREFETCH_PER_SLOT);
});

Deno.test("a worker's capacity follows its tasks' run time, changes at most every half second, and never after stopping", () => {
  let t = 0;
  const applied: number[] = [];
  const p = createPrefetch({ slots: 4, initial: 6, apply: (c) => applied.push(c), now: () => t });
  p.ran(1, null); // No round trip measured yet: nothing to go on.
  assert.deepEqual(applied, []);
  p.ran(1, 10);
  assert.deepEqual(applied, [4 + 4 * 8]);
  t += 100;
  for (let i = 0; i < 50; i++) p.ran(10_000, 10); // Long tasks now, but within the half second.
  assert.deepEqual(applied, [36]);
  t += 500;
  p.ran(10_000, 10);
  assert.deepEqual(applied, [36, 5]);
  t += 500;
  p.ran(10_000, 10); // Unchanged: no credit message.
  assert.deepEqual(applied, [36, 5]);
  p.stop();
  t += 500;
  p.ran(1, 10);
  assert.deepEqual(applied, [36, 5]);
});
