import assert from "node:assert/strict";
import { createLogger } from "../../shared/logger.ts";
import type { Ctx } from "../context.ts";
import {
  layoutKey,
  legacyHolderPrefix,
  legacyLeaseExpiryPrefix,
  legacyReadySignalKey,
  readyKey,
  taskKey,
} from "./keys.ts";
import { LAYOUT_VERSION, LayoutTooNewError, migrateLayout } from "./migrate.ts";

async function withStore(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tessera-migrate-" });
  const kv = await Deno.openKv(`${dir}/s.sqlite`);
  const ctx = { kv, log: createLogger({ format: "text", level: "error" }) } as unknown as Ctx;
  try {
    await fn(ctx);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("migrateLayout() stamps a new, empty store with the current layout version", async () => {
  await withStore(async (ctx) => {
    assert.deepEqual(await migrateLayout(ctx), []);
    assert.equal((await ctx.kv.get(layoutKey())).value, LAYOUT_VERSION);
  });
});

Deno.test("migrateLayout() brings a version-1 store up to date, and a second run changes nothing", async () => {
  await withStore(async (ctx) => {
    const t1 = { id: "t1", type: "demo.echo", queue: "default", status: "pending", owner: null };
    await ctx.kv.set(taskKey("t1"), t1);
    await ctx.kv.set(legacyReadySignalKey(), new Deno.KvU64(7n));
    const ran = await migrateLayout(ctx);
    assert.equal(ran.length, LAYOUT_VERSION - 1);
    assert.equal((await ctx.kv.get(layoutKey())).value, LAYOUT_VERSION);
    assert.equal((await ctx.kv.get(legacyReadySignalKey())).value, null);
    assert.deepEqual((await ctx.kv.get(taskKey("t1"))).value, t1);
    assert.deepEqual(await migrateLayout(ctx), []);
  });
});

Deno.test("migrateLayout() refuses a store written by a newer layout", async () => {
  await withStore(async (ctx) => {
    await ctx.kv.set(layoutKey(), LAYOUT_VERSION + 1);
    await assert.rejects(() => migrateLayout(ctx), LayoutTooNewError);
  });
});

Deno.test("deno task start on a store with a newer layout exits 2 with one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-migrate-" });
  try {
    const kv = await Deno.openKv(`${dir}/s.sqlite`);
    await kv.set(layoutKey(), LAYOUT_VERSION + 5);
    kv.close();
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "coordinator/main.ts",
        "--db",
        `${dir}/s.sqlite`,
        "--port",
        "0",
        "--hostname",
        "127.0.0.1",
      ],
      cwd: new URL("../..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 2, err);
    assert.equal(err.split("\n").length, 1, err);
    assert.match(err, /newer than this coordinator/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("migrateLayout() gives layout-3 ready entries their fair-share place, 0, keeping their value", async () => {
  await withStore(async (ctx) => {
    await ctx.kv.set(layoutKey(), 3);
    const legacy = ["ready", "default", "demo.echo", 1000, "t1", 0];
    await ctx.kv.set(legacy, 1);
    await migrateLayout(ctx);
    assert.equal((await ctx.kv.get(legacy)).value, null);
    const place = { queue: "default", type: "demo.echo", priority: 0, id: "t1" };
    assert.equal((await ctx.kv.get(readyKey(place))).value, 1);
    assert.equal((await ctx.kv.get(layoutKey())).value, LAYOUT_VERSION);
  });
});

Deno.test("migrateLayout() drops layout 5's lease expiry index, more than one chunk of it, and nothing else", async () => {
  await withStore(async (ctx) => {
    await ctx.kv.set(layoutKey(), 5);
    for (let i = 0; i < 1_200; i += 100) {
      const op = ctx.kv.atomic();
      for (let j = i; j < i + 100; j++) op.set([...legacyLeaseExpiryPrefix(), j, `t${j}`, "l"], 1);
      await op.commit();
    }
    await ctx.kv.set(taskKey("t1"), { id: "t1" });
    assert.deepEqual((await migrateLayout(ctx))[0], "no lease expiry index (leases are scanned)");
    const left = await Array.fromAsync(ctx.kv.list({ prefix: legacyLeaseExpiryPrefix() }));
    assert.equal(left.length, 0);
    assert.deepEqual((await ctx.kv.get(taskKey("t1"))).value, { id: "t1" });
    assert.equal((await ctx.kv.get(layoutKey())).value, LAYOUT_VERSION);
  });
});

Deno.test("migrateLayout() moves layout 6's holder markers into their tasks' records, more than one chunk of them", async () => {
  await withStore(async (ctx) => {
    await ctx.kv.set(layoutKey(), 6);
    for (let i = 0; i < 400; i++) {
      await ctx.kv.set(taskKey(`t${i}`), { id: `t${i}`, holding: ["w:old"] });
      const op = ctx.kv.atomic();
      op.set([...legacyHolderPrefix(), `t${i}`, "w:a"], 1);
      op.set([...legacyHolderPrefix(), `t${i}`, "d:donor-a"], 1);
      await op.commit();
    }
    await ctx.kv.set([...legacyHolderPrefix(), "gone", "w:a"], 1);
    assert.deepEqual(await migrateLayout(ctx), ["holders in the task record (no holder markers)"]);
    assert.equal((await Array.fromAsync(ctx.kv.list({ prefix: legacyHolderPrefix() }))).length, 0);
    for (const i of [0, 250, 399]) {
      const t = (await ctx.kv.get<{ holding: string[] }>(taskKey(`t${i}`))).value!;
      assert.deepEqual(t.holding.toSorted(), ["d:donor-a", "w:a", "w:old"]);
    }
    assert.equal((await ctx.kv.get(taskKey("gone"))).value, null, "no record made for debris");
    assert.equal((await ctx.kv.get(layoutKey())).value, 7);
  });
});
