import assert from "node:assert/strict";
import { chunkInputs } from "./chunk_inputs.ts";

Deno.test("chunkInputs() cuts by count and by JSON size, keeping order", () => {
  const inputs = Array.from({ length: 10 }, (_, i) => ({ i }));
  assert.deepEqual(chunkInputs(inputs, 1e9, 4).map((c) => c.length), [4, 4, 2]);
  // {"i":0} is 7 characters, 8 with its separator: two fit in 16.
  assert.deepEqual(chunkInputs(inputs, 16).map((c) => c.length), [2, 2, 2, 2, 2]);
  assert.deepEqual(chunkInputs(inputs, 16).flat(), inputs);
});

Deno.test("chunkInputs() gives an oversized input a chunk of its own and never returns none", () => {
  assert.deepEqual(chunkInputs(["x".repeat(50), 1], 10), [["x".repeat(50)], [1]]);
  assert.deepEqual(chunkInputs([]), [[]]);
});
