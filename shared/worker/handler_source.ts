/**
 * Where a worker gets the code of a lease's handler: the coordinator's signed manifest and its
 * content-addressed bundles (PACKS_SPEC). Universal (Deno and browsers; fetch and @noble only).
 *
 * - The version run is `lease.task.handler` (the one the task was submitted against), else the
 *   manifest's current version of the type.
 * - Every entry's signature is checked with the pinned key: the `--coordinator-key` given, else
 *   the one seen first from this origin (trust on first use, kept by a {@link KeyStore}). A
 *   different key is a {@link KeyChangedError}: the worker must stop, not run that code.
 * - Every file's SHA-256 is checked against its name before it is kept or run; a mismatch is a
 *   {@link HandlerLoadError} (the attempt fails retryable, nothing runs).
 * - Entries are cached by version, files by hash (memory, and a {@link FileCache} if given).
 *
 * @example
 * ```ts
 * const source = createHandlerSource({ origin: "http://127.0.0.1:8787", keyStore });
 * const code = await source.load(lease); // then importHandler(code) inside the thread
 * ```
 *
 * @module
 */
import { HandlerEntry, HandlerManifest, type Lease } from "../protocol.ts";
import { sha256Hex, verifyEntry } from "../packs/signature.ts";
import { type CodeFile, dependencyOrder, type HandlerCode } from "./import_handler.ts";

export type { HandlerCode };

/** Handler code could not be had or failed a check: this attempt fails (retryable). */
export class HandlerLoadError extends Error {
  override name = "HandlerLoadError";
}

/** The coordinator signs with another key than the one pinned: stop, run nothing of it. */
export class KeyChangedError extends Error {
  override name = "KeyChangedError";
}

/** Trust-on-first-use keys, per coordinator origin. */
export interface KeyStore {
  get(origin: string): Promise<string | null> | string | null;
  set(origin: string, publicKey: string): Promise<void> | void;
}

/** Bundle files by hash, kept across runs (Deno: the cache dir). Never trusted: re-hashed. */
export interface FileCache {
  get(sha: string): Promise<Uint8Array | null>;
  put(sha: string, bytes: Uint8Array): Promise<void>;
}

export interface HandlerSourceOptions {
  /** The coordinator's base URL (its origin is what keys are pinned to). */
  origin: string;
  /** `--coordinator-key`: the only key accepted; nothing is stored. */
  publicKey?: string | null;
  keyStore?: KeyStore;
  fileCache?: FileCache;
  fetch?: typeof fetch;
  /** A manifest older than this is fetched again when an unpinned task needs it. @default 5000 */
  manifestTtlMs?: number;
}

export interface HandlerSource {
  /** The current manifest, its key checked and pinned (throws {@link KeyChangedError}). */
  manifest(): Promise<HandlerManifest>;
  /** The verified code of the lease's handler version. */
  load(lease: Lease): Promise<HandlerCode>;
}

