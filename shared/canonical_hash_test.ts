import assert from "node:assert/strict";
import { canonicalHash } from "./canonical_hash.ts";

const webCrypto = async (text: string) =>
  Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");

Deno.test("canonicalHash is the same whatever order an engine put the keys in", () => {
  assert.equal(
    canonicalHash({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }),
    canonicalHash({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }),
  );
  assert.notEqual(canonicalHash({ a: 1 }), canonicalHash({ a: 2 }));
});

Deno.test("canonicalHash is SHA-256 of the sorted JSON, so hashes already stored in KV still match", async () => {
  assert.equal(
    canonicalHash({ b: "é", a: [1.5, true] }),
    await webCrypto('{"a":[1.5,true],"b":"é"}'),
  );
  assert.equal(canonicalHash(undefined), await webCrypto("null"));
});
