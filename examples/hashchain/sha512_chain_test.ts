import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import wasmHandler from "./sha512_chain.ts";
import tsHandler from "./sha512_chain_ts.ts";
import { knownAnswers, MAX_ITERATIONS, MAX_SEED_BYTES, SLICE, spotCheck, toHex } from "./_chain.ts";
import { tsEngine } from "./_sha512.ts";
import { wasmBytes, wasmEngine } from "./_wasm_engine.ts";
import {
  progressIsSane,
  refusedPaths,
  runHandler,
  testContext,
} from "../../handlers/_test_context.ts";

const handlers = [wasmHandler, tsHandler];

/** The chain by WebCrypto, an implementation independent of both engines. */
async function webCryptoChain(seed: Uint8Array, iterations: number): Promise<string> {
  let h = new Uint8Array(await crypto.subtle.digest("SHA-512", seed as Uint8Array<ArrayBuffer>));
  for (let i = 0; i < iterations; i++) h = new Uint8Array(await crypto.subtle.digest("SHA-512", h));
  return toHex(h);
}

for (const handler of handlers) {
  Deno.test(`${handler.type} gives every known answer (FIPS 180-2 vectors, WebCrypto chains)`, async () => {
    for (const sample of knownAnswers) {
      deepStrictEqual(await runHandler(handler, sample.params), sample.result);
    }
  });

  Deno.test(`${handler.type} reports sane progress across slices and ends at 1`, async () => {
    const ctx = testContext();
    await runHandler(handler, { seed: "progress", iterations: SLICE * 3 + 5 }, ctx);
    ok(progressIsSane(ctx.progressReports), JSON.stringify(ctx.progressReports));
    ok(ctx.progressReports.length >= 4);
  });

  Deno.test(`${handler.type} stops with the signal's reason when aborted mid-chain`, async () => {
    const controller = new AbortController();
    const ctx = testContext({ signal: controller.signal });
    // Abort once the first slice has reported progress; the next checkpoint must throw.
    const progress = ctx.progress;
    ctx.progress = (f) => {
      progress(f);
      if (f > 0) controller.abort(new Error("cancelled by test"));
    };
    await rejects(
      runHandler(handler, { seed: "x", iterations: MAX_ITERATIONS }, ctx),
      /cancelled by test/,
    );
  });
}

Deno.test("hashchain WebAssembly and TypeScript engines agree with WebCrypto at every padding boundary", async () => {
  const bytes = new Uint8Array(400).map((_, i) => (i * 131 + 7) & 0xff);
  const wasm = await wasmEngine();
  const ts = tsEngine();
  // 111/112 and 239/240 are where the length no longer fits the last block.
  for (const length of [0, 1, 111, 112, 113, 127, 128, 129, 239, 240, 256, 400]) {
    const seed = bytes.subarray(0, length);
    const expected = await webCryptoChain(seed, 3);
    for (const engine of [wasm, ts]) {
      engine.start(seed);
      engine.step(3);
      strictEqual(toHex(engine.digest()), expected, `length ${length}`);
    }
  }
});

Deno.test("hashchain.sha512 hashes a multi-byte UTF-8 seed as its UTF-8 bytes", async () => {
  const seed = "Grüße, 世界 🌍";
  const expected = await webCryptoChain(new TextEncoder().encode(seed), 2);
  for (const handler of handlers) {
    strictEqual((await runHandler(handler, { seed, iterations: 2 })).digest, expected);
  }
});

Deno.test("hashchain.sha512 keeps the chains of two interleaved tasks apart", async () => {
  // Each run has its own instance (its own memory): two tasks yielding in one thread.
  const [a, b] = await Promise.all([
    runHandler(wasmHandler, { seed: "abc", iterations: 1000 }),
    runHandler(wasmHandler, { seed: "tessera", iterations: 100_000 }),
  ]);
  deepStrictEqual(a, knownAnswers[2].result);
  deepStrictEqual(b, knownAnswers[3].result);
});

Deno.test("hashchain params refuse negative, fractional and too many iterations and too long seeds", () => {
  const schema = wasmHandler.params;
  deepStrictEqual(refusedPaths(schema, { seed: "a", iterations: -1 }), ["iterations"]);
  deepStrictEqual(refusedPaths(schema, { seed: "a", iterations: 1.5 }), ["iterations"]);
  deepStrictEqual(refusedPaths(schema, { seed: "a", iterations: MAX_ITERATIONS + 1 }), [
    "iterations",
  ]);
  deepStrictEqual(
    refusedPaths(schema, { seed: "é".repeat(MAX_SEED_BYTES / 2 + 1), iterations: 1 }),
    [
      "seed",
    ],
  );
  deepStrictEqual(refusedPaths(schema, { iterations: 1 }), ["seed"]);
  deepStrictEqual(refusedPaths(schema, { seed: "a".repeat(MAX_SEED_BYTES), iterations: 0 }), []);
});

Deno.test("hashchain known answers are valid params and results of the handlers' own schemas", () => {
  for (const { params, result } of knownAnswers) {
    for (const handler of handlers) {
      deepStrictEqual(handler.params.parse(params), params);
      deepStrictEqual(handler.result.parse(result), result);
    }
  }
});

Deno.test("hashchain handlers declare what the grid needs: namespaced type, quorum, timeouts", () => {
  for (const handler of handlers) {
    ok(/^hashchain\.[a-z0-9_]+$/.test(handler.type));
    strictEqual(handler.verification?.mode, "quorum");
    ok((handler.timeoutMs ?? 0) <= (handler.maxTimeoutMs ?? 0));
  }
});

Deno.test("the shipped WebAssembly module needs no imports, so any thread can instantiate it alone", async () => {
  const module = await WebAssembly.compile(wasmBytes());
  strictEqual(WebAssembly.Module.imports(module).length, 0);
});

Deno.test("hashchain spot checks are fresh, valid, short chains that both engines answer alike", async () => {
  let state = 1;
  const random = () => (state = (state * 48271) % 0x7fffffff) / 0x7fffffff;
  const seen = new Set<string>();
  for (let i = 0; i < 5; i++) {
    for (const handler of handlers) strictEqual(handler.samples, spotCheck);
    const sample = spotCheck(random);
    const params = wasmHandler.params.parse(sample.params);
    ok(params.iterations >= 1000 && params.iterations < 5000);
    seen.add(params.seed);
    deepStrictEqual(await runHandler(wasmHandler, params), await runHandler(tsHandler, params));
  }
  strictEqual(seen.size, 5);
});
