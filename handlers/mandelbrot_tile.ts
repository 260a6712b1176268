/**
 * `mandelbrot.tile`: escape-iteration counts for a rectangular tile of the complex plane.
 *
 * Params are flat: `{ x0, y0, x1, y1, width, height, maxIter }`, bounds finite with x0 < x1 and
 * y0 < y1, `width * height` at most {@link MAX_PIXELS}, and the worst-case result JSON (every count
 * written with as many digits as `maxIter`) at most {@link MAX_RESULT_BYTES}: the wire protocol
 * refuses larger results. So 100x100 tiles allow maxIter <= 99, 89x89 <= 999, 80x80 <= 9999,
 * 73x73 <= 99999 and 68x68 any maxIter.
 *
 * Sampling: pixel (i, j) samples its centre, `cx = x0 + ((i + 0.5) * (x1 - x0)) / width` and
 * `cy = y0 + ((j + 0.5) * (y1 - y0)) / height`. Row j = 0 is the row nearest y0 (rows go upward in
 * the complex plane); `iterations` is row-major: index `j * width + i`.
 *
 * Iteration convention: z0 = 0, z(n+1) = z(n)^2 + c, computed exactly as
 * `zx' = zx * zx - zy * zy + cx`, `zy' = 2 * zx * zy + cy` in IEEE-754 doubles. The count for a
 * pixel is the smallest n >= 1 with `zx * zx + zy * zy > 4` (|z(n)| > 2), capped at `maxIter`.
 * So a point that escapes at the first step, such as c = 2 + 2i, gets 1; a point that has not
 * escaped after `maxIter` steps (such as the origin) gets `maxIter`. JavaScript never fuses
 * multiply-adds, so every engine produces the same counts.
 *
 * @module
 */
import { z } from "zod";
import { defineHandler } from "./contract.ts";
import { checkpointer } from "./_cooperate.ts";
import { whenValid } from "./_schema.ts";

/** Largest tile, in pixels. */
export const MAX_PIXELS = 16384;
/** Largest result JSON, in bytes; matches the protocol's result limit (32 KiB). */
export const MAX_RESULT_BYTES = 32 * 1024;

/** Upper bound of the result's JSON size in bytes: every count as long as `maxIter`. */
export function worstResultBytes(width: number, height: number, maxIter: number): number {
  const frame = JSON.stringify({ width, height, maxIter, iterations: [] }).length;
  const pixels = width * height;
  return frame + pixels * (String(maxIter).length + 1) - 1;
}

const params = z
  .object({
    x0: z.number(),
    y0: z.number(),
    x1: z.number(),
    y1: z.number(),
    width: z.number().int().min(1).max(256),
    height: z.number().int().min(1).max(256),
    maxIter: z.number().int().min(1).max(100_000),
  })
  .refine((p) => p.x0 < p.x1 && Number.isFinite(p.x1 - p.x0), {
    message: "x1 must be greater than x0 (and x1 - x0 finite)",
    path: ["x1"],
    ...whenValid("x0", "x1"),
  })
  .refine((p) => p.y0 < p.y1 && Number.isFinite(p.y1 - p.y0), {
    message: "y1 must be greater than y0 (and y1 - y0 finite)",
    path: ["y1"],
    ...whenValid("y0", "y1"),
  })
  .refine((p) => p.width * p.height <= MAX_PIXELS, {
    message: `width * height must be at most ${MAX_PIXELS} pixels`,
    path: ["width"],
    ...whenValid("width", "height"),
  })
  .refine((p) => worstResultBytes(p.width, p.height, p.maxIter) <= MAX_RESULT_BYTES, {
    message: `the result could exceed ${MAX_RESULT_BYTES} bytes of JSON: width * height * ` +
      `(digits of maxIter + 1) must stay below about ${MAX_RESULT_BYTES - 80}; ` +
      `use a smaller tile or a smaller maxIter`,
    path: ["width"],
    ...whenValid("width", "height", "maxIter"),
  });

const result = z.object({
  width: z.number().int(),
  height: z.number().int(),
  maxIter: z.number().int(),
  iterations: z.array(z.number().int()),
});

export default defineHandler({
  type: "mandelbrot.tile",
  description: "Mandelbrot escape-iteration counts for one tile of the complex plane",
  params,
  result,
  verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 4 },
  timeoutMs: 60_000,
  maxTimeoutMs: 300_000,
  samples: (r) => {
    const x0 = -2 + r() * 2, y0 = -1 + r() * 1.5;
    return { params: { x0, y0, x1: x0 + 0.5, y1: y0 + 0.5, width: 16, height: 16, maxIter: 64 } };
  },
  async run({ x0, y0, x1, y1, width, height, maxIter }, ctx) {
    const checkpoint = checkpointer(ctx);
    const iterations: number[] = new Array(width * height);
    const dx = x1 - x0;
    const dy = y1 - y0;
    for (let j = 0; j < height; j++) {
      await checkpoint(j / height);
      const cy = y0 + ((j + 0.5) * dy) / height;
      for (let i = 0; i < width; i++) {
        const cx = x0 + ((i + 0.5) * dx) / width;
        let zx = 0;
        let zy = 0;
        let n = 0;
        while (n < maxIter) {
          const nx = zx * zx - zy * zy + cx;
          zy = 2 * zx * zy + cy;
          zx = nx;
          n++;
          if (zx * zx + zy * zy > 4) break;
        }
        iterations[j * width + i] = n;
      }
    }
    ctx.progress(1);
    return { width, height, maxIter, iterations };
  },
});