export function createHandlerSource(options: HandlerSourceOptions): HandlerSource {
  const base = options.origin.replace(/\/+$/, "");
  const origin = new URL(base).origin;
  const get = options.fetch ?? fetch;
  const ttl = options.manifestTtlMs ?? 5_000;
  let key: string | null = options.publicKey ?? null;
  let current: { at: number; manifest: HandlerManifest } | null = null;
  let manifestPending: Promise<HandlerManifest> | null = null;
  const entries = new Map<string, Promise<HandlerEntry>>();
  const files = new Map<string, Promise<string>>();
  const codes = new Map<string, Promise<HandlerCode>>();

  async function fetchJson(path: string): Promise<unknown> {
    let res: Response;
    try {
      res = await get(`${base}${path}`);
    } catch (e) {
      throw new HandlerLoadError(`cannot fetch ${path}: ${(e as Error).message}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new HandlerLoadError(`GET ${path}: HTTP ${res.status}`);
    }
    return await res.json();
  }

  /** Pins the key the coordinator announces, or checks it against the one pinned. */
  async function checkKey(announced: string): Promise<string> {
    if (key === null && !options.publicKey) {
      const stored = await options.keyStore?.get(origin) ?? null;
      if (stored === null) await options.keyStore?.set(origin, announced);
      key = stored ?? announced;
    }
    if (announced !== key) {
      throw new KeyChangedError(
        `the coordinator at ${origin} signs its handlers with key ${announced}, not the pinned ` +
          `${key}${options.publicKey ? " (--coordinator-key)" : ""}; refusing its code`,
      );
    }
    return key;
  }

  function verified(entry: HandlerEntry, k: string): HandlerEntry {
    if (!verifyEntry(entry, k)) {
      throw new HandlerLoadError(`the signature of handler ${entry.type}@${entry.version} is bad`);
    }
    return entry;
  }

  async function fetchManifest(): Promise<HandlerManifest> {
    const parsed = HandlerManifest.safeParse(await fetchJson("/api/handlers"));
    if (!parsed.success) throw new HandlerLoadError("GET /api/handlers: not a handler manifest");
    const k = await checkKey(parsed.data.publicKey);
    for (const entry of parsed.data.handlers) {
      verified(entry, k);
      entries.set(entry.version, Promise.resolve(entry));
    }
    current = { at: Date.now(), manifest: parsed.data };
    return parsed.data;
  }

  function manifest(maxAgeMs = Infinity): Promise<HandlerManifest> {
    if (current && Date.now() - current.at <= maxAgeMs) return Promise.resolve(current.manifest);
    manifestPending ??= fetchManifest().finally(() => (manifestPending = null));
    return manifestPending;
  }

  function entry(version: string): Promise<HandlerEntry> {
    let pending = entries.get(version);
    if (!pending) {
      pending = (async () => {
        const k = key ?? await checkKey((await manifest()).publicKey);
        const parsed = HandlerEntry.safeParse(await fetchJson(`/api/handlers/versions/${version}`));
        if (!parsed.success || parsed.data.version !== version) {
          throw new HandlerLoadError(`GET /api/handlers/versions/${version}: not that entry`);
        }
        return verified(parsed.data, k);
      })();
      pending.catch(() => entries.delete(version));
      entries.set(version, pending);
    }
    return pending;
  }

  function file(sha: string): Promise<string> {
    let pending = files.get(sha);
    if (!pending) {
      pending = (async () => {
        const cached = await options.fileCache?.get(sha).catch(() => null);
        if (cached && sha256Hex(cached) === sha) return new TextDecoder().decode(cached);
        let res: Response;
        try {
          res = await get(`${base}/handlers/${sha}.js`);
        } catch (e) {
          throw new HandlerLoadError(`cannot fetch /handlers/${sha}.js: ${(e as Error).message}`);
        }
        if (!res.ok) {
          await res.body?.cancel();
          throw new HandlerLoadError(`GET /handlers/${sha}.js: HTTP ${res.status}`);
        }
        const bytes = new Uint8Array(await res.arrayBuffer());
        const actual = sha256Hex(bytes);
        if (actual !== sha) {
          throw new HandlerLoadError(
            `hash mismatch: /handlers/${sha}.js has SHA-256 ${actual}; refusing to run it`,
          );
        }
        await options.fileCache?.put(sha, bytes).catch(() => {});
        return new TextDecoder().decode(bytes);
      })();
      pending.catch(() => files.delete(sha));
      files.set(sha, pending);
    }
    return pending;
  }

  async function versionOf(lease: Lease): Promise<string> {
    if (lease.task.handler) return lease.task.handler;
    const type = lease.task.type;
    const find = (m: HandlerManifest) => m.handlers.find((h) => h.type === type)?.version;
    // An unpinned task (stored before packs) runs the type's current version: a fresh manifest.
    const version = find(await manifest(ttl)) ?? find(await manifest(0));
    if (!version) throw new HandlerLoadError(`the coordinator's manifest has no type ${type}`);
    return version;
  }

  return {
    manifest: () => manifest(0),
    async load(lease) {
      const version = await versionOf(lease);
      const type = lease.task.type;
      // A module exporting several handlers is one bundle (one version) for several types: the
      // thread picks the lease's type from it, so any signed entry of that version will do.
      const key = `${type}@${version}`;
      let pending = codes.get(key);
      if (!pending) {
        pending = (async () => {
          const e = await entry(version);
          const shas = [...new Set([...e.chunks, e.version])];
          const texts = await Promise.all(shas.map(file));
          const all: CodeFile[] = shas.map((sha, i) => ({ sha, text: texts[i]! }));
          try {
            return { type, version, files: dependencyOrder(all) };
          } catch (err) {
            throw new HandlerLoadError(`handler ${version}: ${(err as Error).message}`);
          }
        })();
        pending.catch(() => codes.delete(key));
        codes.set(key, pending);
      }
      return pending;
    },
  };
}
