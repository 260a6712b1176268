import assert from "node:assert/strict";
import { shortId } from "./short_id.ts";

Deno.test("shortId() cuts at separators, keeping the kind and the distinguishing tail", () => {
  assert.equal(shortId("browser-1a2b3c4d-9f8e7d"), "browser-…-9f8e7d");
  assert.equal(shortId("worker-a"), "worker-a");
  assert.equal(shortId("deno-host.example.org-12345", 24), "deno-….example.org-12345");
  assert.equal(shortId("a-b-c-d-e-f-g-h-i-j-k-l-m", 12), "a-…-j-k-l-m");
  assert.equal(shortId("tab-x", 3), "ta…");
  assert.equal(shortId("0123456789abcdef0123456789abcdef", 9), "01234567…");
});
