/**
 * A stand-in for the coordinator's pack routes (PACKS_SPEC), for worker tests until the real
 * coordinator serves them: handler files bundled with `deno bundle` (minified, code-split, every
 * chunk renamed to the SHA-256 of its bytes and imported as `"./<sha>.js"`), entries signed with
 * an ed25519 key, served from a real HTTP server on 127.0.0.1 at exactly the spec's routes:
 * `GET /api/handlers`, `GET /api/handlers/versions/:version`, `GET /handlers/:sha.js`.
 *
 * @module
 */
import { z } from "zod";
import type { Handler } from "../handlers/contract.ts";
import { type HandlerEntry, type HandlerManifest, Verification } from "../shared/protocol.ts";
import { generateSigningKey, sha256Hex, signEntry } from "../shared/packs/signature.ts";
import { REPO_ROOT } from "./_helpers.ts";

/** Bundled and signed handlers: what a coordinator would hold. */
export interface Pack {
  entries: HandlerEntry[];
  files: Map<string, Uint8Array>;
  publicKey: string;
  secretKey: string;
}

const BUILTINS = [
  "demo_echo",
  "demo_sleep",
  "hash_search",
  "mandelbrot_tile",
  "montecarlo_pi",
  "primes_count",
  "text_wordcount",
].map((n) => `${REPO_ROOT}/handlers/${n}.ts`);

