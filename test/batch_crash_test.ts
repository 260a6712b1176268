import assert from "node:assert/strict";
import { batchPrefix, taskPrefix } from "../coordinator/store/keys.ts";
import { callJson, restartablePort, sleep, spawnCoordinatorProcess } from "./_helpers.ts";

const spawnCoordinator = (db: string, port: number) => spawnCoordinatorProcess(db, port);

const BATCH = 1000;
const ROUNDS = 3;
/** ~1.2 KB of params each: a batch spans several commits in each phase. */
const batchOf = (round: number) => ({
  tasks: Array.from({ length: BATCH }, (_, i) => ({
    type: "demo.echo",
    params: { round, i, pad: "x".repeat(1200) },
    idempotencyKey: `r${round}-${i}`,
  })),
});

Deno.test("kill -9 mid-batch while a client resubmits the same keys: every id acknowledged survives recovery, each key is one task", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-batch-crash-" });
  const db = `${dir}/tessera.sqlite`;
  const port = restartablePort();
  /** key → the id some 2xx answer gave for it. */
  const acked = new Map<string, string>();
  const acknowledge = (res: { status: number; body: { tasks?: Array<{ id: string }> } }) => {
    if (res.status !== 200 && res.status !== 201) return;
    res.body.tasks!.forEach((t: { id: string; idempotencyKey?: string }) => {
      const key = t.idempotencyKey!;
      const before = acked.get(key);
      assert.ok(before === undefined || before === t.id, `key ${key} answered with two tasks`);
      acked.set(key, t.id);
    });
  };
  let co = await spawnCoordinator(db, port);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const body = batchOf(round);
      let originalDone = false;
      const original = callJson(co.api, "POST", "/tasks", body)
        .then(acknowledge, () => {})
        .finally(() => (originalDone = true));
      // Watch the KV file (as another process may) for the batch journal: phase 1 has begun.
      const kv = await Deno.openKv(db);
      try {
        while (!originalDone) {
          if ((await Array.fromAsync(kv.list({ prefix: batchPrefix() }, { limit: 1 }))).length) {
            break;
          }
          await sleep(2);
        }
      } finally {
        kv.close();
      }
      // Round 1 dies in the middle of writing. The others resubmit keys of the batch not asked
      // for before until one answer comes back whole while the batch is still being written,
      // and die at once: those ids must survive.
      let next = 0;
      while (round !== 1 && !originalDone && next < BATCH) {
        const some = { tasks: body.tasks.slice(next, next += 5) };
        const res = await callJson(co.api, "POST", "/tasks", some).catch(() => null);
        if (res) acknowledge(res);
        if (res?.status === 200) break;
      }
      co.child.kill("SIGKILL");
      await co.child.status;
      await original;
      co = await spawnCoordinator(db, port + round + 1);
    }

    for (const [key, id] of acked) {
      const got = await callJson(co.api, "GET", `/tasks/${id}`);
      assert.equal(got.status, 200, `acknowledged task ${id} (${key}) is gone after recovery`);
    }
    for (let round = 0; round < ROUNDS; round++) {
      const res = await callJson(co.api, "POST", "/tasks", batchOf(round));
      assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body).slice(0, 200));
      acknowledge(res);
    }
    const stats = (await callJson(co.api, "GET", "/stats")).body;
    assert.equal(stats.status.pending, ROUNDS * BATCH, "every task is counted as pending once");
  } finally {
    co.child.kill("SIGKILL");
    await co.child.status;
  }
  // Every key maps to one task, and no record is left that no key points at.
  const kv = await Deno.openKv(db);
  try {
    const tasks = await Array.fromAsync(
      kv.list<{ idempotencyKey: string }>({ prefix: taskPrefix() }),
    );
    assert.equal(tasks.length, ROUNDS * BATCH);
    assert.equal(new Set(tasks.map((t) => t.value.idempotencyKey)).size, ROUNDS * BATCH);
    const ids = new Set(tasks.map((t) => t.key[1]));
    for (const id of acked.values()) assert.ok(ids.has(id));
    assert.equal((await Array.fromAsync(kv.list({ prefix: batchPrefix() }))).length, 0);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
