import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import handler, { MAX_PIXELS, MAX_RESULT_BYTES } from "./mandelbrot_tile.ts";
import { progressIsSane, refusedPaths, runHandler, testContext } from "./_test_context.ts";

/** Straightforward reference: iterate z = z^2 + c with complex pairs, count steps until |z| > 2. */
function referenceTile(
  p: { x0: number; y0: number; x1: number; y1: number; width: number; height: number },
  maxIter: number,
): number[] {
  const out: number[] = [];
  for (let row = 0; row < p.height; row++) {
    for (let col = 0; col < p.width; col++) {
      const c = [
        p.x0 + (col + 0.5) * (p.x1 - p.x0) / p.width,
        p.y0 + (row + 0.5) * (p.y1 - p.y0) / p.height,
      ];
      let z = [0, 0];
      let steps = 0;
      do {
        z = [z[0] * z[0] - z[1] * z[1] + c[0], 2 * z[0] * z[1] + c[1]];
        steps++;
      } while (steps < maxIter && z[0] * z[0] + z[1] * z[1] <= 4);
      out.push(steps);
    }
  }
  return out;
}

Deno.test("mandelbrot.tile gives maxIter for the origin, which never escapes", async () => {
  const result = await runHandler(handler, {
    x0: -1,
    y0: -1,
    x1: 1,
    y1: 1,
    width: 1,
    height: 1,
    maxIter: 500,
  });
  deepStrictEqual(result, { width: 1, height: 1, maxIter: 500, iterations: [500] });
});

Deno.test("mandelbrot.tile gives 1 for c = 2 + 2i, which escapes at the first step", async () => {
  const result = await runHandler(handler, {
    x0: 1.5,
    y0: 1.5,
    x1: 2.5,
    y1: 2.5,
    width: 1,
    height: 1,
    maxIter: 500,
  });
  deepStrictEqual(result.iterations, [1]);
});

Deno.test("mandelbrot.tile gives 3 for c = 1 (|z1| = 1, |z2| = 2 is not > 2, |z3| = 5)", async () => {
  const result = await runHandler(handler, {
    x0: 0.5,
    y0: -0.5,
    x1: 1.5,
    y1: 0.5,
    width: 1,
    height: 1,
    maxIter: 500,
  });
  deepStrictEqual(result.iterations, [3]);
});

Deno.test("mandelbrot.tile matches an independent loop on a 16x12 tile, rows from y0 up", async () => {
  const tile = { x0: -2, y0: -1.25, x1: 0.75, y1: 1.25, width: 16, height: 12 };
  const ctx = testContext();
  const result = await runHandler(handler, { ...tile, maxIter: 200 }, ctx);
  strictEqual(result.iterations.length, 16 * 12);
  deepStrictEqual(result.iterations, referenceTile(tile, 200));
  ok(progressIsSane(ctx.progressReports));
  ok(ctx.progressReports.length >= 12, "progress is reported per row");
});

Deno.test("mandelbrot.tile orders rows from y0 upward (asymmetric tile)", async () => {
  // Row 0 samples y = 0 (inside the set, maxIter), row 1 samples y = 2 (escapes quickly).
  const result = await runHandler(handler, {
    x0: -0.5,
    y0: -1,
    x1: 0.5,
    y1: 3,
    width: 1,
    height: 2,
    maxIter: 100,
  });
  strictEqual(result.iterations[0], 100);
  ok(result.iterations[1] < 100);
});

Deno.test("mandelbrot.tile refuses bad params, naming the field", () => {
  const base = { x0: -2, y0: -1, x1: 1, y1: 1, width: 64, height: 64, maxIter: 100 };
  deepStrictEqual(refusedPaths(handler.params, { ...base, x1: -3 }), ["x1"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, y1: -1 }), ["y1"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, x0: Infinity }), ["x0"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, y0: Number.NaN }), ["y0"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, x0: "0" }), ["x0"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, width: 257 }), ["width"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, height: 1.5 }), ["height"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, maxIter: 0 }), ["maxIter"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, maxIter: 100_001 }), ["maxIter"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, x0: -1e308, x1: 1e308 }), ["x1"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, width: undefined }), ["width"]);
});

Deno.test("mandelbrot.tile refuses more than 16384 pixels, naming the limit", () => {
  const parsed = handler.params.safeParse({
    x0: 0,
    y0: 0,
    x1: 1,
    y1: 1,
    width: 256,
    height: 65,
    maxIter: 1,
  });
  ok(!parsed.success);
  deepStrictEqual(parsed.error.issues.map((i) => i.path), [["width"]]);
  ok(parsed.error.issues[0].message.includes(String(MAX_PIXELS)));
});

Deno.test("mandelbrot.tile refuses tiles whose result could exceed 32 KiB of JSON", () => {
  const tile = { x0: 0, y0: 0, x1: 1, y1: 1 };
  // 100x100 counts of up to 2 digits: 10000 * 3 bytes fits; of up to 3 digits does not.
  ok(handler.params.safeParse({ ...tile, width: 100, height: 100, maxIter: 99 }).success);
  const parsed = handler.params.safeParse({ ...tile, width: 100, height: 100, maxIter: 100 });
  ok(!parsed.success);
  deepStrictEqual(parsed.error.issues.map((i) => i.path), [["width"]]);
  ok(parsed.error.issues[0].message.includes(String(MAX_RESULT_BYTES)));
  ok(!handler.params.safeParse({ ...tile, width: 128, height: 128, maxIter: 9 }).success);
  ok(handler.params.safeParse({ ...tile, width: 73, height: 73, maxIter: 99_999 }).success);
  ok(handler.params.safeParse({ ...tile, width: 68, height: 68, maxIter: 100_000 }).success);
  ok(!handler.params.safeParse({ ...tile, width: 69, height: 69, maxIter: 100_000 }).success);
});

Deno.test("mandelbrot.tile worst-case result (every pixel at maxIter) fits 32 KiB", async () => {
  // Points near the origin never escape, so every count is maxIter: the longest possible JSON.
  for (const [side, maxIter] of [[100, 99], [89, 999]]) {
    const result = await runHandler(handler, {
      x0: -0.05,
      y0: -0.05,
      x1: 0.05,
      y1: 0.05,
      width: side,
      height: side,
      maxIter,
    });
    ok(result.iterations.every((n) => n === maxIter));
    const bytes = new TextEncoder().encode(JSON.stringify(result)).length;
    ok(bytes <= MAX_RESULT_BYTES, `${bytes} bytes`);
    ok(bytes > MAX_RESULT_BYTES - 4000, "the bound is not needlessly strict");
  }
});

Deno.test("mandelbrot.tile stops promptly when the signal aborts mid-run", async () => {
  const controller = new AbortController();
  const reason = new Error("stop");
  const timer = setTimeout(() => controller.abort(reason), 30);
  const started = performance.now();
  try {
    // All points inside the set with a huge maxIter: seconds of work if not aborted.
    await rejects(
      runHandler(handler, {
        x0: -0.05,
        y0: -0.05,
        x1: 0.05,
        y1: 0.05,
        width: 64,
        height: 64,
        maxIter: 100_000,
      }, testContext({ signal: controller.signal })),
      (err) => err === reason,
    );
  } finally {
    clearTimeout(timer);
  }
  ok(performance.now() - started < 1000, "aborted within a second");
});
