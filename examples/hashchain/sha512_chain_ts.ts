/**
 * `hashchain.sha512_ts`: the same chain as `hashchain.sha512` in plain TypeScript. Same params,
 * same result, bit for bit; for engines without WebAssembly, and the baseline the WebAssembly
 * handler is measured against (`deno task bench wasm`).
 *
 * @module
 */
import { defineHandler } from "tessera/handler";
import { params, result, runChain, spotCheck } from "./_chain.ts";
import { tsEngine } from "./_sha512.ts";

export default defineHandler({
  type: "hashchain.sha512_ts",
  description: "Last link of a SHA-512 hash chain (plain TypeScript)",
  params,
  result,
  verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 4 },
  timeoutMs: 120_000,
  maxTimeoutMs: 600_000,
  samples: spotCheck,
  run: (p, ctx) => runChain(tsEngine(), p, ctx),
});
