/**
 * What KV counts: the size of a value in its own encoding (V8 serialization; `Uint8Array` as raw
 * bytes), not its JSON length. Floats cost 9 bytes each where JSON may spend 4 ("0.5,"), so a
 * value within a JSON limit can be far over KV's 64 KiB.
 *
 * Measured against Deno 2.9 (`test/kv_sizes_test.ts` pins these):
 * - a value is refused above 65,536 bytes of `serialize(value)` ("Value too large");
 * - an atomic operation is refused above 819,200 bytes, counting each mutation's value plus
 *   twice its encoded key ("Total mutation size too large"), and above 81,920 bytes of encoded
 *   keys ("Total key size too large").
 *
 * The encoding depends on how a value sits in memory. Arrays fresh from `JSON.parse` are packed
 * and encode densely: at most 2.5× their JSON length (deeply nested arrays; floats 2.25×). Arrays
 * read back from KV are holey and encode sparsely, each element with its index: up to 3.5×
 * (nested arrays; floats 3–3.25×). So the same record grows when it is read and written again;
 * `storeTask` repacks a record that comes near the limit.
 *
 * Exact measurement costs ~25 µs of fixed overhead (node:v8), ten times `JSON.stringify` on a
 * small record, and about as much as it per byte beyond (100–190 µs for a 64×64 tile), so sizes
 * are bounded from the JSON length (`sizeBound`, over the 3.5 worst) and measured
 * (`encodedSize`) only where the bound comes near a limit.
 *
 * @module
 */
import { serialize } from "node:v8";

export const KV_VALUE_BYTES = 65_536;
export const KV_OP_BYTES = 819_200;
export const KV_OP_KEY_BYTES = 81_920;

/** V8 encoding ÷ JSON length never exceeds this (3.5 measured worst, see the module comment). */
export const WORST_RATIO = 4;
/** The same for values fresh from JSON or built in code, whose arrays are packed. */
const PACKED_RATIO = 2.5;
/** Header and framing of a top-level value. */
const OVERHEAD = 64;

/** The exact size KV counts for `value`. */
export function encodedSize(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Deno.KvU64) return 8;
  return serialize(value).length;
}

/** An upper bound on `encodedSize(value)`, from its JSON length: as cheap as that. */
export function sizeBound(value: unknown): number {
  if (value instanceof Uint8Array || value instanceof Deno.KvU64) return encodedSize(value);
  return (JSON.stringify(value)?.length ?? 0) * WORST_RATIO + OVERHEAD;
}

/**
 * `sizeBound` for a value known to be fresh (parsed from a request, or built here), never read
 * back from KV: tighter, so new tasks pack into fewer commits.
 */
export function freshSizeBound(value: unknown): number {
  return (JSON.stringify(value)?.length ?? 0) * PACKED_RATIO + OVERHEAD;
}

/** The encoded size of a key: strings as UTF-8 with a tag and a terminator, numbers 9 bytes. */
export function keyBytes(key: Deno.KvKey): number {
  let n = 0;
  for (const part of key) {
    if (typeof part === "string") {
      // deno-lint-ignore no-control-regex -- ASCII is one byte per character
      n += (/^[\x00-\x7f]*$/.test(part) ? part.length : part.length * 3) + 2;
    } else if (part instanceof Uint8Array) n += part.length + 2;
    else n += typeof part === "boolean" ? 1 : 9;
  }
  return n;
}
