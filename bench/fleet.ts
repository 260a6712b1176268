/**
 * Deno worker fleets end to end: a coordinator process, `worker.ts` processes, no-op tasks. Used
 * to compare the WebSocket path with the HTTP path, and quorum 2-of-2 verification with none,
 * in the same run.
 *
 * @module
 */
import {
  committerStats,
  describePerTask,
  fmt,
  perTask,
  post,
  progress,
  spawnCoordinator,
  startFleet,
} from "./_util.ts";

export interface FleetOptions {
  transport: "ws" | "http";
  workers: number;
  concurrency: number;
  tasks: number;
  verification?: unknown;
}

/** Completed tasks per second for one fleet configuration, and its KV writes per task. */
export async function runFleet(
  o: FleetOptions,
): Promise<{ perS: number; cost: ReturnType<typeof perTask> }> {
  const c = await spawnCoordinator();
  const fleet = await startFleet(c, {
    workers: o.workers,
    concurrency: o.concurrency,
    idPrefix: `fleet-${o.transport}`,
    args: ["--transport", o.transport],
  }).catch(async (e) => {
    await c.stop();
    throw e;
  });
  try {
    const before = await committerStats(c.api);
    const t0 = performance.now();
    for (let b = 0; b < o.tasks; b += 1000) {
      await post(c.api, "/tasks", {
        tasks: Array.from({ length: Math.min(1000, o.tasks - b) }, (_, i) => ({
          type: "demo.echo",
          params: { i: b + i },
          ...(o.verification ? { verification: o.verification } : {}),
        })),
      });
    }
    while (true) {
      const s = await (await fetch(`${c.api}/stats`)).json();
      if (s.status.completed + s.status.failed >= o.tasks) break;
      if (performance.now() - t0 > 120_000) throw new Error(`stuck at ${s.status.completed}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const perS = o.tasks / ((performance.now() - t0) / 1000);
    const cost = perTask(before, await committerStats(c.api), o.tasks);
    progress(
      `${o.transport}, ${o.workers}×${o.concurrency}${o.verification ? ", quorum 2-of-2" : ""}: ${
        fmt(perS)
      } tasks/s; ${describePerTask(cost)}`,
    );
    return { perS, cost };
  } finally {
    await fleet.stop();
    await c.stop();
  }
}

const QUORUM = { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2, adaptive: false };

/** WebSocket vs HTTP, and quorum vs none, with two Deno worker processes. */
export async function benchFleets(): Promise<Record<string, number>> {
  const base = { workers: 2, concurrency: 8, tasks: 10_000 };
  const http = await runFleet({ ...base, transport: "http" });
  const ws = await runFleet({ ...base, transport: "ws" });
  const quorum = await runFleet({ ...base, transport: "ws", verification: QUORUM });
  return {
    httpTasksPerS: http.perS,
    wsTasksPerS: ws.perS,
    quorumTasksPerS: quorum.perS,
    wsMutationsPerTask: ws.cost.mutationsPerTask,
    wsSumsPerTask: ws.cost.sumsPerTask,
    wsCommitsPerTask: ws.cost.commitsPerTask,
    quorumMutationsPerTask: quorum.cost.mutationsPerTask,
  };
}

if (import.meta.main) {
  for (const [k, v] of Object.entries(await benchFleets())) console.log(`${k}: ${fmt(v)}`);
}
