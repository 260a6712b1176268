import { ok, strictEqual } from "node:assert/strict";
import type { UnsignedHandlerEntry } from "../protocol.ts";
import { generateSigningKey, publicKeyOf, sha256Hex, signEntry, verifyEntry } from "./signature.ts";

const entry: UnsignedHandlerEntry = {
  type: "demo.echo",
  description: "Returns its params",
  version: sha256Hex("export default 1"),
  bundle: `/handlers/${sha256Hex("export default 1")}.js`,
  chunks: [],
  params: { type: "object" },
  result: { type: "object" },
  verification: { mode: "none" },
  timeoutMs: 1000,
  maxTimeoutMs: 600_000,
  pack: "builtin",
};

Deno.test("sha256Hex matches the known digest of 'abc'", () => {
  strictEqual(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("a signed entry verifies with its key, whatever the order of its members", () => {
  const key = generateSigningKey();
  strictEqual(publicKeyOf(key.secretKey), key.publicKey);
  const signed = signEntry(entry, key.secretKey);
  ok(verifyEntry(signed, key.publicKey));
  const reordered = Object.fromEntries(Object.entries(signed).reverse()) as typeof signed;
  ok(verifyEntry(reordered, key.publicKey));
});

Deno.test("a changed version, another key or a malformed signature does not verify", () => {
  const key = generateSigningKey();
  const signed = signEntry(entry, key.secretKey);
  ok(!verifyEntry({ ...signed, version: sha256Hex("evil") }, key.publicKey));
  ok(!verifyEntry(signed, generateSigningKey().publicKey));
  ok(!verifyEntry({ ...signed, signature: "not base64!" }, key.publicKey));
});
