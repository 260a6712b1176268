/**
 * End to end through the real HTTP API and a disk KV file: submit 20,000 tasks in batches,
 * complete them with concurrent claim/report loops, and measure claim latency with 1,000 and
 * with 100,000 tasks queued.
 *
 * @module
 */
import {
  committerStats,
  describePerTask,
  fmt,
  percentile,
  perTask,
  post,
  progress,
  spawnCoordinator,
} from "./_util.ts";

const TOTAL = 20_000;
const BATCH = 1000;
const LOOPS = 8;
const CLAIM_MAX = 100;

export async function benchThroughput(
  options: { million?: boolean } = {},
): Promise<Record<string, number>> {
  const c = await spawnCoordinator();
  try {
    // Submit.
    const atStart = await committerStats(c.api);
    let t = performance.now();
    const batches = TOTAL / BATCH;
    let sent = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (sent < batches) {
        const b = sent++;
        await post(c.api, "/tasks", {
          tasks: Array.from(
            { length: BATCH },
            (_, i) => ({ type: "demo.echo", params: { i: b * BATCH + i } }),
          ),
        });
      }
    }));
    const submitS = (performance.now() - t) / 1000;
    progress(`submitted ${fmt(TOTAL)} in ${fmt(submitS, 2)} s`);

    // Claim and complete.
    const afterSubmit = await committerStats(c.api);
    t = performance.now();
    let completed = 0;
    const claimLatencies: number[] = [];
    await Promise.all(Array.from({ length: LOOPS }, async (_, w) => {
      while (true) {
        const c0 = performance.now();
        const { leases } = await post(c.api, "/leases", { workerId: `bench-${w}`, max: CLAIM_MAX });
        claimLatencies.push(performance.now() - c0);
        if (leases.length === 0) return;
        const { outcomes } = await post(c.api, "/leases/report", {
          items: leases.map((
            l: { taskId: string; leaseId: string; task: { params: unknown } },
          ) => ({
            taskId: l.taskId,
            leaseId: l.leaseId,
            result: l.task.params,
          })),
        });
        completed += outcomes.filter((o: { ok: boolean }) => o.ok).length;
      }
    }));
    const completeS = (performance.now() - t) / 1000;
    progress(`completed ${fmt(completed)} in ${fmt(completeS, 2)} s`);
    if (completed !== TOTAL) throw new Error(`completed ${completed} of ${TOTAL}`);
    const stats = await (await fetch(`${c.api}/stats`)).json();
    if (stats.status.completed !== TOTAL) {
      throw new Error(`stats say ${stats.status.completed} completed`);
    }
    const afterComplete = await committerStats(c.api);
    const submitCost = perTask(atStart, afterSubmit, TOTAL);
    const runCost = perTask(afterSubmit, afterComplete, TOTAL);
    const lifeCost = perTask(atStart, afterComplete, TOTAL);
    progress(`submit: ${describePerTask(submitCost)}`);
    progress(`claim + complete: ${describePerTask(runCost)}`);

    const at1k = await claimLatency(c.api, 1_000);
    progress(
      `claim latency with 1,000 queued: p50 ${fmt(at1k.p50, 2)} ms, p99 ${fmt(at1k.p99, 2)} ms`,
    );
    const at100k = await claimLatency(c.api, 100_000);
    progress(
      `claim latency with 100,000 queued: p50 ${fmt(at100k.p50, 2)} ms, p99 ${
        fmt(at100k.p99, 2)
      } ms`,
    );

    // 1,000,000 queued takes about two minutes to submit: only when asked (`--claim-1m`).
    const at1m = options.million ? await claimLatency(c.api, 1_000_000) : null;
    if (at1m) {
      progress(
        `claim latency with 1,000,000 queued: p50 ${fmt(at1m.p50, 2)} ms, p99 ${
          fmt(at1m.p99, 2)
        } ms`,
      );
    }

    return {
      ...(at1m ? { claimP50At1m: at1m.p50, claimP99At1m: at1m.p99 } : {}),
      mutationsPerTask: lifeCost.mutationsPerTask,
      sumsPerTask: lifeCost.sumsPerTask,
      commitsPerTask: lifeCost.commitsPerTask,
      submittedPerS: TOTAL / submitS,
      completedPerS: TOTAL / completeS,
      claimBatchP50Ms: percentile(claimLatencies.sort((a, b) => a - b), 50),
      claimP50At1k: at1k.p50,
      claimP99At1k: at1k.p99,
      claimP50At100k: at100k.p50,
      claimP99At100k: at100k.p99,
    };
  } finally {
    await c.stop();
  }
}

/**
 * Tops the queue up to `queued` pending tasks, then times 1,000 single-task claims (each claimed
 * task is completed, and one task submitted per claim keeps the depth steady).
 */
async function claimLatency(api: string, queued: number): Promise<{ p50: number; p99: number }> {
  const stats = await (await fetch(`${api}/stats`)).json();
  let missing = queued - stats.status.pending;
  while (missing > 0) {
    const n = Math.min(BATCH, missing);
    await post(api, "/tasks", {
      tasks: Array.from({ length: n }, (_, i) => ({ type: "demo.echo", params: { i } })),
    });
    missing -= n;
  }
  const samples: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const t = performance.now();
    const { leases } = await post(api, "/leases", { workerId: "latency", max: 1 });
    samples.push(performance.now() - t);
    const l = leases[0];
    await Promise.all([
      post(api, `/tasks/${l.taskId}/complete`, { leaseId: l.leaseId, result: null }),
      post(api, "/tasks", { type: "demo.echo", params: { i } }),
    ]);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}
