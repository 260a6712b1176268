import assert from "node:assert/strict";
import { withTempKv } from "../../test/_helpers.ts";
import type { Ctx } from "../context.ts";
import { Committer } from "../store/committer.ts";
import { WorkerRegistry } from "./workers.ts";

/** `kv` that counts the writes it is asked for, however they come. */
function countedWrites(kv: Deno.Kv) {
  const counted = { kv, writes: 0 };
  counted.kv = new Proxy(kv, {
    get(target, p) {
      const v = Reflect.get(target, p, target);
      if (p !== "set" && p !== "atomic" && p !== "delete") return v;
      return (...args: unknown[]) => {
        counted.writes++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return counted;
}

Deno.test("WorkerRegistry writes the sightings of many workers in a few shared commits", async () => {
  await withTempKv(async (kv) => {
    const counted = countedWrites(kv);
    const ctx = {
      kv: counted.kv,
      committer: new Committer(counted.kv),
      now: Date.now,
      log: { warn() {}, info() {}, error() {}, debug() {} },
      config: { workerOfflineMs: 60_000 },
    } as unknown as Ctx;
    const workers = new WorkerRegistry(ctx);
    // 10,000 sockets saying hello were 10,000 commits, each an fsync, ahead of every claim.
    for (let i = 0; i < 2000; i++) workers.seen(`w-${i}`, { kind: "deno" });
    await workers.flush();
    let stored = 0;
    for await (const _ of kv.list({ prefix: ["worker"] })) stored++;
    assert.equal(stored, 2000);
    assert.ok(counted.writes <= 10, `${counted.writes} commits for 2,000 sightings`);
  });
});
