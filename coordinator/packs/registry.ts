/**
 * The handler registry: which version of every task type is current, the handlers themselves
 * (imported from their bundles), the signed manifest, and every stored version on demand.
 *
 * The store (KV, `registry_store.ts`) is the truth, shared by every coordinator on it; this
 * process keeps the current set in memory (`handlers`, the map `ctx.handlers` is) and follows
 * the store's revision by polling. Loading a pack (at start, on a reload, on a file change)
 * bundles this coordinator's own packs, stores files and entries, and publishes them: the types
 * of the packs it owns are replaced, other coordinators' packs are left alone.
 *
 * Versions are kept forever: a version is a few KB (its entry; the shared chunk is shared), any
 * task may be pinned to one (queued, or retried later), and a garbage collector would need to
 * scan every task to prove a version unreferenced. An operator who churns handlers a lot pays a
 * few KB per change.
 *
 * @module
 */
import type { Handler } from "../../handlers/contract.ts";
import type { HandlerEntry, HandlerManifest } from "../../shared/protocol.ts";
import type { Logger } from "../../shared/logger.ts";
import { signEntry } from "../../shared/packs/signature.ts";
import type { Committer } from "../store/committer.ts";
import { handlerOfType, importEntry, writeCached } from "./bundle_cache.ts";
import { type LoadedPacks, loadPacks } from "./load_packs.ts";
import { unsignedEntry } from "./manifest_entry.ts";
import { type PackSource, packSources } from "./pack_sources.ts";
import {
  publish,
  readEntry,
  readFile,
  readRegistry,
  readRevision,
  storeEntries,
  storeFile,
} from "./registry_store.ts";
import type { SigningKey } from "./signing_key.ts";

export interface PackOptions {
  /** `--handlers` paths, in order. */
  paths: string[];
  /** Load the built-in pack (off: `--no-builtin-handlers`, which also withdraws it). */
  builtin: boolean;
}

export interface HandlerRegistry {
  /** The current handler of every type; updated in place when the registry changes. */
  readonly handlers: ReadonlyMap<string, Handler>;
  /** The version (bundle hash) `handler` was loaded from, for any handler this registry gave. */
  versionOf(handler: Handler): string | null;
  manifest(): HandlerManifest;
  /** The signed entry of any stored version (of `type`, when one bundle holds several). */
  entry(version: string, type?: string): Promise<HandlerEntry | null>;
  /** The handler of `type` at any stored version; null when that version is not stored. */
  handlerAt(version: string, type: string): Promise<Handler | null>;
  /** A bundle file's bytes by hash; null when unknown. */
  file(sha: string): Promise<Uint8Array | null>;
  /**
   * Loads this coordinator's packs again and publishes what changed. A bad file throws a
   * PackError and changes nothing.
   */
  reload(): Promise<{ revision: number; changed: string[] }>;
  /** Follows the store: adopts a newer revision if there is one. */
  refresh(): Promise<void>;
  /** The folders and files a file watch should follow. */
  watched(): string[];
}

interface Loaded {
  entry: HandlerEntry;
  handler: Handler;
}

/** Builds this coordinator's packs; a PackError when one is bad (before anything is opened). */
export async function buildPacks(options: PackOptions): Promise<{
  sources: PackSource[];
  loaded: LoadedPacks;
}> {
  const sources = await packSources(options.paths, options.builtin);
  return { sources, loaded: await loadPacks(sources) };
}

