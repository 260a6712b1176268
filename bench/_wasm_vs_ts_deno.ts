/**
 * The Deno side of `wasm_vs_ts.ts`, run as a fresh process so the load figures are first-time:
 * `deno run --allow-read bench/_wasm_vs_ts_deno.ts BUNDLE_URL STEPS ROUNDS` prints one JSON line
 * `{load, throughput}`.
 *
 * @module
 */
import { measureLoad, measureThroughput } from "./_wasm_vs_ts_probe.ts";

const [bundleUrl, steps, rounds] = Deno.args;
const load = await measureLoad(bundleUrl);
const throughput = await measureThroughput(Number(steps), Number(rounds));
console.log(JSON.stringify({ load, throughput }));
