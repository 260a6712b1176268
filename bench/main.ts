/**
 * `deno task bench [section…]`: prints figures and ratios. Not part of `deno task test`.
 * Sections: core, fleet, jobs, scale, sockets, worker, browser, wasm (all by default). `--json`
 * adds one JSON line. `--job-tasks N` sizes the jobs section's job (100,000 by default).
 * `--claim-1m` also times claims with 1,000,000 queued (minutes). `--no-anchor` skips the BullMQ runs that core and fleet are compared with (`anchor.ts`).
 *
 * @module
 */
import { fmt } from "./_util.ts";
import { runBullmqAnchor } from "./anchor.ts";
import { benchFleets } from "./fleet.ts";
import { benchKvCeiling } from "./kv_ceiling.ts";
import { benchJobs } from "./jobs.ts";
import { benchJobStream } from "./jobs_stream.ts";
import { benchScaleOut } from "./scale_out.ts";
import { benchSockets } from "./sockets.ts";
import { benchThroughput } from "./throughput.ts";
import { benchWorkerEfficiency } from "./worker_efficiency.ts";

const sections = Deno.args.filter((a) => !a.startsWith("--"));
const want = (s: string) => sections.length === 0 || sections.includes(s);
const results: Record<string, Record<string, number>> = {};
const pct = (x: number) => `${fmt(x * 100, 1)}%`;
/**
 * Set/delete mutations a plain task may cost from submit to completion, and what each buys:
 * submit 3 (record, ready entry, list index entry), claim 2 (ready entry out, lease in),
 * completion 4 (lease out, record, list index entry moved from open to completed). 6 before the
 * list indexes (correctness issue, item 19); 11 while leases had an expiry index (issue 15). An
 * owner's task adds 1 (its owner index entry). Sums are counted apart: they merge per key within
 * a commit.
 */
const MUTATION_BUDGET = 9;
/**
 * What a job adds per task (keys.ts): 1 set at its end (its line in the completion index, which
 * a retry deletes again); nothing at submit (ids carry the job and index, so input order, the
 * job's leases and failed tasks are key ranges) or claim. Sums: +processing at claim,
 * −processing and +final at the end, merged per key within a commit (so well under 3 per task).
 */
const JOB_MUTATIONS_PER_TASK = 1;
const JOB_SUMS_PER_TASK = 3;

const anchored = (want("core") || want("fleet")) && !Deno.args.includes("--no-anchor");
const anchors: number[] = [];
if (anchored) {
  console.log("\n# Anchor: BullMQ on Redis, appendfsync always (run before and after core/fleet)");
  const a = await runBullmqAnchor();
  if (a !== null) anchors.push(a);
}
let kvCeiling: Record<string, number> | null = null;
const ceilingOnce = async () => kvCeiling ??= await benchKvCeiling();
/** KV's batched mutation rate over what a task writes: no fleet on this store can go faster. */
const physicalLimit = (c: Record<string, number>, perTask: number) =>
  c.batchedMutationsPerS / perTask;

if (want("core")) {
  console.log("\n# Coordinator core (HTTP API, disk KV)");
  const ceiling = await ceilingOnce();
  console.log(`raw KV, claim-shaped single commits: ${fmt(ceiling.singleCommitsPerS)} commits/s`);
  console.log(
    `raw KV, claim-shaped batched (100/commit): ${fmt(ceiling.batchedClaimsPerS)} claims/s (${
      fmt(ceiling.batchedMutationsPerS)
    } mutations/s)`,
  );
  const t = await benchThroughput({ million: Deno.args.includes("--claim-1m") });
  console.log(`submitted: ${fmt(t.submittedPerS)} tasks/s`);
  console.log(`completed: ${fmt(t.completedPerS)} tasks/s (claim + report over HTTP, 8 loops)`);
  console.log(
    `KV writes per task, submit to completion: ${fmt(t.mutationsPerTask!, 2)} set/delete + ${
      fmt(t.sumsPerTask!, 2)
    } sums, ${fmt(t.commitsPerTask!, 3)} commits (budget: ${MUTATION_BUDGET} set/delete)`,
  );
  console.log(
    `physical limit: ${fmt(ceiling.batchedMutationsPerS)} batched KV mutations/s ÷ ${
      fmt(t.mutationsPerTask! + t.sumsPerTask!, 2)
    } per task = ${fmt(physicalLimit(ceiling, t.mutationsPerTask! + t.sumsPerTask!))} tasks/s`,
  );
  console.log(
    `a job's task adds: ${JOB_MUTATIONS_PER_TASK} set/delete + at most ${JOB_SUMS_PER_TASK} ` +
      `sums (merged per commit); measured in the jobs section`,
  );
  console.log(
    `claim latency, 1,000 queued:   p50 ${fmt(t.claimP50At1k, 2)} ms  p99 ${
      fmt(t.claimP99At1k, 2)
    } ms`,
  );
  console.log(
    `claim latency, 100,000 queued: p50 ${fmt(t.claimP50At100k, 2)} ms  p99 ${
      fmt(t.claimP99At100k, 2)
    } ms`,
  );
  console.log(
    `ratio p99(100k) / p99(1k): ${fmt(t.claimP99At100k / t.claimP99At1k, 2)} (aim ≤ 1.5)`,
  );
  if (t.claimP99At1m !== undefined) {
    console.log(
      `claim latency, 1,000,000 queued: p50 ${fmt(t.claimP50At1m, 2)} ms  p99 ${
        fmt(t.claimP99At1m, 2)
      } ms; ratio p99(1M) / p99(1k): ${fmt(t.claimP99At1m / t.claimP99At1k, 2)} (aim ≤ 1.5)`,
    );
  } else console.log("claim latency with 1,000,000 queued: run with --claim-1m (about 3 minutes)");
  // A design with one commit per transition needs 2 commits per task (claim, complete).
  const oneCommitCeiling = ceiling.singleCommitsPerS / 2;
  console.log(
    `completed/s vs one-commit-per-transition ceiling (${fmt(oneCommitCeiling)}/s): ${
      fmt(t.completedPerS / oneCommitCeiling, 2)
    }×  (aim: 10,000 tasks/s)`,
  );
  results.core = { ...ceiling, ...t };
}

