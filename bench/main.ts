/**
 * `deno task bench`: prints figures and ratios. Not part of `deno task test`.
 *
 * @module
 */
import { fmt } from "./_util.ts";
import { benchKvCeiling } from "./kv_ceiling.ts";
import { benchThroughput } from "./throughput.ts";

const only = Deno.args[0];
const results: Record<string, Record<string, number>> = {};

if (!only || only === "core") {
  console.log("# Coordinator core (HTTP API, disk KV)");
  const ceiling = await benchKvCeiling();
  console.log(`raw KV, claim-shaped single commits: ${fmt(ceiling.singleCommitsPerS)} commits/s`);
  console.log(
    `raw KV, claim-shaped batched (100/commit): ${fmt(ceiling.batchedClaimsPerS)} claims/s (${
      fmt(ceiling.batchedMutationsPerS)
    } mutations/s)`,
  );
  const t = await benchThroughput();
  console.log(`submitted: ${fmt(t.submittedPerS)} tasks/s`);
  console.log(`completed: ${fmt(t.completedPerS)} tasks/s (claim + complete over HTTP, 8 loops)`);
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
  // A design with one commit per transition needs 2 commits per task (claim, complete).
  const oneCommitCeiling = ceiling.singleCommitsPerS / 2;
  console.log(
    `completed/s vs one-commit-per-transition ceiling (${fmt(oneCommitCeiling)}/s): ${
      fmt(t.completedPerS / oneCommitCeiling, 2)
    }×`,
  );
  console.log(
    `completed/s vs raw batched claim rate: ${
      fmt(t.completedPerS / ceiling.batchedClaimsPerS, 2)
    }×`,
  );
  results.core = { ...ceiling, ...t };
}

if (Deno.args.includes("--json")) console.log(JSON.stringify(results));