export async function openRegistry(deps: {
  kv: Deno.Kv;
  committer: Committer;
  log: Logger;
  key: SigningKey;
  options: PackOptions;
  built: { sources: PackSource[]; loaded: LoadedPacks };
}): Promise<HandlerRegistry> {
  const { kv, committer, log, key, options } = deps;
  let sources = deps.built.sources;
  const handlers = new Map<string, Handler>();
  let currentEntries = new Map<string, HandlerEntry>();
  let revision = -1;
  const versions = new WeakMap<Handler, string>();
  const byVersion = new Map<string, Promise<Loaded | null>>();
  const files = new Map<string, Uint8Array>();
  const signed = new Map<string, HandlerEntry>();

  const owned = () => new Set(["builtin", ...sources.map((s) => s.name)]);

  async function publishLoaded(loaded: LoadedPacks) {
    for (const [sha, bytes] of loaded.files) {
      await storeFile(kv, committer, sha, bytes);
      files.set(sha, bytes);
    }
    const entries = loaded.handlers.map(unsignedEntry);
    await storeEntries(committer, entries);
    return await publish(kv, committer, owned(), entries);
  }

  function loadVersion(version: string, type: string): Promise<Loaded | null> {
    const id = `${version}\u0001${type}`;
    let pending = byVersion.get(id);
    if (!pending) {
      pending = (async () => {
        const unsigned = await readEntry(kv, version, type);
        if (!unsigned) return null;
        for (const sha of [...unsigned.chunks, version]) {
          const bytes = await file(sha);
          if (!bytes) throw new Error(`handler ${type}: bundle file ${sha} is not stored`);
          await writeCached(sha, bytes);
        }
        const handler = handlerOfType(await importEntry(version), type);
        if (!handler) throw new Error(`handler ${type}: bundle ${version} does not export it`);
        versions.set(handler, version);
        return { entry: signEntry(unsigned, key.secretKey), handler };
      })();
      pending.catch(() => byVersion.delete(id));
      byVersion.set(id, pending);
    }
    return pending;
  }

  async function file(sha: string): Promise<Uint8Array | null> {
    const known = files.get(sha);
    if (known) return known;
    const bytes = await readFile(kv, sha);
    if (bytes) files.set(sha, bytes);
    return bytes;
  }

  // One refresh at a time, and never backwards: a poll that read the store before a reload
  // published must not put the older set back after it.
  let refreshing: Promise<void> = Promise.resolve();
  function refresh(force = false): Promise<void> {
    const run = refreshing.then(() => refreshNow(force));
    refreshing = run.catch(() => {});
    return run;
  }

  async function refreshNow(force: boolean): Promise<void> {
    const rev = await readRevision(kv);
    if (!force && (rev.value ?? 0) === revision) return;
    const stored = await readRegistry(kv);
    if (stored.revision < revision) return;
    const next = new Map<string, Loaded>();
    for (const [type, c] of stored.current) {
      const loaded = await loadVersion(c.version, type).catch((e) => {
        log.error("handler version could not be loaded", {
          type,
          version: c.version,
          error: String(e),
        });
        return null;
      });
      if (loaded) next.set(type, loaded);
    }
    // One synchronous swap: nobody sees half of the new set.
    handlers.clear();
    for (const [type, l] of [...next].sort(([a], [b]) => a.localeCompare(b))) {
      handlers.set(type, l.handler);
    }
    currentEntries = new Map([...next].map(([type, l]) => [type, l.entry]));
    if (revision !== -1 && stored.revision !== revision) {
      log.info("handler registry changed", { revision: stored.revision, types: handlers.size });
    }
    revision = stored.revision;
  }

  let chain: Promise<unknown> = Promise.resolve();
  function reload(): Promise<{ revision: number; changed: string[] }> {
    const run = chain.then(async () => {
      // The paths stay those given at start; their files may have come, gone or changed.
      const built = await buildPacks(options);
      sources = built.sources;
      const result = await publishLoaded(built.loaded);
      await refresh(true);
      if (result.changed.length) {
        log.info("handlers reloaded", { revision: result.revision, changed: result.changed });
      }
      return result;
    });
    chain = run.catch(() => {});
    return run;
  }

  await publishLoaded(deps.built.loaded);
  await refresh(true);

  return {
    handlers,
    versionOf: (h) => versions.get(h) ?? null,
    manifest: () => ({
      publicKey: key.publicKey,
      revision,
      handlers: [...currentEntries.values()],
    }),
    entry: async (version, type) => {
      // Entries never change: one read and one signature per (version, type) and process.
      const id = `${version}\u0001${type ?? ""}`;
      const known = signed.get(id);
      if (known) return known;
      const unsigned = await readEntry(kv, version, type);
      if (!unsigned) return null;
      const entry = signEntry(unsigned, key.secretKey);
      if (signed.size < 10_000) signed.set(id, entry);
      return entry;
    },
    handlerAt: async (version, type) => (await loadVersion(version, type))?.handler ?? null,
    file,
    reload,
    refresh: () => refresh(false),
    watched: () => sources.flatMap((s) => (s.watch ? [s.watch] : [])),
  };
}
