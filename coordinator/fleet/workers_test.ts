import assert from "node:assert/strict";
import { countedKv, withTempKv } from "../../test/_helpers.ts";
import type { Ctx } from "../context.ts";
import { Committer } from "../store/committer.ts";
import { WorkerRegistry } from "./workers.ts";

function registryOn(kv: Deno.Kv, now: () => number = Date.now) {
  // Every write, however it comes.
  const counted = countedKv(kv, ["set", "atomic", "delete"]);
  const ctx = {
    kv: counted.kv,
    committer: new Committer(counted.kv),
    now,
    log: { warn() {}, info() {}, error() {}, debug() {} },
    config: { workerOfflineMs: 30_000 },
  } as unknown as Ctx;
  return { counted, workers: new WorkerRegistry(ctx) };
}

Deno.test("WorkerRegistry writes the sightings of many workers in a few shared commits", async () => {
  await withTempKv(async (kv) => {
    const { counted, workers } = registryOn(kv);
    // 10,000 sockets saying hello were 10,000 commits, each an fsync, ahead of every claim.
    for (let i = 0; i < 2000; i++) workers.seen(`w-${i}`, { kind: "deno" });
    await workers.flush();
    let stored = 0;
    for await (const _ of kv.list({ prefix: ["worker"] })) stored++;
    assert.equal(stored, 2000);
    assert.ok(counted.calls <= 10, `${counted.calls} commits for 2,000 sightings`);
  });
});

Deno.test("WorkerRegistry keeps connected idle workers seen, writing their records only for peers", async () => {
  await withTempKv(async (kv) => {
    let now = 1_000_000;
    const { counted, workers } = registryOn(kv, () => now);
    workers.seen("idle", { kind: "deno" });
    await workers.flush();
    const first = counted.calls;
    // Well past its turn: alone, the record stays as written and only memory moves on.
    now += 60_000;
    workers.stillConnected(["idle"], false);
    await workers.flush();
    assert.equal(counted.calls, first);
    assert.equal((await workers.records()).find((r) => r.id === "idle")?.lastSeen, now);
    // With another coordinator on the store, the record is written at its turn.
    workers.stillConnected(["idle"], true);
    await workers.flush();
    assert.equal(counted.calls, first + 1);
    const stored = await kv.get<{ lastSeen: number }>(["worker", "idle"]);
    assert.equal(stored.value?.lastSeen, now);
  });
});
