/**
 * Several coordinator processes on one KV file: completed tasks per second with 1, 2 and 3 of
 * them (claim + report loops spread over them), and how long work submitted through one takes
 * to reach a claim waiting on another.
 *
 * One file means one SQLite writer at a time: more coordinators add HTTP and JSON capacity, not
 * commit capacity, so on 2 cores the figure shows what sharing the store costs more than what
 * scaling out gains. Across hosts a remote KV (FoundationDB under Deno Deploy) has no single
 * writer lock.
 *
 * @module
 */
import {
  fmt,
  percentile,
  post,
  progress,
  spawnCoordinator,
  type SpawnedCoordinator,
} from "./_util.ts";

const TASKS = 10_000;
const LOOPS = 8;

async function throughput(n: number): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "tessera-bench-scale-" });
  const cs: SpawnedCoordinator[] = [];
  for (let i = 0; i < n; i++) cs.push(await spawnCoordinator([], { dir }));
  try {
    for (let b = 0; b < TASKS; b += 1000) {
      await post(cs[(b / 1000) % n].api, "/tasks", {
        tasks: Array.from(
          { length: 1000 },
          (_, i) => ({ type: "demo.echo", params: { i: b + i } }),
        ),
      });
    }
    const t0 = performance.now();
    let done = 0;
    await Promise.all(Array.from({ length: LOOPS }, async (_, w) => {
      const api = cs[w % n].api;
      while (true) {
        const { leases } = await post(api, "/leases", { workerId: `scale-${w}`, max: 100 });
        if (leases.length === 0) return;
        const { outcomes } = await post(api, "/leases/report", {
          items: leases.map((l: { taskId: string; leaseId: string }) => ({
            taskId: l.taskId,
            leaseId: l.leaseId,
            result: null,
          })),
        });
        done += outcomes.filter((o: { ok: boolean }) => o.ok).length;
      }
    }));
    const perS = done / ((performance.now() - t0) / 1000);
    if (done !== TASKS) throw new Error(`completed ${done} of ${TASKS}`);
    progress(`${n} coordinator(s) on one file: ${fmt(perS)} tasks/s`);
    return perS;
  } finally {
    for (const c of cs) await c.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function wakeLatency(trials: number): Promise<{ p50: number; p99: number }> {
  const dir = await Deno.makeTempDir({ prefix: "tessera-bench-wake-" });
  const a = await spawnCoordinator([], { dir });
  const b = await spawnCoordinator([], { dir });
  const lags: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const waiting = post(b.api, "/leases", { workerId: `wake-${i}`, max: 1, waitMs: 5000 })
        .then((r) => ({ r, at: performance.now() }));
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
      const sent = performance.now();
      await post(a.api, "/tasks", { type: "demo.echo", params: { i } });
      const { r, at } = await waiting;
      if (r.leases.length !== 1) throw new Error(`trial ${i}: the waiting claim got nothing`);
      lags.push(at - sent);
    }
  } finally {
    await a.stop();
    await b.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  lags.sort((x, y) => x - y);
  return { p50: percentile(lags, 50), p99: percentile(lags, 99) };
}

export async function benchScaleOut(): Promise<Record<string, number>> {
  const one = await throughput(1);
  const two = await throughput(2);
  const three = await throughput(3);
  const wake = await wakeLatency(200);
  progress(`cross-coordinator wake-up: p50 ${fmt(wake.p50, 1)} ms, p99 ${fmt(wake.p99, 1)} ms`);
  return {
    oneCoordinatorPerS: one,
    twoCoordinatorsPerS: two,
    threeCoordinatorsPerS: three,
    wakeP50Ms: wake.p50,
    wakeP99Ms: wake.p99,
  };
}

if (import.meta.main) {
  for (const [k, v] of Object.entries(await benchScaleOut())) console.log(`${k}: ${fmt(v, 1)}`);
}
