import { deepStrictEqual, notStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import handler from "./montecarlo_pi.ts";
import { progressIsSane, refusedPaths, runHandler, testContext } from "./_test_context.ts";

/** mulberry32 written independently with BigInt arithmetic mod 2^32 (no Math.imul, no >>>). */
function bigintMulberry32(seed: number): () => number {
  const M = 1n << 32n;
  const mul = (a: bigint, b: bigint) => (a * b) % M;
  let state = BigInt(seed);
  return () => {
    state = (state + 0x6d2b79f5n) % M;
    let t = state;
    t = mul(t ^ (t >> 15n), t | 1n);
    t = t ^ ((t + mul(t ^ (t >> 7n), t | 61n)) % M);
    return Number(t ^ (t >> 14n));
  };
}

function bigintHits(seed: number, samples: number): number {
  const next = bigintMulberry32(seed);
  let hits = 0;
  for (let i = 0; i < samples; i++) {
    // x^2 + y^2 <= 1 with x = u / 2^32, exactly: u^2 + v^2 <= 2^64.
    const u = BigInt(next());
    const v = BigInt(next());
    if (u * u + v * v <= 1n << 64n) hits++;
  }
  return hits;
}

Deno.test("montecarlo.pi agrees with an independent BigInt mulberry32 on 20000 samples", async () => {
  for (const seed of [0, 1, 42, 0xffff_ffff]) {
    const result = await runHandler(handler, { seed, samples: 20_000 });
    deepStrictEqual(result, { seed, samples: 20_000, hits: bigintHits(seed, 20_000) });
  }
});

Deno.test("montecarlo.pi gives the same hits for the same seed and different for another", async () => {
  const a = await runHandler(handler, { seed: 12345, samples: 200_000 });
  const b = await runHandler(handler, { seed: 12345, samples: 200_000 });
  const c = await runHandler(handler, { seed: 54321, samples: 200_000 });
  deepStrictEqual(a, b);
  notStrictEqual(a.hits, c.hits);
});

Deno.test("montecarlo.pi estimates pi within 0.01 from 10^6 samples", async () => {
  const ctx = testContext();
  const { hits, samples } = await runHandler(handler, { seed: 2024, samples: 1_000_000 }, ctx);
  ok(Math.abs((4 * hits) / samples - Math.PI) < 0.01, `estimate ${(4 * hits) / samples}`);
  ok(progressIsSane(ctx.progressReports));
  ok(ctx.progressReports.length >= 10, "progress every 1e5 samples");
});

Deno.test("montecarlo.pi handles a single sample", async () => {
  const { hits } = await runHandler(handler, { seed: 7, samples: 1 });
  strictEqual(hits, bigintHits(7, 1));
});

Deno.test("montecarlo.pi refuses bad params, naming the field", () => {
  deepStrictEqual(refusedPaths(handler.params, { seed: -1, samples: 10 }), ["seed"]);
  deepStrictEqual(refusedPaths(handler.params, { seed: 2 ** 32, samples: 10 }), ["seed"]);
  deepStrictEqual(refusedPaths(handler.params, { seed: 1.5, samples: 10 }), ["seed"]);
  deepStrictEqual(refusedPaths(handler.params, { seed: 1, samples: 0 }), ["samples"]);
  deepStrictEqual(refusedPaths(handler.params, { seed: 1, samples: 1e8 + 1 }), ["samples"]);
  deepStrictEqual(refusedPaths(handler.params, { seed: 1 }), ["samples"]);
});

Deno.test("montecarlo.pi stops promptly when the signal aborts mid-run", async () => {
  const controller = new AbortController();
  const reason = new Error("stop");
  const timer = setTimeout(() => controller.abort(reason), 20);
  const started = performance.now();
  try {
    await rejects(
      runHandler(handler, { seed: 1, samples: 1e8 }, testContext({ signal: controller.signal })),
      (err) => err === reason,
    );
  } finally {
    clearTimeout(timer);
  }
  ok(performance.now() - started < 1000, "aborted within a second");
});
