/**
 * Task packs on the coordinator: a pack in a folder outside the repo, loaded with `--handlers`,
 * bundled, signed, listed and served; its tasks validated at submit and pinned to a version;
 * reloads by call and by file watch; a second coordinator on the same store following; bad
 * pack files refused at start with exit 2 and one line.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { verifyEntry } from "../shared/packs/signature.ts";
import { digestHex } from "../coordinator/packs/digest.ts";
import { makeSpotLease } from "../coordinator/verify/spot_checks.ts";
import type { HandlerEntry, HandlerManifest } from "../shared/protocol.ts";
import { eventually, REPO_ROOT, testCoordinator } from "./_helpers.ts";

const square = (body = "p.n * p.n") => `
import { z } from "zod";
import { defineHandler, TaskFailure } from "tessera/handler";

export default defineHandler({
  type: "acme.square",
  description: "Squares a number",
  params: z.object({ n: z.number().int().min(0) }),
  result: z.object({ n: z.number() }),
  samples: [{ params: { n: 4 }, result: { n: 16 } }],
  run(p) {
    if (p.n > 1e6) throw new TaskFailure("validation", "too large");
    return { n: ${body} };
  },
});
`;

const cube = `
import { z } from "zod";
import { defineHandler } from "tessera/handler";
export default [defineHandler({
  type: "acme.cube",
  description: "Cubes a number",
  params: z.object({ n: z.number() }),
  result: z.object({ n: z.number() }),
  run: (p) => ({ n: p.n ** 3 }),
})];
`;

/** A pack folder in a temp dir: outside the repo, with no deno.json of its own. */
async function packFolder(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "tessera-pack-" });
  assert.ok(!root.startsWith(REPO_ROOT), "the pack must be outside the repo");
  const dir = join(root, "acme");
  await Deno.mkdir(dir);
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, name), text);
  return dir;
}

async function manifest(api: string): Promise<HandlerManifest> {
  return await (await fetch(`${api}/handlers`)).json();
}

const entryOf = (m: HandlerManifest, type: string) => m.handlers.find((h) => h.type === type);

