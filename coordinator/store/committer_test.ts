import assert from "node:assert/strict";
import { withTempKv } from "../../test/_helpers.ts";
import { Committer, counterValue } from "./committer.ts";

Deno.test("Committer packs intents made together into one commit", async () => {
  await withTempKv(async (kv) => {
    const c = new Committer(kv);
    const oks = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) => c.commit({ checks: [], mutations: [{ type: "set", key: ["k", i], value: i }] }),
      ),
    );
    assert.ok(oks.every(Boolean));
    assert.equal(c.stats.intents, 50);
    assert.ok(c.stats.commits <= 3, `${c.stats.commits} commits for 50 intents`);
    assert.equal((await kv.get(["k", 49])).value, 49);
  });
});

Deno.test("Committer refuses only the intent whose check fails, and commits the rest", async () => {
  await withTempKv(async (kv) => {
    const c = new Committer(kv);
    await kv.set(["x"], "old");
    const stale = (await kv.get(["x"])).versionstamp!;
    await kv.set(["x"], "moved");
    const results = await Promise.all([
      c.commit({ checks: [], mutations: [{ type: "set", key: ["a"], value: 1 }] }),
      c.commit({
        checks: [{ key: ["x"], versionstamp: stale }],
        mutations: [{ type: "set", key: ["x"], value: "lost" }],
      }),
      c.commit({ checks: [], mutations: [{ type: "set", key: ["b"], value: 2 }] }),
    ]);
    assert.deepEqual(results, [true, false, true]);
    assert.equal((await kv.get(["x"])).value, "moved");
    assert.equal((await kv.get(["b"])).value, 2);
    assert.equal(c.stats.conflicts, 1);
  });
});

Deno.test("Committer merges sums per key, and a negative sum subtracts", async () => {
  await withTempKv(async (kv) => {
    const c = new Committer(kv);
    await Promise.all([
      c.commit({ checks: [], mutations: [], sums: [[["n"], 5n]] }),
      c.commit({ checks: [], mutations: [], sums: [[["n"], 3n], [["m"], 1n]] }),
      c.commit({ checks: [], mutations: [], sums: [[["n"], -2n]] }),
    ]);
    assert.equal(counterValue((await kv.get(["n"])).value), 6);
    assert.equal(counterValue((await kv.get(["m"])).value), 1);
  });
});

Deno.test("Committer keeps two intents on one key out of one commit, so each check means what it says", async () => {
  await withTempKv(async (kv) => {
    const c = new Committer(kv);
    await kv.set(["slot"], 0);
    const e = await kv.get(["slot"]);
    // Two claims of one entry read at the same version: exactly one may win.
    const claim = (who: string) =>
      c.commit({
        checks: [{ key: ["slot"], versionstamp: e.versionstamp }],
        mutations: [{ type: "set", key: ["slot"], value: who }],
      });
    const [a, b] = await Promise.all([claim("a"), claim("b")]);
    assert.equal([a, b].filter(Boolean).length, 1);
    assert.equal((await kv.get(["slot"])).value, a ? "a" : "b");
  });
});
