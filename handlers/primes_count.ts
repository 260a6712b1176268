/**
 * `primes.count`: how many primes lie in the HALF-OPEN range [from, to), i.e. primes p with
 * `from <= p < to` (so `{ from: 0, to: 100 }` counts the 25 primes below 100, and `to` itself is
 * never counted).
 *
 * Segmented sieve of Eratosthenes over odd numbers only: base primes up to sqrt(to - 1) from a
 * plain sieve, then segments of {@link SEGMENT_BYTES} bytes (one byte per odd number), each base
 * prime remembering its next odd multiple across segments. All values stay below 2^53, so plain
 * numbers are exact.
 *
 * @module
 */
import { z } from "zod";
import { defineHandler } from "./contract.ts";
import { checkpointer } from "./_cooperate.ts";
import { whenValid } from "./_schema.ts";

/** Bytes per sieve segment; each byte stands for one odd number. */
export const SEGMENT_BYTES = 32 * 1024;
/** Largest allowed `to`. */
export const MAX_TO = 1e12;
/** Largest allowed `to - from`. */
export const MAX_SPAN = 1e8;

const params = z
  .object({
    from: z.number().int().min(0),
    to: z.number().int().min(0).max(MAX_TO),
  })
  .refine((p) => p.from <= p.to, {
    message: "from must be <= to",
    path: ["from"],
    ...whenValid("from", "to"),
  })
  .refine((p) => p.to - p.from <= MAX_SPAN, {
    message: `to - from must be at most ${MAX_SPAN}`,
    path: ["to"],
    ...whenValid("from", "to"),
  });

const result = z.object({
  from: z.number().int(),
  to: z.number().int(),
  count: z.number().int().min(0),
});

/** floor(sqrt(n)) for 0 <= n < 2^53, corrected against floating-point rounding. */
function isqrt(n: number): number {
  let r = Math.floor(Math.sqrt(n));
  while (r * r > n) r--;
  while ((r + 1) * (r + 1) <= n) r++;
  return r;
}

/** The odd primes <= limit, by a plain sieve (limit <= 10^6 here). */
function oddPrimesUpTo(limit: number): number[] {
  if (limit < 3) return [];
  const composite = new Uint8Array(limit + 1);
  const primes: number[] = [];
  for (let n = 3; n <= limit; n += 2) {
    if (composite[n]) continue;
    primes.push(n);
    for (let m = n * n; m <= limit; m += 2 * n) composite[m] = 1;
  }
  return primes;
}

export default defineHandler({
  type: "primes.count",
  description: "Counts the primes p with from <= p < to (segmented sieve of Eratosthenes)",
  params,
  result,
  verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 4 },
  timeoutMs: 120_000,
  maxTimeoutMs: 300_000,
  samples: (r) => {
    const from = Math.floor(r() * 1_000_000);
    return { params: { from, to: from + 2_000 + Math.floor(r() * 3_000) } };
  },
  async run({ from, to }, ctx) {
    const checkpoint = checkpointer(ctx);
    ctx.signal.throwIfAborted();
    let count = from <= 2 && 2 < to ? 1 : 0;

    // Odd numbers in [lo, to): slot k of a segment starting at segLo stands for segLo + 2k.
    let lo = Math.max(from, 3);
    if (lo % 2 === 0) lo++;
    if (lo < to) {
      const basePrimes = oddPrimesUpTo(isqrt(to - 1));
      // Next odd multiple of each base prime still to cross off (never below p * p).
      const next = new Float64Array(basePrimes.length);
      for (let i = 0; i < basePrimes.length; i++) {
        const p = basePrimes[i];
        let m = Math.max(p * p, Math.ceil(lo / p) * p);
        if (m % 2 === 0) m += p;
        next[i] = m;
      }
      const segment = new Uint8Array(SEGMENT_BYTES);
      const total = to - lo;
      for (let segLo = lo; segLo < to; segLo += 2 * SEGMENT_BYTES) {
        await checkpoint((segLo - lo) / total);
        const segHi = Math.min(segLo + 2 * SEGMENT_BYTES, to); // exclusive
        const slots = Math.ceil((segHi - segLo) / 2);
        segment.fill(0, 0, slots);
        for (let i = 0; i < basePrimes.length; i++) {
          const p = basePrimes[i];
          if (p * p >= segHi) break;
          let k = (next[i] - segLo) / 2;
          const step = p; // consecutive odd multiples are 2p apart: p slots
          for (; k < slots; k += step) segment[k] = 1;
          next[i] = segLo + 2 * k;
        }
        for (let k = 0; k < slots; k++) if (segment[k] === 0) count++;
      }
    }
    ctx.progress(1);
    return { from, to, count };
  },
});
