/**
 * Streaming alone, at sizes a fleet here cannot finish in a bench run: a job's completion
 * entries are written straight into the coordinator's KV file (as its tasks' ends would write
 * them), then streamed over HTTP while the coordinator's RSS is sampled: memory must not grow
 * with the job.
 *
 * @module
 */
import { fmt, post, progress, spawnCoordinator } from "./_util.ts";
import { jobCountKey, jobDoneKey, jobKey, jobTaskId } from "../coordinator/store/keys.ts";
import type { JobRecord } from "../coordinator/jobs/job_record.ts";

export async function benchJobStream(sizes = [20_000, 200_000]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of sizes) {
    const c = await spawnCoordinator();
    try {
      const job = await post(c.api, "/jobs", { type: "demo.echo", inputs: [], open: true });
      const kv = await Deno.openKv(`${c.dir}/tessera.sqlite`);
      const enc = new TextEncoder();
      const t0 = Date.now() - 60_000;
      for (let i = 0; i < n; i += 500) {
        const op = kv.atomic();
        for (let j = i; j < Math.min(n, i + 500); j++) {
          const id = jobTaskId(job.id, j);
          const line = JSON.stringify({ index: j, id, status: "completed", result: {} });
          op.set(jobDoneKey(job.id, t0 + Math.floor(j / 100), id), enc.encode(line.slice(0, -1)));
        }
        await op.commit();
      }
      const rec = (await kv.get<JobRecord>(jobKey(job.id))).value!;
      await kv.atomic()
        .set(jobKey(job.id), { ...rec, open: false, closedAt: Date.now(), nextIndex: n })
        .sum(jobCountKey(job.id, "completed"), BigInt(n))
        .commit();
      kv.close();
      const before = c.rssMiB();
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, c.rssMiB())), 20);
      const started = performance.now();
      let lines = 0;
      const res = await fetch(`${c.api}/jobs/${job.id}/results`);
      for await (const chunk of res.body!) for (const b of chunk) if (b === 10) lines++;
      clearInterval(sampler);
      if (lines !== n) throw new Error(`streamed ${lines} of ${n}`);
      const perS = lines / ((performance.now() - started) / 1000);
      progress(
        `${fmt(n)} entries: ${fmt(perS)} lines/s, RSS ${fmt(before, 1)} → peak ${fmt(peak, 1)} MiB`,
      );
      out[`linesPerS_${n}`] = perS;
      out[`rssBeforeMiB_${n}`] = before;
      out[`rssPeakMiB_${n}`] = peak;
    } finally {
      await c.stop();
    }
  }
  return out;
}

if (import.meta.main) {
  const sizes = Deno.args.length ? Deno.args.map(Number) : undefined;
  for (const [k, v] of Object.entries(await benchJobStream(sizes))) {
    console.log(`${k}: ${fmt(v, 1)}`);
  }
}
