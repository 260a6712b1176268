import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import handler from "./hash_search.ts";
import { progressIsSane, refusedPaths, runHandler, testContext } from "./_test_context.ts";

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Independent check on the hex form: the first `bits` bits are zero. */
function hexHasZeroBits(hex: string, bits: number): boolean {
  const binary = [...hex].map((c) => parseInt(c, 16).toString(2).padStart(4, "0")).join("");
  return !binary.slice(0, bits).includes("1");
}

Deno.test("hash.search finds nonce 0 for difficulty 1 and an empty prefix (SHA-256('0') = 5fec...)", async () => {
  deepStrictEqual(await runHandler(handler, { prefix: "", difficulty: 1 }), {
    found: true,
    nonce: 0,
    hash: "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9",
    tried: 1,
  });
});

Deno.test("hash.search matches known answers computed with Python's hashlib", async () => {
  // Each: the first nonce from 0 whose SHA-256 has >= difficulty leading zero bits.
  const known = [
    ["", 2, 8, "2c624232cdd221771294dfbb310aca000a0df6ac8b66b696d90ef06fdefb64a3"],
    ["tessera:", 8, 22, "005f073bf2d5623f54ce0048fea06f1f91d5912d4d21e9c7de480bb4b1d2daec"],
    ["tessera:", 12, 1300, "00038e2aca7c7342479ba570f834bf4082b5ce525b7688d5208b412116b0dacb"],
    [
      "héllo wörld ✓ ",
      10,
      2662,
      "00125c15af490518710727ed03e48790ed11576250c7d5b17cd5d5bb30984f4f",
    ],
  ] as const;
  for (const [prefix, difficulty, nonce, hash] of known) {
    deepStrictEqual(
      await runHandler(handler, { prefix, difficulty }),
      { found: true, nonce, hash, tried: nonce + 1 },
      `${JSON.stringify(prefix)} at difficulty ${difficulty}`,
    );
  }
});

Deno.test("hash.search returns the first qualifying nonce at difficulty 8 (checked with crypto.subtle)", async () => {
  const prefix = "volunteer-grid/";
  const result = await runHandler(handler, { prefix, difficulty: 8 });
  ok(result.found && result.nonce !== null);
  strictEqual(result.hash, await sha256Hex(prefix + result.nonce));
  ok(hexHasZeroBits(result.hash, 8));
  for (let nonce = 0; nonce < result.nonce; nonce++) {
    ok(!hexHasZeroBits(await sha256Hex(prefix + nonce), 8), `nonce ${nonce} would qualify`);
  }
  strictEqual(result.tried, result.nonce + 1);
});

Deno.test("hash.search starts at start and counts tried from there", async () => {
  // From the known answer "tessera:" / 8 -> 22: starting at 22 finds it at once.
  deepStrictEqual(await runHandler(handler, { prefix: "tessera:", difficulty: 8, start: 22 }), {
    found: true,
    nonce: 22,
    hash: "005f073bf2d5623f54ce0048fea06f1f91d5912d4d21e9c7de480bb4b1d2daec",
    tried: 1,
  });
  const later = await runHandler(handler, { prefix: "tessera:", difficulty: 8, start: 23 });
  ok(later.nonce !== null && later.nonce > 23);
  strictEqual(later.tried, later.nonce - 23 + 1);
  ok(hexHasZeroBits(await sha256Hex("tessera:" + later.nonce), 8));
});

Deno.test("hash.search reports not found after exactly limit nonces", async () => {
  // "tessera:" first reaches 12 zero bits at nonce 1300, so 0..1299 all fail.
  const ctx = testContext();
  deepStrictEqual(
    await runHandler(handler, { prefix: "tessera:", difficulty: 12, limit: 1300 }, ctx),
    { found: false, nonce: null, hash: null, tried: 1300 },
  );
  ok(progressIsSane(ctx.progressReports));
  ok(ctx.progressReports.length >= 2, "progress is reported every batch");
  strictEqual(
    (await runHandler(handler, { prefix: "tessera:", difficulty: 12, limit: 1301 })).nonce,
    1300,
  );
});

Deno.test("hash.search applies the defaults start = 0 and limit = 1e6", () => {
  deepStrictEqual(handler.params.parse({ prefix: "p", difficulty: 4 }), {
    prefix: "p",
    difficulty: 4,
    start: 0,
    limit: 1_000_000,
  });
});

Deno.test("hash.search refuses bad params, naming the field", () => {
  const base = { prefix: "p", difficulty: 8 };
  deepStrictEqual(refusedPaths(handler.params, { ...base, prefix: "x".repeat(257) }), ["prefix"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, prefix: 5 }), ["prefix"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, difficulty: 0 }), ["difficulty"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, difficulty: 33 }), ["difficulty"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, start: -1 }), ["start"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, limit: 0 }), ["limit"]);
  deepStrictEqual(refusedPaths(handler.params, { ...base, limit: 1e7 + 1 }), ["limit"]);
  deepStrictEqual(
    refusedPaths(handler.params, { ...base, start: Number.MAX_SAFE_INTEGER, limit: 2 }),
    ["start"],
  );
  deepStrictEqual(refusedPaths(handler.params, { ...base, prefix: "x".repeat(256) }), []);
});

Deno.test("hash.search stops promptly when the signal aborts mid-run", async () => {
  const controller = new AbortController();
  const reason = new Error("stop");
  const timer = setTimeout(() => controller.abort(reason), 20);
  const started = performance.now();
  try {
    await rejects(
      runHandler(
        handler,
        { prefix: "never", difficulty: 32, limit: 10_000_000 },
        testContext({ signal: controller.signal }),
      ),
      (err) => err === reason,
    );
  } finally {
    clearTimeout(timer);
  }
  ok(performance.now() - started < 1000, "aborted within a second");
});
