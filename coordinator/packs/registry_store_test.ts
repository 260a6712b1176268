import assert from "node:assert/strict";
import { withTempKv } from "../../test/_helpers.ts";
import { Committer } from "../store/committer.ts";
import { handlerFilePartKey } from "../store/keys.ts";
import type { UnsignedHandlerEntry } from "../../shared/protocol.ts";
import { digestHex } from "./digest.ts";
import {
  publish,
  readEntry,
  readFile,
  readRegistry,
  storeEntries,
  storeFile,
} from "./registry_store.ts";

const entry = (type: string, version: string, pack: string): UnsignedHandlerEntry => ({
  type,
  description: "",
  version,
  bundle: `/handlers/${version}.js`,
  chunks: [],
  params: {},
  result: {},
  verification: { mode: "none" },
  timeoutMs: 1000,
  maxTimeoutMs: 1000,
  pack,
});
const v = (c: string) => c.repeat(64);

Deno.test("a bundle file larger than a KV value is stored in parts and read back whole, checked against its hash", async () => {
  await withTempKv(async (kv) => {
    const committer = new Committer(kv);
    const big = new Uint8Array(300_000);
    for (let i = 0; i < big.length; i += 65_536) {
      crypto.getRandomValues(big.subarray(i, i + 65_536));
    }
    const sha = await digestHex(big);
    await storeFile(kv, committer, sha, big);
    assert.deepEqual(await readFile(kv, sha), big);
    assert.equal(await readFile(kv, v("e")), null, "unknown file");
    // A damaged part is refused, not served.
    await kv.set(handlerFilePartKey(sha, 1), new Uint8Array(60_000));
    await assert.rejects(readFile(kv, sha), /damaged/);
  });
});

Deno.test("publishing replaces the publisher's packs only, withdraws their missing types, and bumps the revision only on a change", async () => {
  await withTempKv(async (kv) => {
    const committer = new Committer(kv);
    const all = [
      entry("a.one", v("1"), "p"),
      entry("a.two", v("2"), "p"),
      entry("b.x", v("3"), "q"),
    ];
    await storeEntries(committer, all);
    assert.deepEqual(await publish(kv, committer, new Set(["p"]), all.slice(0, 2)), {
      revision: 1,
      changed: ["a.one", "a.two"],
    });
    // Another coordinator publishes pack q: p's types stay.
    await publish(kv, committer, new Set(["q"]), [all[2]]);
    // The same again: nothing changes, no bump.
    assert.deepEqual(await publish(kv, committer, new Set(["q"]), [all[2]]), {
      revision: 2,
      changed: [],
    });
    // p drops a.two and changes a.one.
    const next = entry("a.one", v("4"), "p");
    await storeEntries(committer, [next]);
    assert.deepEqual(await publish(kv, committer, new Set(["p"]), [next]), {
      revision: 3,
      changed: ["a.one", "a.two"],
    });
    const reg = await readRegistry(kv);
    assert.equal(reg.revision, 3);
    assert.deepEqual(Object.fromEntries(reg.current), {
      "a.one": { version: v("4"), pack: "p" },
      "b.x": { version: v("3"), pack: "q" },
    });
    // Old entries stay readable by version.
    assert.equal((await readEntry(kv, v("1")))?.type, "a.one");
    assert.equal((await readEntry(kv, v("2"), "a.two"))?.type, "a.two");
  });
});
