import assert from "node:assert/strict";
import { withTempKv } from "../../test/_helpers.ts";
import { readyKey } from "../store/keys.ts";
import { ReadyBuffers } from "./ready_buffers.ts";

const id = (n: number) => `t${String(n).padStart(5, "0")}`;

async function ready(kv: Deno.Kv, queue: string, type: string, priority: number, ids: string[]) {
  for (let i = 0; i < ids.length; i += 500) {
    const op = kv.atomic();
    for (const x of ids.slice(i, i + 500)) op.set(readyKey({ queue, type, priority, id: x }), 1);
    await op.commit();
  }
}

Deno.test("ReadyBuffers.take() merges the buffers a claim accepts: priority first, then oldest", async () => {
  await withTempKv(async (kv) => {
    await ready(kv, "q", "a", 0, [id(1), id(4)]);
    await ready(kv, "q", "b", 5, [id(3)]);
    await ready(kv, "r", "a", 0, [id(2)]);
    const b = new ReadyBuffers(kv);
    const pairs = [["q", "a"], ["q", "b"], ["r", "a"]] as const;
    const got = await b.take(pairs, 10, () => true);
    assert.deepEqual(got.map((e) => e.id), [id(3), id(1), id(2), id(4)]);
  });
});

Deno.test("ReadyBuffers.take() reads past pages of entries the claim may not take", async () => {
  await withTempKv(async (kv) => {
    await ready(kv, "q", "a", 0, Array.from({ length: 700 }, (_, i) => id(i)));
    const b = new ReadyBuffers(kv);
    const got = await b.take([["q", "a"]], 1, (e) => e.id === id(650));
    assert.deepEqual(got.map((e) => e.id), [id(650)]);
  });
});

Deno.test("ReadyBuffers gives an entry to one claim at a time, and sees new work once stale", async () => {
  await withTempKv(async (kv) => {
    await ready(kv, "q", "a", 0, [id(1)]);
    const b = new ReadyBuffers(kv);
    const first = await b.take([["q", "a"]], 1, () => true);
    assert.deepEqual(await b.take([["q", "a"]], 1, () => true), []);
    b.release(first);
    b.putBack(first[0]);
    assert.deepEqual((await b.take([["q", "a"]], 1, () => true)).map((e) => e.id), [id(1)]);
    await ready(kv, "q", "a", 0, [id(2)]);
    // Not stale yet: the buffer read to the end of the index, so it does not look again.
    assert.deepEqual(await b.take([["q", "a"]], 1, () => true), []);
    b.markStale([{ queue: "q", type: "a" }]);
    assert.deepEqual((await b.take([["q", "a"]], 1, () => true)).map((e) => e.id), [id(2)]);
  });
});
