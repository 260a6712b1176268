/**
 * Loading handler code by version: signature, key pinning and hashes, against a real HTTP server
 * serving bundles built with `deno bundle` (the pack routes of PACKS_SPEC).
 */
import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import {
  createHandlerSource,
  HandlerLoadError,
  KeyChangedError,
  type KeyStore,
} from "../shared/worker/handler_source.ts";
import { importHandler } from "../shared/worker/import_handler.ts";
import type { Lease } from "../shared/protocol.ts";
import { generateSigningKey, signEntry } from "../shared/packs/signature.ts";
import { builtinPack, servePack } from "./_pack_server.ts";

const lease = (type: string, handler?: string) =>
  ({ taskId: "t", task: { type, handler } }) as unknown as Lease;

function memoryKeys(): KeyStore & { keys: Map<string, string> } {
  const keys = new Map<string, string>();
  return { keys, get: (o) => keys.get(o) ?? null, set: (o, k) => void keys.set(o, k) };
}

Deno.test("a lease's handler is its pinned version (else the manifest's), verified and importable; files are fetched once", async () => {
  const pack = await builtinPack();
  await using server = servePack(pack);
  const keyStore = memoryKeys();
  const source = createHandlerSource({ origin: server.url, keyStore });
  const echo = pack.entries.find((e) => e.type === "demo.echo")!;
  const code = await source.load(lease("demo.echo"));
  strictEqual(code.version, echo.version);
  strictEqual(code.files.at(-1)!.sha, echo.version, "the entry comes after its chunks");
  deepStrictEqual(code.files.slice(0, -1).map((f) => f.sha).sort(), [...echo.chunks].sort());
  const handler = await importHandler(code);
  strictEqual(handler.type, "demo.echo");
  await source.load(lease("demo.echo", echo.version));
  strictEqual(server.hits.get(`/handlers/${echo.version}.js`), 1);
  strictEqual(keyStore.keys.get(new URL(server.url).origin), pack.publicKey, "pinned on first use");
});

Deno.test("a key other than the one pinned (first use, or --coordinator-key) is refused with one clear line", async () => {
  const pack = await builtinPack();
  await using server = servePack(pack);
  const origin = new URL(server.url).origin;
  const other = generateSigningKey().publicKey;
  const keyStore = memoryKeys();
  keyStore.keys.set(origin, other);
  const err = await createHandlerSource({ origin: server.url, keyStore }).manifest().then(
    () => null,
    (e) => e,
  );
  ok(err instanceof KeyChangedError);
  match(err.message, new RegExp(`^the coordinator at ${origin} signs its handlers with key`));
  ok(!err.message.includes("\n"));
  await rejects(
    createHandlerSource({ origin: server.url, publicKey: other }).load(lease("demo.echo")),
    KeyChangedError,
  );
  const ok1 = await createHandlerSource({ origin: server.url, publicKey: pack.publicKey })
    .manifest();
  strictEqual(ok1.publicKey, pack.publicKey);
});

Deno.test("an entry whose signature does not verify is refused; nothing of it is fetched", async () => {
  const pack = await builtinPack();
  const forger = generateSigningKey();
  const entries = pack.entries.map((e) =>
    e.type === "demo.echo" ? signEntry({ ...e, description: "forged" }, forger.secretKey) : e
  );
  await using server = servePack({ ...pack, entries });
  const source = createHandlerSource({ origin: server.url, publicKey: pack.publicKey });
  const err = await source.manifest().then(() => null, (e) => e);
  ok(err instanceof HandlerLoadError);
  match(err.message, /signature of handler demo\.echo@[0-9a-f]{64} is bad/);
  strictEqual([...server.hits.keys()].filter((p) => p.startsWith("/handlers/")).length, 0);
});
