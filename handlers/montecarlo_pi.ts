/**
 * `montecarlo.pi`: counts how many of `samples` pseudo-random points (x, y) in [0, 1)^2 satisfy
 * `x * x + y * y <= 1`; `4 * hits / samples` estimates pi.
 *
 * PRNG: mulberry32 (Tommy Ettinger's 32-bit generator), seeded with the uint32 `seed`. Each sample
 * draws two outputs, first x then y, each mapped to [0, 1) as `u / 2^32`. It uses only 32-bit
 * integer operations (`Math.imul`, shifts, xor) and exact double arithmetic, so every JavaScript
 * engine produces the same sequence and the same `hits`. The state is kept modulo 2^32; the widely
 * copied one-liner lets it grow as an unbounded double, which agrees with this for the first ~4.9
 * million draws and then loses precision, so it is not used.
 *
 * @module
 */
import { z } from "zod";
import { defineHandler } from "./contract.ts";
import { checkpointer } from "./_cooperate.ts";

/** Samples between signal checks and progress reports. */
export const CHUNK = 100_000;

const params = z.object({
  seed: z.number().int().min(0).max(0xffff_ffff),
  samples: z.number().int().min(1).max(100_000_000),
});

const result = z.object({
  seed: z.number().int(),
  samples: z.number().int(),
  hits: z.number().int().min(0),
});

/** mulberry32: returns a generator of uint32 values for a uint32 seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const TWO_POW_32 = 4294967296;

export default defineHandler({
  type: "montecarlo.pi",
  description: "Monte Carlo estimate of pi: seeded mulberry32 points in the unit quarter circle",
  params,
  result,
  verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 4 },
  timeoutMs: 120_000,
  maxTimeoutMs: 300_000,
  samples: (r) => ({
    params: { seed: Math.floor(r() * 0xffff_ffff), samples: 2_000 + Math.floor(r() * 3_000) },
  }),
  async run({ seed, samples }, ctx) {
    const checkpoint = checkpointer(ctx);
    const next = mulberry32(seed);
    let hits = 0;
    for (let done = 0; done < samples;) {
      await checkpoint(done / samples);
      const end = Math.min(done + CHUNK, samples);
      for (; done < end; done++) {
        const x = next() / TWO_POW_32;
        const y = next() / TWO_POW_32;
        if (x * x + y * y <= 1) hits++;
      }
    }
    ctx.progress(1);
    return { seed, samples, hits };
  },
});
