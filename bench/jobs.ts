/**
 * Jobs: create one job of no-op tasks, finish it with a fleet of `worker.ts` processes, then
 * stream its results (completion order, then input order) while sampling the coordinator's
 * resident memory, to show that a stream's memory stays flat whatever the job's size.
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
  type SpawnedCoordinator,
  startFleet,
} from "./_util.ts";
import { jobDonePrefix } from "../coordinator/store/keys.ts";

export interface JobsOptions {
  tasks: number;
  workers: number;
  concurrency: number;
}

/** Lines of a results stream, counted as they arrive, with peak RSS sampled meanwhile. */
async function stream(
  c: SpawnedCoordinator,
  id: string,
  query: string,
): Promise<{ lines: number; perS: number; peakMiB: number }> {
  let peak = c.rssMiB();
  const sampler = setInterval(() => (peak = Math.max(peak, c.rssMiB())), 20);
  const t0 = performance.now();
  let lines = 0;
  try {
    const res = await fetch(`${c.api}/jobs/${id}/results${query}`);
    if (!res.ok) throw new Error(`results: ${res.status}`);
    for await (const chunk of res.body!) {
      for (const b of chunk) if (b === 10) lines++;
    }
  } finally {
    clearInterval(sampler);
  }
  return { lines, perS: lines / ((performance.now() - t0) / 1000), peakMiB: peak };
}

export async function benchJobs(
  o: JobsOptions = { tasks: 100_000, workers: 2, concurrency: 8 },
): Promise<Record<string, number>> {
  const c = await spawnCoordinator();
  const fleet = await startFleet(c, {
    workers: o.workers,
    concurrency: o.concurrency,
    idPrefix: "jobs",
  }).catch(async (e) => {
    await c.stop();
    throw e;
  });
  try {
    const before = await committerStats(c.api);
    const t0 = performance.now();
    const job = await post(c.api, "/jobs", {
      type: "demo.echo",
      name: "bench",
      inputs: Array.from({ length: o.tasks }, () => ({})),
    });
    const createS = (performance.now() - t0) / 1000;
    progress(`created a job of ${fmt(o.tasks)} tasks in ${fmt(createS, 2)} s`);
    let last = 0;
    for (;;) {
      const j = await (await fetch(`${c.api}/jobs/${job.id}`)).json();
      if (j.status !== "running") break;
      if (j.progress.finished - last >= o.tasks / 10) {
        last = j.progress.finished;
        progress(`${fmt(j.progress.finished)} finished, ${fmt(j.throughput)} tasks/s`);
      }
      if (performance.now() - t0 > 1_800_000) throw new Error(`stuck at ${j.progress.finished}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const tasksPerS = o.tasks / ((performance.now() - t0) / 1000);
    const cost = perTask(before, await committerStats(c.api), o.tasks);
    progress(`finished: ${fmt(tasksPerS)} tasks/s; ${describePerTask(cost)}`);
    await fleet.stop();
    // The ceiling on this machine now: the same range read raw, from this process.
    const kv = await Deno.openKv(`${c.dir}/tessera.sqlite`);
    const r0 = performance.now();
    let raw = 0;
    for await (const _ of kv.list({ prefix: jobDonePrefix(job.id) }, { batchSize: 1000 })) raw++;
    const rawListPerS = raw / ((performance.now() - r0) / 1000);
    kv.close();
    const rssBefore = c.rssMiB();
    const completion = await stream(c, job.id, "");
    const input = await stream(c, job.id, "?order=input");
    if (completion.lines !== o.tasks || input.lines !== o.tasks) {
      throw new Error(`streamed ${completion.lines} / ${input.lines} of ${o.tasks} lines`);
    }
    return {
      tasks: o.tasks,
      createdPerS: o.tasks / createS,
      tasksPerS,
      mutationsPerTask: cost.mutationsPerTask,
      sumsPerTask: cost.sumsPerTask,
      completionResultsPerS: completion.perS,
      inputResultsPerS: input.perS,
      rawListPerS,
      rssBeforeStreamMiB: rssBefore,
      rssPeakStreamMiB: Math.max(completion.peakMiB, input.peakMiB),
    };
  } finally {
    await fleet.stop();
    await c.stop();
  }
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 100_000);
  for (const [k, v] of Object.entries(await benchJobs({ tasks: n, workers: 2, concurrency: 8 }))) {
    console.log(`${k}: ${fmt(v, 2)}`);
  }
}
