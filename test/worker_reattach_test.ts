/**
 * A coordinator restart costs a socket worker seconds, not a lease period: the worker names the
 * leases it holds when it reconnects, the new coordinator re-attaches those its KV still holds for
 * it, and the first attempt's report is accepted. Real coordinator (in process, and as a process
 * killed with SIGKILL), real `worker.ts`, one KV file.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { COORDINATOR_DEFAULTS, type CoordinatorConfig } from "../coordinator/config.ts";
import { startCoordinator } from "../coordinator/server.ts";
import type { Task } from "../shared/protocol.ts";
import { spawnWorker, type WorkerProcess } from "./_worker_helpers.ts";
import { callJson, eventually, restartablePort, spawnCoordinatorProcess } from "./_helpers.ts";

const TASK = {
  type: "demo.sleep",
  params: { ms: 2_500 },
  verification: { mode: "none" },
  // The default 30 s: waiting it out would fail every deadline below.
  leaseMs: 30_000,
};

function start(db: string, port: number, extra: Partial<CoordinatorConfig> = {}) {
  return startCoordinator({
    ...COORDINATOR_DEFAULTS,
    port,
    hostname: "127.0.0.1",
    db,
    logLevel: "error",
    reapIntervalMs: 50,
    ...extra,
  });
}

async function task(api: string, id: string): Promise<Task> {
  return (await callJson(api, "GET", `/tasks/${id}`)).body;
}

async function withWorker(url: string, fn: (w: WorkerProcess) => Promise<void>) {
  const w = spawnWorker(["--coordinator", url, "--worker-id", "stayer", "--concurrency", "1"]);
  try {
    await fn(w);
  } finally {
    try {
      w.kill("SIGKILL");
    } catch { /* gone */ }
    await w.status;
  }
}

/** Asserts the one attempt completed, by the same worker, well before a lease period. */
function assertFirstAttemptAccepted(t: Task, submittedAt: number) {
  strictEqual(t.status, "completed", JSON.stringify(t.history));
  deepStrictEqual(t.history.map((h) => [h.workerId, h.outcome]), [["stayer", "completed"]]);
  strictEqual(t.attempts, 1);
  ok(
    t.completedAt! - submittedAt < 15_000,
    `completed ${t.completedAt! - submittedAt} ms after submit`,
  );
}

Deno.test("a socket worker's task survives a graceful coordinator restart: its report on the new socket is accepted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-reattach-" });
  const db = `${dir}/kv.sqlite`;
  let c = await start(db, 0);
  const port = c.port;
  const api = `${c.url}/api`;
  try {
    await withWorker(c.url, async () => {
      const submittedAt = Date.now();
      const { body } = await callJson(api, "POST", "/tasks", TASK);
      await eventually(async () => (await task(api, body.id)).workerId === "stayer", 15_000);
      await c.close();
      c = await start(db, port);
      const t = await eventually(
        async () => {
          const t = await task(api, body.id);
          return t.status === "completed" || t.history.length > 0 ? t : null;
        },
        20_000,
        50,
      );
      assertFirstAttemptAccepted(t!, submittedAt);
    });
  } finally {
    await c.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a socket worker's task survives kill -9 of the coordinator process: the restarted one re-attaches the lease", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-reattach-kill-" });
  const db = `${dir}/kv.sqlite`;
  const port = restartablePort();
  const url = `http://127.0.0.1:${port}`;
  const api = `${url}/api`;
  let child = (await spawnCoordinatorProcess(db, port)).child;
  try {
    await withWorker(url, async () => {
      const submittedAt = Date.now();
      const { body } = await callJson(api, "POST", "/tasks", TASK);
      await eventually(async () => (await task(api, body.id)).workerId === "stayer", 15_000);
      child.kill("SIGKILL");
      await child.status;
      child = (await spawnCoordinatorProcess(db, port)).child;
      const t = await eventually(
        async () => {
          const t = await task(api, body.id);
          return t.status === "completed" || t.history.length > 0 ? t : null;
        },
        20_000,
        50,
      );
      assertFirstAttemptAccepted(t!, submittedAt);
    });
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
