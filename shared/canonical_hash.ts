/**
 * A canonical hash of a JSON value: object keys sorted at every depth, then SHA-256 in hex. Two
 * workers that computed the same result get the same hash whatever order their engine put the
 * keys in. Universal: Deno and browsers.
 *
 * SHA-256 comes from @noble/hashes, synchronously, not from WebCrypto: a result is small, and
 * `crypto.subtle.digest` is an async op (a hop to a blocking thread and back) that cost the
 * coordinator ~120 µs of its one thread per quorum vote under load, against ~2 µs here.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

/** JSON with object keys sorted at every depth; `undefined` members are dropped as JSON does. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? "null";
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/**
 * SHA-256 of the canonical JSON, hex.
 *
 * @example
 * ```ts
 * canonicalHash({ b: 1, a: 2 }) === canonicalHash({ a: 2, b: 1 }); // true
 * ```
 */
export function canonicalHash(value: unknown): string {
  return bytesToHex(sha256(new TextEncoder().encode(canonicalJson(value))));
}
