/**
 * `hash.search`: proof-of-work style search. Tries nonces `start, start + 1, ...` (at most
 * `limit` of them) and returns the FIRST whose SHA-256 of the UTF-8 bytes of `prefix + nonce`
 * (nonce written in decimal, no sign, no exponent) starts with at least `difficulty` zero bits.
 *
 * `tried` counts the nonces up to and including the one found (or `limit` when none qualifies),
 * so it does not depend on how the hashing is batched. Hashes are computed with
 * `crypto.subtle.digest`, in batches of {@link BATCH} run concurrently and scanned in order.
 *
 * @module
 */
import { z } from "zod";
import { defineHandler } from "./contract.ts";
import { checkpointer } from "./_cooperate.ts";
import { whenValid } from "./_schema.ts";

/** Nonces hashed per batch, between signal checks and progress reports. */
export const BATCH = 1000;

const params = z
  .object({
    prefix: z.string().max(256),
    difficulty: z.number().int().min(1).max(32),
    start: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(10_000_000).default(1_000_000),
  })
  .refine((p) => p.start <= Number.MAX_SAFE_INTEGER - (p.limit - 1), {
    message: "start + limit - 1 must be a safe integer",
    path: ["start"],
    ...whenValid("start", "limit"),
  });

const result = z.object({
  found: z.boolean(),
  nonce: z.number().int().nullable(),
  hash: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  tried: z.number().int().min(0),
});

/** Number of leading zero bits of a digest, counted up to `max`. */
function leadingZeroBits(bytes: Uint8Array, max: number): number {
  let bits = 0;
  for (let i = 0; i < bytes.length && bits < max; i++) {
    const b = bytes[i];
    if (b === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(b) - 24;
  }
  return bits;
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}

export default defineHandler({
  type: "hash.search",
  description: "Finds the first nonce whose SHA-256(prefix + nonce) has the required zero bits",
  params,
  result,
  verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 4 },
  timeoutMs: 300_000,
  maxTimeoutMs: 600_000,
  async run({ prefix, difficulty, start, limit }, ctx) {
    const checkpoint = checkpointer(ctx);
    const encoder = new TextEncoder();
    const digest = async (nonce: number): Promise<Uint8Array> =>
      new Uint8Array(
        await crypto.subtle.digest("SHA-256", encoder.encode(prefix + String(nonce))),
      );
    for (let offset = 0; offset < limit; offset += BATCH) {
      await checkpoint(offset / limit);
      const size = Math.min(BATCH, limit - offset);
      const hashes = await Promise.all(
        Array.from({ length: size }, (_, k) => digest(start + offset + k)),
      );
      for (let k = 0; k < size; k++) {
        if (leadingZeroBits(hashes[k], difficulty) >= difficulty) {
          ctx.progress(1);
          return {
            found: true,
            nonce: start + offset + k,
            hash: toHex(hashes[k]),
            tried: offset + k + 1,
          };
        }
      }
    }
    ctx.progress(1);
    return { found: false, nonce: null, hash: null, tried: limit };
  },
});