if (want("fleet")) {
  console.log("\n# Deno worker fleets (2 worker.ts processes × 8, no-op tasks)");
  const f = await benchFleets();
  console.log(`HTTP long-poll: ${fmt(f.httpTasksPerS)} tasks/s`);
  console.log(`WebSocket:      ${fmt(f.wsTasksPerS)} tasks/s`);
  console.log(`ratio WebSocket / HTTP: ${fmt(f.wsTasksPerS / f.httpTasksPerS, 2)}× (aim ≥ 2)`);
  console.log(`quorum 2-of-2 over WebSocket: ${fmt(f.quorumTasksPerS)} tasks/s`);
  console.log(`ratio quorum / none: ${pct(f.quorumTasksPerS / f.wsTasksPerS)} (aim ≥ 45%)`);
  console.log(
    `KV writes per task, WebSocket fleet: ${fmt(f.wsMutationsPerTask!, 2)} set/delete + ${
      fmt(f.wsSumsPerTask!, 2)
    } sums, ${fmt(f.wsCommitsPerTask!, 3)} commits; quorum ${
      fmt(f.quorumMutationsPerTask!, 2)
    } set/delete`,
  );
  const ceiling = await ceilingOnce();
  const perTask = f.wsMutationsPerTask! + f.wsSumsPerTask!;
  console.log(
    `physical limit: ${fmt(ceiling.batchedMutationsPerS)} batched KV mutations/s ÷ ${
      fmt(perTask, 2)
    } per task = ${fmt(physicalLimit(ceiling, perTask))} tasks/s; the WebSocket fleet reaches ${
      pct(f.wsTasksPerS / physicalLimit(ceiling, perTask))
    }`,
  );
  results.fleet = f;
}

if (anchored) {
  const a = await runBullmqAnchor();
  if (a !== null) anchors.push(a);
  if (anchors.length > 0) {
    const mean = anchors.reduce((x, y) => x + y, 0) / anchors.length;
    console.log(`\n# Against BullMQ (mean of ${anchors.map((x) => fmt(x)).join(" and ")} jobs/s)`);
    if (results.core) {
      console.log(
        `coordinator core: ${fmt(results.core.completedPerS / mean, 2)}× (aim ≥ 1.5)`,
      );
    }
    if (results.fleet) {
      console.log(
        `real fleet, WebSocket: ${fmt(results.fleet.wsTasksPerS / mean, 2)}× (aim ≥ 1.0)`,
      );
    }
    results.anchor = { bullmqPerS: mean, runs: anchors.length };
  }
}

