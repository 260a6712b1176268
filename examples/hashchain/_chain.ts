/**
 * What both `hashchain.*` handlers share: the params and result schemas, the known answers, and
 * the loop that runs a chain in slices on any {@link ChainEngine} (WebAssembly or TypeScript).
 *
 * A hash chain: `h0 = SHA-512(UTF-8 bytes of seed)`, `h(k+1) = SHA-512(h(k))` (the 64 raw bytes),
 * and the result is `h(iterations)` in hex. It cannot be parallelised (each step needs the one
 * before), which is what S/KEY one-time passwords, hash-chain commitments and proofs of
 * sequential work rely on; a grid runs many chains (many seeds) at once, one per task.
 *
 * Files starting with `_` are not handlers: the coordinator skips them when it loads the folder.
 *
 * @module
 */
import { z } from "zod";
import { type HandlerContext, type HandlerSample, TaskFailure } from "tessera/handler";

/** Largest seed, in UTF-8 bytes: well inside a task's 16 KiB of params (the module takes 64 KiB). */
export const MAX_SEED_BYTES = 4096;
/** Most steps one task may ask for: about half a minute of WebAssembly on a laptop core. */
export const MAX_ITERATIONS = 50_000_000;
/** Steps between two checkpoints (abort check, progress): a few ms of WebAssembly. */
export const SLICE = 8192;
/** Wall time between two yields to the event loop, so an abort message can arrive. */
const YIELD_EVERY_MS = 50;

/** One SHA-512 implementation: the chain state lives inside it. */
export interface ChainEngine {
  /** state = SHA-512(seed). */
  start(seed: Uint8Array): void;
  /** state = SHA-512(state), `n` times. */
  step(n: number): void;
  /** The current state, 64 bytes. */
  digest(): Uint8Array;
}

export const params = z.object({
  seed: z.string().refine((s) => new TextEncoder().encode(s).length <= MAX_SEED_BYTES, {
    message: `seed must be at most ${MAX_SEED_BYTES} bytes of UTF-8`,
  }),
  iterations: z.number().int().min(0).max(MAX_ITERATIONS),
});

export const result = z.object({
  /** h(iterations), 128 lowercase hex digits. */
  digest: z.string().regex(/^[0-9a-f]{128}$/),
  iterations: z.number().int().min(0),
});

export type ChainParams = z.infer<typeof params>;
export type ChainResult = z.infer<typeof result>;

/**
 * Known answers, for the tests of both engines, in Deno and in Chromium. The first two are the
 * FIPS 180-2 SHA-512 test vectors ("abc" and the empty message); the others were computed with
 * WebCrypto's SHA-512, an implementation independent of both engines here.
 */
export const knownAnswers: { params: ChainParams; result: ChainResult }[] = [
  {
    params: { seed: "abc", iterations: 0 },
    result: {
      digest: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
      iterations: 0,
    },
  },
  {
    params: { seed: "", iterations: 0 },
    result: {
      digest: "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" +
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
      iterations: 0,
    },
  },
  {
    params: { seed: "abc", iterations: 1000 },
    result: {
      digest: "15af50c596c7055e8fd4872b392cb6359858151849eb0626ac400466bed18192" +
        "89a2639487954c0bb09d410a9f70b16d284eb0f35724bcdbb31ac99a91bab6c1",
      iterations: 1000,
    },
  },
  {
    params: { seed: "tessera", iterations: 100_000 },
    result: {
      digest: "bb5fc35ab822e7dff7dfe8a3b35ffc9c3133cdb5201328220eea7deb2917088b" +
        "16df8c590335093c2cec2cfbf63f4d401660af5fcfc416bc48ffed579e37c329",
      iterations: 100_000,
    },
  },
];

/**
 * The handlers' `samples`: a fresh spot check each time (a random seed, a short chain), whose
 * answer the coordinator computes by running the handler itself. A fixed list would do too, but
 * a volunteer who cheats could learn its answers by heart; these it cannot.
 */
export function spotCheck(random: () => number): HandlerSample<typeof params, typeof result> {
  const seed = `spot-${Math.floor(random() * 2 ** 32).toString(16)}`;
  return { params: { seed, iterations: 1000 + Math.floor(random() * 4000) } };
}

export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** Resolves on a later macrotask, so timers and messages (an abort) can run. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Runs the chain for `params` on `engine` in slices of {@link SLICE} steps: between slices it
 * checks the abort signal, reports progress, and yields at most every 50 ms of wall time. Timing
 * decides only when to yield, never what is computed.
 */
export async function runChain(
  engine: ChainEngine,
  { seed, iterations }: ChainParams,
  ctx: HandlerContext,
): Promise<ChainResult> {
  const bytes = new TextEncoder().encode(seed);
  if (bytes.length > MAX_SEED_BYTES) {
    throw new TaskFailure("validation", `seed is longer than ${MAX_SEED_BYTES} bytes`);
  }
  engine.start(bytes);
  let lastYield = performance.now();
  for (let done = 0; done < iterations;) {
    ctx.signal.throwIfAborted();
    ctx.progress(done / iterations);
    if (performance.now() - lastYield >= YIELD_EVERY_MS) {
      await yieldToEventLoop();
      ctx.signal.throwIfAborted();
      lastYield = performance.now();
    }
    const n = Math.min(SLICE, iterations - done);
    engine.step(n);
    done += n;
  }
  ctx.progress(1);
  return { digest: toHex(engine.digest()), iterations };
}
