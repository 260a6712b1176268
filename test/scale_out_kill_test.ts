/**
 * Three coordinator processes on one KV file, with clients and workers spread over them (each
 * given all three addresses, no proxy): one coordinator is killed with SIGKILL in the middle of
 * the work and started again. Nothing is lost, every result is accepted once, every worker keeps
 * getting work, and each coordinator's dashboard feed shows the whole fleet.
 */
import assert from "node:assert/strict";
import { createClient } from "../shared/client.ts";
import type { Task } from "../shared/protocol.ts";
import { callJson, eventually, restartablePort, spawnCoordinatorProcess } from "./_helpers.ts";
import { spawnWorker, type WorkerProcess } from "./_worker_helpers.ts";

const TASKS = 5000;

const spawnCoordinator = (db: string, port: number) =>
  spawnCoordinatorProcess(db, port, ["--reap-interval-ms", "100"]);

/** The first `stats` snapshot of a coordinator's live feed. */
async function firstSnapshot(url: string): Promise<{ workersOnline: number; completed: number }> {
  const res = await fetch(`${url}/api/live`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) throw new Error("feed ended");
      text += value;
      const m = /event: stats\ndata: (.*)\n/.exec(text);
      if (m) {
        const s = JSON.parse(m[1]).stats;
        return { workersOnline: s.workersOnline, completed: s.status.completed };
      }
    }
  } finally {
    await reader.cancel();
  }
}

Deno.test("3 coordinators on one file, one killed with SIGKILL mid-run and restarted: 5,000 tasks, none lost, each accepted once, every worker busy", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-scale-kill-" });
  const db = `${dir}/tessera.sqlite`;
  const base = restartablePort();
  const ports = [base, base + 1, base + 2];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const coordinators: Deno.ChildProcess[] = [];
  const workers: WorkerProcess[] = [];
  try {
    for (const p of ports) coordinators.push((await spawnCoordinator(db, p)).child);
    // Each worker and client lists all three, starting with a different one: round robin.
    const rotate = (i: number) => [...urls.slice(i), ...urls.slice(0, i)].join(",");
    for (let i = 0; i < 3; i++) {
      workers.push(spawnWorker([
        "--coordinator",
        rotate(i),
        "--worker-id",
        `kill-w${i}`,
        "--concurrency",
        "4",
        "--types",
        "demo.echo",
        "--nice",
        "0",
      ]));
    }
    for (const w of workers) await w.waitFor(/worker started/, 30_000);
    const clients = [0, 1, 2].map((i) =>
      createClient({ baseUrl: rotate(i).split(",").map((u) => `${u}/api`) })
    );
    const ids: string[] = [];
    const submit = async (from: number, to: number) => {
      for (let b = from; b < to; b += 500) {
        const tasks = await clients[(b / 500) % 3].submitMany(
          Array.from({ length: Math.min(500, to - b) }, (_, i) => ({
            type: "demo.echo",
            params: { n: b + i },
            idempotencyKey: `kill-${b + i}`,
          })),
        );
        ids.push(...tasks.map((t) => t.id));
      }
    };
    await submit(0, TASKS / 2);
    const stats = () => callJson(`${urls[0]}/api`, "GET", "/stats").then((r) => r.body);
    await eventually(async () => (await stats()).status.completed >= TASKS / 5, 60_000, 100);

    // Kill the second coordinator mid-run (its sockets and long-polls die with it), restart it.
    coordinators[1].kill("SIGKILL");
    await coordinators[1].status;
    const doneAtKill = new Map(
      (await callJson(`${urls[0]}/api`, "GET", "/workers")).body.workers
        .map((w: { id: string; completed: number }) => [w.id, w.completed]),
    );
    await submit(TASKS / 2, TASKS);
    coordinators[1] = (await spawnCoordinator(db, ports[1])).child;

    await eventually(
      async () => {
        const s = await stats();
        return s.status.completed + s.status.failed >= TASKS;
      },
      120_000,
      200,
    );

    // 0 lost: every acknowledged id is there, completed with its own params as its result.
    assert.equal(new Set(ids).size, TASKS);
    const tasks: Task[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      const res = await callJson(`${urls[2]}/api`, "POST", "/tasks/await", {
        ids: ids.slice(i, i + 100),
        waitMs: 0,
      });
      tasks.push(...res.body.tasks);
    }
    const wrong = tasks.filter((t, i) =>
      t?.status !== "completed" ||
      (t.result as { n: number }).n !== (t.params as { n: number }).n ||
      t.id !== ids[i]
    );
    assert.deepEqual(wrong.map((t) => t?.id), [], "tasks lost, failed or with a wrong result");
    // Accepted once: one completed attempt in each history.
    const twice = tasks.filter((t) =>
      t.history.filter((h) => h.outcome === "completed").length !== 1
    );
    assert.deepEqual(twice.map((t) => t.id), []);
    // Every worker kept getting work after the kill.
    const after = (await callJson(`${urls[0]}/api`, "GET", "/workers")).body.workers;
    for (let i = 0; i < 3; i++) {
      const w = after.find((x: { id: string }) => x.id === `kill-w${i}`);
      assert.ok(w, `kill-w${i} is not listed`);
      assert.ok(
        w.completed > (doneAtKill.get(`kill-w${i}`) ?? 0),
        `kill-w${i} completed nothing after the kill`,
      );
    }
    // Each coordinator's dashboard feed shows the whole fleet.
    for (const u of urls) {
      const snap = await firstSnapshot(u);
      assert.equal(snap.workersOnline, 3, `${u} shows ${snap.workersOnline} workers`);
      assert.equal(snap.completed, TASKS, `${u} shows ${snap.completed} completed`);
    }
  } finally {
    for (const w of workers) {
      w.kill("SIGKILL");
      await w.status.catch(() => {});
    }
    for (const c of coordinators) {
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
      await c.status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
