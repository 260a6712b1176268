import assert from "node:assert/strict";
import { callJson, restartablePort, spawnCoordinatorProcess } from "./_helpers.ts";

const spawnCoordinator = (db: string, port: number) => spawnCoordinatorProcess(db, port);

Deno.test("after kill -9 and a restart on the same file, 1,000 submitted tasks are all there and completable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-restart-" });
  const db = `${dir}/tessera.sqlite`;
  const port = restartablePort();
  const first = await spawnCoordinator(db, port);
  const ids: string[] = [];
  for (let b = 0; b < 4; b++) {
    const tasks = Array.from(
      { length: 250 },
      (_, i) => ({ type: "demo.echo", params: { i: b * 250 + i } }),
    );
    const res = await callJson(first.api, "POST", "/tasks", { tasks });
    assert.equal(res.status, 201);
    ids.push(...res.body.tasks.map((t: { id: string }) => t.id));
  }
  // A few are leased when the process dies: they must come back too.
  const leased = await callJson(first.api, "POST", "/leases", { workerId: "doomed", max: 5 });
  assert.equal(leased.body.leases.length, 5);
  first.child.kill("SIGKILL");
  await first.child.status;

  const second = await spawnCoordinator(db, port + 1);
  try {
    const stats = (await callJson(second.api, "GET", "/stats")).body;
    assert.equal(stats.status.pending + stats.status.processing, 1000);
    const done = new Set<string>();
    while (done.size < 995) {
      const res = await callJson(second.api, "POST", "/leases", {
        workerId: "survivor",
        max: 100,
        waitMs: 1000,
      });
      for (const l of res.body.leases) {
        const r = await callJson(second.api, "POST", `/tasks/${l.taskId}/complete`, {
          leaseId: l.leaseId,
          result: 1,
        });
        assert.equal(r.status, 200);
        done.add(l.taskId);
      }
      if (res.body.leases.length === 0) break;
    }
    assert.equal(done.size, 995, "every task not leased before the crash");
    const leasedIds = leased.body.leases.map((l: { taskId: string }) => l.taskId);
    for (const id of leasedIds) assert.ok(!done.has(id));
    assert.ok(ids.every((id) => done.has(id) || leasedIds.includes(id)));
  } finally {
    second.child.kill("SIGKILL");
    await second.child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
