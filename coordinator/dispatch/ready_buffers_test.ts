import assert from "node:assert/strict";
import { countedKv, withTempKv } from "../../test/_helpers.ts";
import { readyKey } from "../store/keys.ts";
import { ReadyBuffers } from "./ready_buffers.ts";

const id = (n: number) => `t${String(n).padStart(5, "0")}`;

/** Commits ready entries, 500 per commit; returns each with its commit's versionstamp. */
async function ready(kv: Deno.Kv, queue: string, type: string, priority: number, ids: string[]) {
  const written: Array<{ key: Deno.KvKey; versionstamp: string }> = [];
  for (let i = 0; i < ids.length; i += 500) {
    const op = kv.atomic();
    const keys = ids.slice(i, i + 500).map((x) => readyKey({ queue, type, priority, id: x }));
    for (const k of keys) op.set(k, 1);
    const { versionstamp } = await op.commit() as Deno.KvCommitResult;
    written.push(...keys.map((key) => ({ key, versionstamp })));
  }
  return written;
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

/** `kv` whose list reads finish reading at once but hand their entries over only on `open()`. */
function heldLists(kv: Deno.Kv) {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let read!: () => void;
  const listed = new Promise<void>((r) => (read = r));
  const held = new Proxy(kv, {
    get(target, p) {
      if (p !== "list") return Reflect.get(target, p, target);
      return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
        const real = target.list(selector, options);
        const entries = (async () => {
          const out: Deno.KvEntry<unknown>[] = [];
          for await (const e of real) out.push(e);
          read();
          await gate;
          return out;
        })();
        return {
          get cursor() {
            return real.cursor;
          },
          async *[Symbol.asyncIterator]() {
            yield* await entries;
          },
        };
      };
    },
  });
  return { kv: held, listed, open };
}

/**
 * A buffer over `kv` holding t00001, whose first claim's read of the index has finished reading
 * (work committed from now on is not in it) and waits for `open()` to hand its entries over.
 */
async function takeDuringHeldRead(kv: Deno.Kv) {
  await ready(kv, "q", "a", 0, [id(1)]);
  const held = heldLists(kv);
  const b = new ReadyBuffers(held.kv);
  const first = b.take([["q", "a"]], 1, () => true);
  await held.listed;
  return { b, first, open: held.open };
}

Deno.test("ReadyBuffers.take() called after markStale never settles for a read that began before it", async () => {
  await withTempKv(async (kv) => {
    const { b, first, open } = await takeDuringHeldRead(kv);
    // Work committed after that read: a claim woken for it must see it.
    await ready(kv, "q", "a", 0, [id(2)]);
    b.markStale([{ queue: "q", type: "a" }]);
    const second = b.take([["q", "a"]], 1, () => true);
    open();
    assert.deepEqual((await first).map((e) => e.id), [id(1)]);
    assert.deepEqual((await second).map((e) => e.id), [id(2)]);
  });
});

Deno.test("ReadyBuffers.add() hands this process's own new entries to claims without reading the index", async () => {
  await withTempKv(async (kv) => {
    await ready(kv, "q", "a", 0, [id(1)]);
    const counted = countedKv(kv, ["list"]);
    const b = new ReadyBuffers(counted.kv);
    assert.deepEqual((await b.take([["q", "a"]], 1, () => true)).map((e) => e.id), [id(1)]);
    assert.equal(counted.calls, 1);
    // Entries are kept in key order: a higher priority goes first.
    b.add(await ready(kv, "q", "a", 0, [id(3)]));
    b.add(await ready(kv, "q", "a", 5, [id(2)]));
    const got = await b.take([["q", "a"]], 5, () => true);
    assert.deepEqual(got.map((e) => e.id), [id(2), id(3)]);
    assert.equal(counted.calls, 1);
    // Each entry carries its commit's versionstamp, which its claim checks.
    const [e] = await kv.getMany([got[1].key]);
    assert.equal(got[1].versionstamp, e.versionstamp);
  });
});

Deno.test("ReadyBuffers.add() during a read marks the buffer stale, so that read cannot hide them", async () => {
  await withTempKv(async (kv) => {
    const { b, first, open } = await takeDuringHeldRead(kv);
    b.add(await ready(kv, "q", "a", 0, [id(2)]));
    open();
    assert.deepEqual((await first).map((e) => e.id), [id(1)]);
    assert.deepEqual((await b.take([["q", "a"]], 1, () => true)).map((e) => e.id), [id(2)]);
  });
});

Deno.test("ReadyBuffers.add() leaves entries past the pages read to the next page", async () => {
  await withTempKv(async (kv) => {
    await ready(kv, "q", "a", 0, Array.from({ length: 300 }, (_, i) => id(i)));
    const b = new ReadyBuffers(kv);
    assert.equal((await b.take([["q", "a"]], 1, () => true)).length, 1);
    b.add(await ready(kv, "q", "a", 0, [id(900)]));
    const all = await b.take([["q", "a"]], 1000, () => true);
    assert.equal(all.length, 300);
    assert.equal(new Set(all.map((e) => e.id)).size, 300);
    assert.equal(all.at(-1)!.id, id(900));
  });
});

Deno.test("ReadyBuffers.add() holds a bounded number of entries; the rest come from later pages", async () => {
  await withTempKv(async (kv) => {
    const b = new ReadyBuffers(kv);
    assert.deepEqual(await b.take([["q", "a"]], 1, () => true), []);
    const ids = Array.from({ length: 3000 }, (_, i) => id(i));
    for (let i = 0; i < ids.length; i += 500) {
      b.add(await ready(kv, "q", "a", 0, ids.slice(i, i + 500)));
    }
    assert.ok(b.size <= 1024, `${b.size} entries held`);
    const all = await b.take([["q", "a"]], 5000, () => true);
    assert.deepEqual(all.map((e) => e.id), ids);
  });
});
