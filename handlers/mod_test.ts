import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { z } from "zod";
import {
  defineHandler,
  handlerLoaders,
  handlerTypes,
  isHandlerType,
  loadAllHandlers,
  loadHandler,
  TaskFailure,
} from "./mod.ts";
import { runHandler, testContext } from "./_test_context.ts";

const EXPECTED_TYPES = [
  "mandelbrot.tile",
  "primes.count",
  "hash.search",
  "montecarlo.pi",
  "text.wordcount",
  "demo.echo",
  "demo.sleep",
];

/** Valid, quick params for each type. */
const SAMPLE_PARAMS: Record<string, unknown> = {
  "mandelbrot.tile": { x0: -2, y0: -1, x1: 1, y1: 1, width: 8, height: 8, maxIter: 50 },
  "primes.count": { from: 0, to: 1000 },
  "hash.search": { prefix: "p", difficulty: 4 },
  "montecarlo.pi": { seed: 1, samples: 1000 },
  "text.wordcount": { text: "a b a" },
  "demo.echo": { message: "hi" },
  "demo.sleep": { ms: 1 },
};

Deno.test("handlerTypes lists the seven task types", () => {
  deepStrictEqual([...handlerTypes].sort(), [...EXPECTED_TYPES].sort());
  deepStrictEqual(Object.keys(handlerLoaders).sort(), [...EXPECTED_TYPES].sort());
});

Deno.test("isHandlerType accepts known types and refuses others, including Object keys", () => {
  for (const type of EXPECTED_TYPES) ok(isHandlerType(type), type);
  for (const type of ["nope", "primes", "", "toString", "__proto__", "constructor"]) {
    ok(!isHandlerType(type), type);
  }
});

Deno.test("loadHandler loads each handler with its own type, once", async () => {
  for (const type of EXPECTED_TYPES) {
    const handler = await loadHandler(type);
    strictEqual(handler.type, type);
    strictEqual(await loadHandler(type), handler, "cached");
  }
});

Deno.test("loadHandler throws a clear Error for an unknown type", async () => {
  await rejects(loadHandler("no.such"), (err) => {
    ok(err instanceof Error);
    ok(err.message.includes('"no.such"'), err.message);
    ok(err.message.includes("primes.count"), "lists the known types");
    return true;
  });
  await rejects(loadHandler("toString"), /Unknown task type/);
});

Deno.test("loadAllHandlers maps every type to its handler", async () => {
  const handlers = await loadAllHandlers();
  deepStrictEqual([...handlers.keys()].sort(), [...EXPECTED_TYPES].sort());
  for (const [type, handler] of handlers) strictEqual(handler.type, type);
});

Deno.test("loadAllHandlers gives handlers with descriptions, timeouts and the agreed verification", async () => {
  const quorum = { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 4 };
  for (const [type, handler] of await loadAllHandlers()) {
    ok(handler.description.length > 0 && !handler.description.includes("\n"), type);
    ok(Number.isInteger(handler.timeoutMs) && handler.timeoutMs! > 0, type);
    deepStrictEqual(handler.verification, type.startsWith("demo.") ? { mode: "none" } : quorum);
  }
});

Deno.test("loadAllHandlers gives handlers whose schemas convert to JSON Schema (for OpenAPI)", async () => {
  for (const [type, handler] of await loadAllHandlers()) {
    ok(z.toJSONSchema(handler.params, { io: "input" }), type);
    ok(z.toJSONSchema(handler.result), type);
  }
});

Deno.test("loadAllHandlers gives handlers that run on sample params and match their result schema", async () => {
  for (const [type, handler] of await loadAllHandlers()) {
    const result = await runHandler(handler, SAMPLE_PARAMS[type]);
    ok(result !== undefined, type);
    ok(JSON.stringify(result).length < 32 * 1024, type);
  }
});

Deno.test("loadAllHandlers gives handlers that reject with the reason of an aborted signal", async () => {
  for (const [type, handler] of await loadAllHandlers()) {
    const reason = new TaskFailure("cancelled", `cancel ${type}`);
    await rejects(
      runHandler(handler, SAMPLE_PARAMS[type], testContext({ signal: AbortSignal.abort(reason) })),
      (err) => err === reason,
      type,
    );
  }
});

Deno.test("mod.ts re-exports the contract", () => {
  const failure = new TaskFailure("validation", "bad");
  strictEqual(failure.retryable, false);
  const handler = defineHandler({
    type: "x.y",
    description: "d",
    params: z.object({}),
    result: z.object({}),
    run: () => ({}),
  });
  strictEqual(handler.type, "x.y");
});

/** Strips block and line comments (good enough for these files: no "//" inside strings). */
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

Deno.test("handler files use no Deno, DOM, Node, clock or randomness APIs", async () => {
  const dir = new URL("./", import.meta.url);
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    if (entry.name.endsWith("_test.ts") || entry.name === "_test_context.ts") continue;
    files.push(entry.name);
  }
  for (const name of ["mod.ts", "contract.ts", "mandelbrot_tile.ts", "demo_sleep.ts"]) {
    ok(files.includes(name), `scans ${name}`);
  }
  const forbidden = [
    /\bDeno\b/,
    /\bdocument\b/,
    /\bwindow\b/,
    /\bnavigator\b/,
    /\blocalStorage\b/,
    /\bprocess\b/,
    /\brequire\s*\(/,
    /\bMath\.random\b/,
    /\bDate\b/,
  ];
  for (const name of files) {
    const code = stripComments(await Deno.readTextFile(new URL(name, dir)));
    for (const pattern of forbidden) ok(!pattern.test(code), `${name} uses ${pattern}`);
  }
});

Deno.test("handlerLoaders use static import specifiers (bundlers can split them)", async () => {
  const source = stripComments(await Deno.readTextFile(new URL("./mod.ts", import.meta.url)));
  const imports = [...source.matchAll(/import\(([^)]*)\)/g)].map((m) => m[1]);
  strictEqual(imports.length, EXPECTED_TYPES.length);
  for (const specifier of imports) ok(/^"\.\/[a-z_]+\.ts"$/.test(specifier), specifier);
});