/** Bundles `paths` (each default-exports a handler) and signs an entry per handler. */
export async function buildPack(
  paths: string[] = BUILTINS,
  key = generateSigningKey(),
): Promise<Pack> {
  const out = await Deno.makeTempDir({ prefix: "tessera-pack-" });
  try {
    const bundle = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--config",
        `${REPO_ROOT}/deno.json`,
        "--minify",
        "--platform",
        "browser",
        "--code-splitting",
        "--outdir",
        out,
        ...paths,
      ],
      cwd: REPO_ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!bundle.success) throw new Error(new TextDecoder().decode(bundle.stderr));
    const texts = new Map<string, string>();
    for await (const f of Deno.readDir(out)) {
      if (f.name.endsWith(".js")) texts.set(f.name, await Deno.readTextFile(`${out}/${f.name}`));
    }
    // Chunks are renamed to their hashes, dependencies first (a chunk's bytes name its own).
    const shaOf = new Map<string, string>();
    const files = new Map<string, Uint8Array>();
    const local = /["']\.\/([\w.-]+\.js)["']/g;
    const rename = (name: string): string => {
      const done = shaOf.get(name);
      if (done) return done;
      const text = texts.get(name)!.replace(local, (_, dep: string) => `"./${rename(dep)}.js"`);
      const bytes = new TextEncoder().encode(text);
      const sha = sha256Hex(bytes);
      shaOf.set(name, sha);
      files.set(sha, bytes);
      return sha;
    };
    const chunksOf = (sha: string, seen = new Set<string>()): string[] => {
      const text = new TextDecoder().decode(files.get(sha)!);
      for (const m of text.matchAll(/"\.\/([0-9a-f]{64})\.js"/g)) {
        if (!seen.has(m[1]!)) {
          seen.add(m[1]!);
          chunksOf(m[1]!, seen);
        }
      }
      return [...seen];
    };
    const entries: HandlerEntry[] = [];
    for (const path of paths) {
      const name = path.split("/").pop()!.replace(/\.ts$/, ".js");
      const version = rename(name);
      const exported = (await import(path)).default as Handler | Handler[];
      for (const h of [exported].flat()) {
        entries.push(signEntry({
          type: h.type,
          description: h.description,
          version,
          bundle: `/handlers/${version}.js`,
          chunks: chunksOf(version),
          params: jsonSchema(h.params),
          result: jsonSchema(h.result),
          verification: Verification.parse(h.verification ?? { mode: "none" }),
          timeoutMs: h.timeoutMs ?? 60_000,
          maxTimeoutMs: h.maxTimeoutMs ?? 600_000,
          pack: path.startsWith(`${REPO_ROOT}/handlers/`) ? "builtin" : path,
        }, key.secretKey));
      }
    }
    return { entries, files, ...key };
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

function jsonSchema(schema: z.ZodType): unknown {
  try {
    return z.toJSONSchema(schema, { unrepresentable: "any" });
  } catch {
    return {};
  }
}

export interface PackServer extends AsyncDisposable {
  url: string;
  pack: Pack;
  /** Requests served, by path: what a cache saved. */
  hits: Map<string, number>;
  /** Serves `bytes` under `sha` from now on (a tampered or corrupted bundle). */
  tamper(sha: string, bytes: Uint8Array): void;
  close(): Promise<void>;
}

/**
 * Serves `pack` on a free port of 127.0.0.1. With `upstream` (a coordinator's URL) every other
 * request, WebSockets included, is passed to it: a page loaded from here gets the coordinator
 * and the pack routes on one origin, as it will from a coordinator that serves packs.
 */
export function servePack(pack: Pack, upstream?: string): PackServer {
  const files = new Map(pack.files);
  const hits = new Map<string, number>();
  const manifest: HandlerManifest = {
    publicKey: pack.publicKey,
    revision: 1,
    handlers: pack.entries,
  };
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === "/api/handlers") return json(manifest);
    const version = /^\/api\/handlers\/versions\/([0-9a-f]{64})$/.exec(path)?.[1];
    if (version) {
      const entry = pack.entries.find((e) => e.version === version);
      return entry ? json(entry) : json({ code: "not_found", message: "no such version" }, 404);
    }
    const sha = /^\/handlers\/([0-9a-f]{64})\.js$/.exec(path)?.[1];
    const bytes = sha ? files.get(sha) : undefined;
    if (bytes) {
      return new Response(bytes as Uint8Array<ArrayBuffer>, {
        headers: {
          "content-type": "text/javascript; charset=utf-8",
          "cache-control": "public, max-age=31536000, immutable",
        },
      });
    }
    if (upstream) return proxy(req, upstream);
    return json({ code: "not_found", message: `no route ${path}` }, 404);
  });
  const close = () => server.shutdown();
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    pack,
    hits,
    tamper: (sha, bytes) => void files.set(sha, bytes),
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function proxy(req: Request, upstream: string): Promise<Response> {
  const url = new URL(req.url);
  const target = new URL(url.pathname + url.search, upstream);
  if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
    const { socket, response } = Deno.upgradeWebSocket(req);
    target.protocol = target.protocol === "https:" ? "wss:" : "ws:";
    const up = new WebSocket(target);
    const early: Array<string | ArrayBufferLike | Blob | ArrayBufferView> = [];
    socket.onmessage = (e) =>
      up.readyState === WebSocket.OPEN ? up.send(e.data) : early.push(e.data);
    up.onopen = () => early.splice(0).forEach((m) => up.send(m as string));
    up.onmessage = (e) => socket.readyState === WebSocket.OPEN && socket.send(e.data);
    up.onclose = (e) => socket.readyState <= WebSocket.OPEN && socket.close(e.code, e.reason);
    socket.onclose = (e) =>
      up.readyState <= WebSocket.OPEN && up.close(e.code === 1005 ? 1000 : e.code, e.reason);
    up.onerror = () => socket.readyState <= WebSocket.OPEN && socket.close(1011);
    return response;
  }
  const headers = new Headers(req.headers);
  headers.delete("host");
  headers.delete("accept-encoding");
  const res = await fetch(target, {
    method: req.method,
    headers,
    body: req.body,
    redirect: "manual",
    signal: req.signal,
  });
  const out = new Headers(res.headers);
  out.delete("content-encoding");
  out.delete("content-length");
  return new Response(res.body, { status: res.status, headers: out });
}

let builtins: Promise<Pack> | null = null;

/** The built-in handlers, bundled once per test process. */
export function builtinPack(): Promise<Pack> {
  builtins ??= buildPack();
  return builtins;
}
