/**
 * What `wasm_vs_ts.ts` measures inside one JavaScript thread, the same code in Deno and in a
 * Chromium Web Worker (bundled): chain steps per second of the WebAssembly engine, the plain
 * TypeScript engine and, as a reference, noble-hashes' SHA-512; and what loading the pack costs
 * a thread the first time (importing the handler bundle, decoding the base64, compiling and
 * instantiating the module).
 *
 * @module
 */
import { sha512 } from "@noble/hashes/sha2.js";
import { wasmBytes, wasmEngine } from "../examples/hashchain/_wasm_engine.ts";
import { tsEngine } from "../examples/hashchain/_sha512.ts";
import type { ChainEngine } from "../examples/hashchain/_chain.ts";
import type { Handler, HandlerContext } from "../handlers/contract.ts";

/**
 * Steps per second of each engine: the best of `rounds` runs of `steps` steps after a warm-up,
 * and the median of the per-round ratios. The engines take turns within each round, so a busy
 * machine slows both alike and the ratio stays meaningful when the absolute rates do not.
 */
export interface Throughput {
  wasmPerS: number;
  tsPerS: number;
  noblePerS: number;
  /** Median over rounds of WebAssembly rate / TypeScript rate in that round. */
  wasmOverTs: number;
  /** Median over rounds of WebAssembly rate / noble-hashes rate in that round. */
  wasmOverNoble: number;
}

/** The chain on noble-hashes: one `sha512()` call per step, as a library user would write it. */
function nobleEngine(): ChainEngine {
  let h = new Uint8Array(64);
  return {
    start: (seed) => void (h = sha512(seed)),
    step(n) {
      for (let k = 0; k < n; k++) h = sha512(h);
    },
    digest: () => h,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Measures the three engines in this thread; all three must agree on one digest first. */
export async function measureThroughput(steps: number, rounds: number): Promise<Throughput> {
  const engines = [await wasmEngine(), tsEngine(), nobleEngine()];
  const digests = engines.map((e) => {
    e.start(new TextEncoder().encode("agree"));
    e.step(1000);
    return Array.from(e.digest()).join(",");
  });
  if (new Set(digests).size !== 1) throw new Error("the engines disagree");
  for (const e of engines) e.step(Math.min(steps, 20_000)); // warm-up: let the JIT tier up
  const rates: number[][] = engines.map(() => []);
  for (let r = 0; r < rounds; r++) {
    engines.forEach((engine, i) => {
      const t0 = performance.now();
      engine.step(steps);
      rates[i].push((steps / (performance.now() - t0)) * 1000);
    });
  }
  return {
    wasmPerS: Math.max(...rates[0]),
    tsPerS: Math.max(...rates[1]),
    noblePerS: Math.max(...rates[2]),
    wasmOverTs: median(rates[0].map((w, r) => w / rates[1][r])),
    wasmOverNoble: median(rates[0].map((w, r) => w / rates[2][r])),
  };
}

/** First-time costs in ms, in a thread that has loaded nothing of the pack yet. */
export interface LoadCost {
  /** `import()` of the minified handler bundle: fetch (or read), parse, evaluate (zod included). */
  importMs: number;
  /** The first `run` of a 0-step task: includes decode, compile and instantiate inside it. */
  firstRunMs: number;
  /** A second such run: one instantiate, no compile. */
  secondRunMs: number;
  /** Of this probe's own copy of the module: base64 to bytes. */
  decodeMs: number;
  /**
   * `WebAssembly.compile` of the bytes plus an empty custom section: the same code, but other
   * bytes, so V8's cache of modules compiled in this process (keyed by bytes) cannot answer it.
   */
  compileMs: number;
  /** `WebAssembly.instantiate` of the compiled module. */
  instantiateMs: number;
}

const quietContext: HandlerContext = {
  signal: new AbortController().signal,
  progress: () => {},
  log: { debug() {}, info() {}, warn() {}, error() {} },
  taskId: "bench",
  attempt: 1,
};

/** Measures loading the handler bundle at `bundleUrl` for the first time in this thread. */
export async function measureLoad(bundleUrl: string): Promise<LoadCost> {
  const t0 = performance.now();
  const handler = (await import(bundleUrl)).default as Handler;
  const t1 = performance.now();
  await handler.run({ seed: "abc", iterations: 0 }, quietContext);
  const t2 = performance.now();
  await handler.run({ seed: "abc", iterations: 0 }, quietContext);
  const t3 = performance.now();
  const bytes = wasmBytes();
  const t4 = performance.now();
  const distinct = new Uint8Array(bytes.length + 4);
  distinct.set(bytes);
  distinct.set([0, 2, 1, 0x78], bytes.length); // custom section "x", empty
  const module = await WebAssembly.compile(distinct);
  const t5 = performance.now();
  await WebAssembly.instantiate(module, {});
  const t6 = performance.now();
  return {
    importMs: t1 - t0,
    firstRunMs: t2 - t1,
    secondRunMs: t3 - t2,
    decodeMs: t4 - t3,
    compileMs: t5 - t4,
    instantiateMs: t6 - t5,
  };
}