async function bundleBytes(url: string, sha: string): Promise<Uint8Array> {
  const res = await fetch(`${url}/handlers/${sha}.js`);
  assert.equal(res.status, 200, `bundle ${sha}`);
  assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.equal(res.headers.get("content-type"), "text/javascript; charset=utf-8");
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Imports an entry bundle as a sandboxed loader would: every chunk fetched, its hash checked,
 * its `"./<sha>.js"` literals replaced by blob URLs of chunks already loaded (dependencies first).
 */
async function importBundle(
  url: string,
  entry: HandlerEntry,
  blobs = new Map<string, string>(),
): Promise<unknown> {
  const load = async (sha: string) => {
    const known = blobs.get(sha);
    if (known) return known;
    const bytes = await bundleBytes(url, sha);
    assert.equal(await digestHex(bytes), sha, "served bytes match their hash");
    let text = new TextDecoder().decode(bytes);
    text = text.replace(/"\.\/([0-9a-f]{64})\.js"/g, (_, dep) => {
      assert.ok(blobs.has(dep), `chunk ${dep} listed before its importer`);
      return JSON.stringify(blobs.get(dep));
    });
    // Imports between bundle files are only ever that literal (PACKS_SPEC.md).
    assert.ok(!/["'`]\.\.?\//.test(text), `${sha}: a relative import not of the "./<sha>.js" form`);
    const blob = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
    blobs.set(sha, blob);
    return blob;
  };
  for (const c of entry.chunks) await load(c);
  return (await import(await load(entry.version))).default;
}

const run = async (exported: unknown, params: unknown) => {
  const h = (Array.isArray(exported) ? exported[0] : exported) as {
    run(p: unknown, ctx: unknown): unknown;
  };
  return await h.run(params, {
    signal: new AbortController().signal,
    progress: () => {},
    log: console,
    taskId: "t",
    attempt: 1,
  });
};

Deno.test("a pack outside the repo is bundled, signed, listed, served and validated at submit", async () => {
  const dir = await packFolder({
    "square.ts": square(),
    "_helper.ts": "export const x = 1;",
    "square_test.ts": "throw new Error('not a handler');",
  });
  await using c = await testCoordinator({ handlers: [dir] });
  const m = await manifest(c.api);
  assert.match(m.publicKey, /^[A-Za-z0-9+/]{43}=$/);
  const types = m.handlers.map((h) => h.type);
  assert.ok(types.includes("acme.square") && types.includes("primes.count"), types.join());
  assert.ok(!types.some((t) => t.includes("helper")));
  for (const h of m.handlers) assert.ok(verifyEntry(h, m.publicKey), `${h.type} signature`);
  const entry = entryOf(m, "acme.square")!;
  assert.equal(entry.pack, "acme");
  assert.equal(entry.bundle, `/handlers/${entry.version}.js`);
  assert.deepEqual(entry.params, {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "object",
    properties: { n: { type: "integer", minimum: 0, maximum: 9007199254740991 } },
    required: ["n"],
  });
  // The pack's types and the built-ins share the chunk that holds zod.
  const primes = entryOf(m, "primes.count")!;
  assert.ok(entry.chunks.every((ch) => primes.chunks.includes(ch)));
  // The one entry by version, as a worker pinned to it fetches it.
  const byVersion = await c.call("GET", `/handlers/versions/${entry.version}`);
  assert.equal(byVersion.status, 200);
  assert.deepEqual(byVersion.body, entry);
  assert.equal((await c.call("GET", `/handlers/versions/${"0".repeat(64)}`)).status, 404);
  assert.equal((await fetch(`${c.url}/handlers/${"0".repeat(64)}.js`)).status, 404);

  // The served entry runs: the bytes a worker gets are the handler.
  const exported = await importBundle(c.url, entry);
  assert.deepEqual(await run(exported, { n: 7 }), { n: 49 });
  // Compressed as asked (fetch decompresses; the header says what was sent): gzip at once,
  // brotli once it is made (checked last: it takes seconds).
  const chunkUrl = `${c.url}/handlers/${entry.chunks[0]}.js`;
  const gz = await fetch(chunkUrl, { headers: { "accept-encoding": "gzip" } });
  assert.equal(gz.headers.get("content-encoding"), "gzip");
  assert.equal(await digestHex(new Uint8Array(await gz.arrayBuffer())), entry.chunks[0]);

  // Submit: validated with the pack's schema, pinned to its version.
  const bad = await c.call("POST", "/tasks", { type: "acme.square", params: { n: "x" } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.field, "params.n");
  const ok = await c.call("POST", "/tasks", { type: "acme.square", params: { n: 3 } });
  assert.equal(ok.status, 201);
  assert.equal(ok.body.handler, entry.version);
  assert.equal((await c.call("GET", `/tasks/${ok.body.id}`)).body.handler, entry.version);
  // The pack's known-answer sample makes spot checks work for its type.
  const spot = await makeSpotLease(c.ctx, {
    workerId: "newcomer",
    donorId: null,
    kind: "browser",
    types: ["acme.square"],
  });
  assert.deepEqual(spot?.task.params, { n: 4 });
  assert.equal(spot?.task.handler, entry.version);
  // And it is in the OpenAPI document.
  const doc = (await c.call("GET", "/openapi.json")).body;
  for (const p of ["/handlers", "/handlers/versions/{version}", "/handlers/reload"]) {
    assert.ok(doc.paths[p], p);
  }
  await eventually(
    async () => {
      const br = await fetch(chunkUrl, { headers: { "accept-encoding": "br" } });
      const ok = br.headers.get("content-encoding") === "br" &&
        await digestHex(new Uint8Array(await br.arrayBuffer())) === entry.chunks[0];
      await br.body?.cancel().catch(() => {});
      return ok;
    },
    60_000,
    200,
  );
  await Deno.remove(join(dir, ".."), { recursive: true });
});

Deno.test("tasks keep the version they were submitted against across a reload; a second coordinator on the store follows", async () => {
  const dir = await packFolder({ "square.ts": square() });
  await using a = await testCoordinator({ handlers: [dir], builtinHandlers: false });
  // The second one has no pack of its own: it serves what the store holds.
  await using b = await testCoordinator({ db: a.db });
  const v1 = entryOf(await manifest(a.api), "acme.square")!;
  assert.equal(entryOf(await manifest(b.api), "acme.square")?.version, v1.version);
  const t1 = (await b.call("POST", "/tasks", { type: "acme.square", params: { n: 3 } })).body;
  assert.equal(t1.handler, v1.version);

  await Deno.writeTextFile(join(dir, "square.ts"), square("p.n * p.n + 1"));
  const reload = await a.call("POST", "/handlers/reload");
  assert.equal(reload.status, 200);
  const v2 = entryOf(await manifest(a.api), "acme.square")!;
  assert.notEqual(v2.version, v1.version);
  assert.ok(reload.body.revision >= 2);
  const t2 = (await a.call("POST", "/tasks", { type: "acme.square", params: { n: 3 } })).body;
  assert.equal(t2.handler, v2.version);
  assert.equal((await a.call("GET", `/tasks/${t1.id}`)).body.handler, v1.version);

  // The reload reaches the other coordinator through the store.
  await eventually(async () =>
    entryOf(await manifest(b.api), "acme.square")?.version === v2.version
  );
  const t3 = (await b.call("POST", "/tasks", { type: "acme.square", params: { n: 3 } })).body;
  assert.equal(t3.handler, v2.version);
  // A worker's leases carry each task's pinned version.
  const claimed = await b.call("POST", "/leases", {
    workerId: "w",
    types: ["acme.square"],
    max: 10,
    waitMs: 0,
  });
  const pinned = Object.fromEntries(
    claimed.body.leases.map((l: { taskId: string; task: { handler: string } }) => [
      l.taskId,
      l.task.handler,
    ]),
  );
  assert.deepEqual(pinned, { [t1.id]: v1.version, [t2.id]: v2.version, [t3.id]: v2.version });
  // Both versions stay servable, from either coordinator, and each runs its own code (the
  // shared chunk is checked once per coordinator).
  for (const c of [a, b]) {
    const old = await c.call("GET", `/handlers/versions/${v1.version}`);
    assert.equal(old.status, 200);
    assert.ok(verifyEntry(old.body, (await manifest(c.api)).publicKey));
    const blobs = new Map<string, string>();
    assert.deepEqual(await run(await importBundle(c.url, old.body, blobs), { n: 3 }), { n: 9 });
    assert.deepEqual(await run(await importBundle(c.url, v2, blobs), { n: 3 }), { n: 10 });
  }
  await Deno.remove(join(dir, ".."), { recursive: true });
});

Deno.test("a changed or added file under --handlers is picked up by the file watch; a bad one keeps the old handlers", async () => {
  const dir = await packFolder({ "square.ts": square() });
  await using c = await testCoordinator({ handlers: [dir], builtinHandlers: false });
  const v1 = entryOf(await manifest(c.api), "acme.square")!.version;
  await Deno.writeTextFile(join(dir, "cube.ts"), cube);
  const m = await eventually(
    async () => {
      const m = await manifest(c.api);
      return entryOf(m, "acme.cube") ? m : null;
    },
    15_000,
    100,
  );
  assert.equal(entryOf(m!, "acme.square")!.version, v1, "an unchanged handler keeps its version");
  const cubed = await c.call("POST", "/tasks", { type: "acme.cube", params: { n: "2" } });
  assert.equal(cubed.status, 400);
  assert.equal(cubed.body.error.field, "params.n");

  // A broken file: the reload fails, the registry stays as it was.
  await Deno.writeTextFile(join(dir, "cube.ts"), "export default { type: 'acme.cube' };");
  const refused = await c.call("POST", "/handlers/reload");
  assert.equal(refused.status, 422);
  assert.equal(refused.body.error.code, "invalid_pack");
  assert.ok(refused.body.error.message.includes("cube.ts"), refused.body.error.message);
  assert.ok(entryOf(await manifest(c.api), "acme.cube"), "the old acme.cube stays");
  assert.equal(
    (await c.call("POST", "/tasks", { type: "acme.cube", params: { n: 2 } })).status,
    201,
  );
  await Deno.remove(join(dir, ".."), { recursive: true });
});

/** Starts `coordinator/main.ts` as a real process and waits for it to exit. */
async function startFails(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string }> {
  const db = await Deno.makeTempDir({ prefix: "tessera-badpack-db-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "coordinator/main.ts", "--port", "0", "--db", `${db}/kv.sqlite`, ...args],
      cwd: REPO_ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  } finally {
    await Deno.remove(db, { recursive: true });
  }
}

Deno.test("bad pack files stop the start with exit 2 and one line naming the file and the problem", async () => {
  const cases: Array<[name: string, files: Record<string, string>, problem: RegExp]> = [
    [
      "twice",
      { "a.ts": square(), "b.ts": square() },
      /b\.ts: type "acme\.square" is already registered by .*a\.ts/,
    ],
    ["no export", { "none.ts": "export const answer = 42;" }, /none\.ts: exports no handler/],
    [
      "not zod",
      {
        "plain.ts":
          `export default { type: "acme.plain", description: "", params: { parse: (x) => x },
          result: { parse: (x) => x }, run: () => 1 };`,
      },
      /plain\.ts: acme\.plain: params is not a zod schema/,
    ],
    [
      "not namespaced",
      { "flat.ts": square().replace('"acme.square"', '"square"') },
      /flat\.ts: type "square" is not namespaced/,
    ],
  ];
  const dirs = await Promise.all(cases.map(([, files]) => packFolder(files)));
  try {
    const results = await Promise.all(
      dirs.map((dir) => startFails(["--handlers", dir, "--no-builtin-handlers"])),
    );
    results.forEach(({ code, stderr }, i) => {
      const [name, , problem] = cases[i];
      assert.equal(code, 2, `${name}: exit code (stderr: ${stderr})`);
      const lines = stderr.trim().split("\n");
      assert.equal(lines.length, 1, `${name}: one line, got:\n${stderr}`);
      assert.match(lines[0], /^tessera: /);
      assert.match(lines[0], problem, name);
    });
    // A path that does not exist, from the environment this time.
    const missing = await startFails([], { TESSERA_HANDLERS: "/nonexistent/pack" });
    assert.equal(missing.code, 2);
    assert.equal(
      missing.stderr.trim(),
      "tessera: /nonexistent/pack: no such file or folder (--handlers)",
    );
  } finally {
    for (const d of dirs) await Deno.remove(join(d, ".."), { recursive: true });
  }
});