if (want("jobs")) {
  const at = Deno.args.indexOf("--job-tasks");
  const tasks = at >= 0 ? Number(Deno.args[at + 1]) : 100_000;
  console.log(`\n# Jobs (${fmt(tasks)} no-op tasks, 2 worker.ts × 8 over WebSocket)`);
  const j = await benchJobs({ tasks, workers: 2, concurrency: 8 });
  console.log(
    `create: ${fmt(j.createdPerS)} tasks/s; finish: ${fmt(j.tasksPerS)} tasks/s (fleet-bound)`,
  );
  console.log(
    `KV writes per job task, submit to completion: ${fmt(j.mutationsPerTask, 2)} set/delete + ${
      fmt(j.sumsPerTask, 2)
    } sums (a plain task: ${MUTATION_BUDGET}; a job adds ${JOB_MUTATIONS_PER_TASK})`,
  );
  console.log(
    `results streamed: ${fmt(j.completionResultsPerS)}/s completion order, ${
      fmt(j.inputResultsPerS)
    }/s input order (aim ≥ 50,000/s); raw KV range read of the same entries: ${
      fmt(j.rawListPerS)
    }/s`,
  );
  console.log(
    `coordinator RSS: ${fmt(j.rssBeforeStreamMiB, 1)} MiB before streaming, peak ${
      fmt(j.rssPeakStreamMiB, 1)
    } MiB while streaming (aim: flat)`,
  );
  results.jobs = j;
  console.log("\n# Job results streams alone (completion entries written straight to KV)");
  const s = await benchJobStream([20_000, 200_000]);
  console.log(
    `20,000 lines: ${fmt(s.linesPerS_20000)}/s, RSS ${fmt(s.rssBeforeMiB_20000, 1)} → peak ${
      fmt(s.rssPeakMiB_20000, 1)
    } MiB; 200,000 lines: ${fmt(s.linesPerS_200000)}/s, RSS ${
      fmt(s.rssBeforeMiB_200000, 1)
    } → peak ${fmt(s.rssPeakMiB_200000, 1)} MiB (V8 collects lazily: with ` +
      "DENO_V8_FLAGS=--max-old-space-size=40 the 200,000-line peak stays at the 20,000-line one)",
  );
  results.jobStream = s;
}

if (want("scale")) {
  console.log("\n# Coordinators sharing one KV file");
  const s = await benchScaleOut();
  console.log(
    `completed, HTTP claim + report: 1 coordinator ${fmt(s.oneCoordinatorPerS)}/s, 2 ${
      fmt(s.twoCoordinatorsPerS)
    }/s, 3 ${
      fmt(s.threeCoordinatorsPerS)
    }/s (one SQLite writer: the file, not the processes, bounds it)`,
  );
  console.log(
    `cross-coordinator wake-up: p50 ${fmt(s.wakeP50Ms, 1)} ms, p99 ${
      fmt(s.wakeP99Ms, 1)
    } ms (aim: p99 ≤ 100 ms)`,
  );
  results.scale = s;
}

if (want("sockets")) {
  console.log("\n# Simulated socket workers on one coordinator (1 slot each)");
  const few = await benchSockets(16);
  const many = await benchSockets(10_000);
  for (const s of [few, many]) {
    console.log(
      `${fmt(s.sockets)} sockets: RSS idle ${fmt(s.rssIdleMiB, 1)} MiB, connected ${
        fmt(s.rssConnectedMiB, 1)
      } MiB (${fmt(s.kibPerSocket, 1)} KiB per socket), busy ${
        fmt(s.rssBusyMiB, 1)
      } MiB; lease push p50 ${fmt(s.leaseLatencyP50Ms, 2)} ms, p99 ${
        fmt(s.leaseLatencyP99Ms, 2)
      } ms; burst ${fmt(s.burstTasksPerS)} tasks/s`,
    );
  }
  console.log(
    `10,000 sockets: RSS ${fmt(many.rssBusyMiB, 1)} MiB (aim < 500), push p99 ${
      fmt(many.leaseLatencyP99Ms, 1)
    } ms (aim < 50), burst ${pct(many.burstTasksPerS / few.burstTasksPerS)} of 16 sockets' ` +
      "(aim ≥ 80%)",
  );
  results.sockets = many;
  results.sockets16 = few;
}

if (want("worker")) {
  console.log("\n# Worker core efficiency (2 worker.ts × 2, 5 ms CPU tasks)");
  const w = await benchWorkerEfficiency();
  console.log(`core efficiency: ${pct(w.efficiency ?? NaN)} (aim ≥ 90%)`);
  results.worker = w;
}

if (want("browser")) {
  console.log("\n# Browser efficiency (donate page, 2 Web Workers, 50 ms tasks)");
  try {
    const { benchBrowserEfficiency } = await import("./browser_efficiency.ts");
    const b = await benchBrowserEfficiency();
    console.log(`browser efficiency: ${pct(b.efficiency ?? NaN)} (aim ≥ 95%)`);
    results.browser = b;
  } catch (e) {
    console.log(`skipped: ${(e as Error).message}`);
  }
}

if (want("wasm")) {
  console.log("\n# A pack's WebAssembly vs plain TypeScript (examples/hashchain, SHA-512 chain)");
  try {
    const { benchWasmVsTs, printWasmVsTs } = await import("./wasm_vs_ts.ts");
    const w = await benchWasmVsTs();
    printWasmVsTs(w);
    results.wasm = w;
  } catch (e) {
    console.log(`skipped: ${(e as Error).message}`);
  }
}

if (Deno.args.includes("--json")) console.log(JSON.stringify(results));
