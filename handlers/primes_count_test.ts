import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import handler from "./primes_count.ts";
import { progressIsSane, refusedPaths, runHandler, testContext } from "./_test_context.ts";

/** Independent check: trial division by 2 and odd numbers up to sqrt(n). */
function isPrimeByTrialDivision(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

function countByTrialDivision(from: number, to: number): number {
  let count = 0;
  for (let n = from; n < to; n++) if (isPrimeByTrialDivision(n)) count++;
  return count;
}

const count = async (from: number, to: number) => (await runHandler(handler, { from, to })).count;

Deno.test("primes.count counts the 25 primes below 100", async () => {
  deepStrictEqual(await runHandler(handler, { from: 0, to: 100 }), { from: 0, to: 100, count: 25 });
});

Deno.test("primes.count counts pi(10^6) = 78498 primes below a million", async () => {
  strictEqual(await count(0, 1_000_000), 78498);
});

Deno.test("primes.count counts 48155 primes in [10^9, 10^9 + 10^6)", async () => {
  // Figure checked independently (sympy: primepi(10^9 + 10^6) - primepi(10^9)).
  strictEqual(await count(1e9, 1e9 + 1e6), 48155);
});

Deno.test("primes.count counts 3613 primes in [10^12 - 10^5, 10^12), the top of its range", async () => {
  // Figure checked independently (sympy: primepi(10^12) - primepi(10^12 - 10^5)).
  strictEqual(await count(1e12 - 1e5, 1e12), 3613);
});

Deno.test("primes.count is half-open: from is counted, to is not", async () => {
  strictEqual(await count(2, 3), 1);
  strictEqual(await count(2, 2), 0);
  strictEqual(await count(3, 7), 2); // 3, 5
  strictEqual(await count(3, 8), 3); // 3, 5, 7
  strictEqual(await count(0, 2), 0);
  strictEqual(await count(0, 0), 0);
  strictEqual(await count(1e12, 1e12), 0);
});

Deno.test("primes.count agrees with trial division on every range within [0, 130)", async () => {
  for (let from = 0; from < 130; from++) {
    for (let to = from; to < 130; to += 7) {
      strictEqual(await count(from, to), countByTrialDivision(from, to), `[${from}, ${to})`);
    }
  }
});

Deno.test("primes.count agrees with trial division across segment boundaries and near 10^12", async () => {
  // Segments hold 65536 odd numbers (131072 integers); cross a few boundaries at odd offsets.
  strictEqual(await count(130_000, 400_001), countByTrialDivision(130_000, 400_001));
  strictEqual(await count(1e12 - 2000, 1e12), countByTrialDivision(1e12 - 2000, 1e12));
  strictEqual(await count(999_999_999_989, 999_999_999_990), 1); // largest prime below 10^12
  strictEqual(await count(999_983 * 999_983, 999_983 * 999_983 + 1), 0); // square of a prime
});

Deno.test("primes.count reports sane progress", async () => {
  const ctx = testContext();
  await runHandler(handler, { from: 0, to: 2_000_000 }, ctx);
  ok(progressIsSane(ctx.progressReports));
  ok(ctx.progressReports.length > 10, "progress is reported per segment");
});

Deno.test("primes.count refuses bad params, naming the field", () => {
  deepStrictEqual(refusedPaths(handler.params, { from: -1, to: 10 }), ["from"]);
  deepStrictEqual(refusedPaths(handler.params, { from: 0.5, to: 10 }), ["from"]);
  deepStrictEqual(refusedPaths(handler.params, { from: 0, to: 1e12 + 1 }), ["to"]);
  deepStrictEqual(refusedPaths(handler.params, { from: 10, to: 5 }), ["from"]);
  deepStrictEqual(refusedPaths(handler.params, { from: 0, to: 1e8 + 1 }), ["to"]);
  deepStrictEqual(refusedPaths(handler.params, { from: 0 }), ["to"]);
  deepStrictEqual(refusedPaths(handler.params, { from: 0, to: 1e8 }), []);
  deepStrictEqual(refusedPaths(handler.params, { from: 1e12 - 1e8, to: 1e12 }), []);
});

Deno.test("primes.count stops promptly when the signal aborts mid-run", async () => {
  const controller = new AbortController();
  const reason = new Error("stop");
  const timer = setTimeout(() => controller.abort(reason), 20);
  const started = performance.now();
  try {
    await rejects(
      runHandler(
        handler,
        { from: 1e12 - 1e8, to: 1e12 },
        testContext({ signal: controller.signal }),
      ),
      (err) => err === reason,
    );
  } finally {
    clearTimeout(timer);
  }
  ok(performance.now() - started < 1000, "aborted within a second");
});
