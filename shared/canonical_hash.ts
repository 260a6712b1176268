/**
 * A canonical hash of a JSON value: object keys sorted at every depth, then SHA-256 (WebCrypto)
 * in hex. Two workers that computed the same result get the same hash whatever order their
 * engine put the keys in. Universal: Deno and browsers.
 *
 * @module
 */

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
 * (await canonicalHash({ b: 1, a: 2 })) === (await canonicalHash({ a: 2, b: 1 })); // true
 * ```
 */
export async function canonicalHash(value: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalJson(value));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
