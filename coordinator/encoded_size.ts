/**
 * What KV counts: the size of a value in its own encoding (V8 serialization; `Uint8Array` as raw
 * bytes), not its JSON length. Floats cost 9 bytes each where JSON may spend 4 ("0.5,"), so a
 * value within a JSON limit can be far over KV's 64 KiB.
 *
 * Measured against Deno 2.9 (`test/kv_limits_test.ts` pins these):
 * - a value is refused above 65,536 bytes of `serialize(value)` ("Value too large");
 * - an atomic operation is refused above 819,200 bytes, counting each mutation's value plus
 *   twice its encoded key ("Total mutation size too large").
 *
 * Exact measurement costs ~25 µs of fixed overhead (node:v8), ten times `JSON.stringify` on a
 * small record, so small values are bounded from their JSON length instead: the V8 encoding never
 * exceeds 2.5× the JSON length (deeply nested arrays; floats 2.25×), and `WORST_RATIO` keeps a
 * margin. Only values whose bound could matter are serialized.
 *
 * @module
 */
import { serialize } from "node:v8";

export const KV_VALUE_BYTES = 65_536;
export const KV_OP_BYTES = 819_200;

/** V8 encoding ÷ JSON length never exceeds this (2.5 measured worst, see the module comment). */
export const WORST_RATIO = 3;
/** Header and framing of a top-level value. */
const OVERHEAD = 64;
/** Below this JSON length the bound is used: serializing costs more than it saves. */
const EXACT_ABOVE = 4096;

/** The exact size KV counts for `value`. */
export function encodedSize(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Deno.KvU64) return 8;
  return serialize(value).length;
}

/**
 * An upper bound on `encodedSize(value)`, exact for large values, cheap for small ones.
 * `jsonLength` may be passed when the caller has it already.
 */
export function sizeBound(value: unknown, jsonLength?: number): number {
  if (value instanceof Uint8Array || value instanceof Deno.KvU64) return encodedSize(value);
  const json = jsonLength ?? JSON.stringify(value)?.length ?? 0;
  return json < EXACT_ABOVE ? json * WORST_RATIO + OVERHEAD : encodedSize(value);
}
