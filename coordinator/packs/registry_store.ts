/**
 * The handler registry in KV, shared by every coordinator on the store: bundle files split under
 * the 64 KiB value limit, entries per version, the current version per type and a revision that
 * bumps whenever the current set changes (others poll it: kv.watch never sees another process's
 * writes on a local file).
 *
 * @module
 */
import {
  type UnsignedHandlerEntry,
  UnsignedHandlerEntry as EntrySchema,
} from "../../shared/protocol.ts";
import { digestHex } from "./digest.ts";
import type { Committer } from "../store/committer.ts";
import {
  decodeHandlerCurrentKey,
  handlerCurrentKey,
  handlerCurrentPrefix,
  handlerEntriesOf,
  handlerEntryKey,
  handlerFileKey,
  handlerFilePartKey,
  handlerRevisionKey,
} from "../store/keys.ts";

/** Bytes per stored part: under the 64 KiB value limit with room for its encoding. */
const PART_BYTES = 60_000;
/** Parts per commit: well under the 800 KiB per operation. */
const PARTS_PER_COMMIT = 8;

export interface Current {
  version: string;
  pack: string;
}

export interface StoredRegistry {
  revision: number;
  /** type → its current version and pack. */
  current: Map<string, Current>;
}

interface FileHead {
  parts: number;
  bytes: number;
}

/** Stores a bundle file unless it is there: parts first, then the head that says it is whole. */
export async function storeFile(
  kv: Deno.Kv,
  committer: Committer,
  sha: string,
  bytes: Uint8Array,
): Promise<void> {
  if ((await kv.get(handlerFileKey(sha))).versionstamp !== null) return;
  const parts = Math.max(1, Math.ceil(bytes.length / PART_BYTES));
  for (let p = 0; p < parts; p += PARTS_PER_COMMIT) {
    const mutations: Deno.KvMutation[] = [];
    for (let i = p; i < Math.min(parts, p + PARTS_PER_COMMIT); i++) {
      const value = bytes.slice(i * PART_BYTES, (i + 1) * PART_BYTES);
      mutations.push({ type: "set", key: handlerFilePartKey(sha, i), value });
    }
    await commitOrThrow(committer, mutations, PART_BYTES * mutations.length);
  }
  const head: FileHead = { parts, bytes: bytes.length };
  await commitOrThrow(committer, [{ type: "set", key: handlerFileKey(sha), value: head }], 64);
}

/** A stored file's bytes, checked against its name; null when it is not (wholly) stored. */
export async function readFile(kv: Deno.Kv, sha: string): Promise<Uint8Array | null> {
  const head = (await kv.get<FileHead>(handlerFileKey(sha))).value;
  if (!head) return null;
  const out = new Uint8Array(head.bytes);
  let at = 0;
  for await (const e of kv.list<Uint8Array>({ prefix: handlerFileKey(sha) })) {
    out.set(e.value, at);
    at += e.value.length;
  }
  if (at !== head.bytes || (await digestHex(out)) !== sha) {
    throw new Error(`stored handler file ${sha} is damaged`);
  }
  return out;
}

/** Stores entries (immutable: named by version and type). */
export async function storeEntries(
  committer: Committer,
  entries: UnsignedHandlerEntry[],
): Promise<void> {
  for (let i = 0; i < entries.length; i += 8) {
    const batch = entries.slice(i, i + 8);
    await commitOrThrow(
      committer,
      batch.map((e) => ({ type: "set", key: handlerEntryKey(e.version, e.type), value: e })),
      batch.reduce((n, e) => n + JSON.stringify(e).length * 2, 0),
    );
  }
}

/** The entry of `type` at `version`; without `type`, the version's first (usually only) one. */
export async function readEntry(
  kv: Deno.Kv,
  version: string,
  type?: string,
): Promise<UnsignedHandlerEntry | null> {
  if (type !== undefined) {
    const v = (await kv.get(handlerEntryKey(version, type))).value;
    return v === null ? null : EntrySchema.parse(v);
  }
  for await (const e of kv.list({ prefix: handlerEntriesOf(version) }, { limit: 1 })) {
    return EntrySchema.parse(e.value);
  }
  return null;
}

export async function readRevision(kv: Deno.Kv): Promise<Deno.KvEntryMaybe<number>> {
  return await kv.get<number>(handlerRevisionKey());
}

export async function readRegistry(kv: Deno.Kv): Promise<StoredRegistry> {
  // The revision first: if a publish lands before the pointers are read, they are newer than
  // the revision says, and the next poll (which sees the bump) reads them again.
  const revision = await readRevision(kv);
  const current = await Array.fromAsync(kv.list<Current>({ prefix: handlerCurrentPrefix() }));
  return {
    revision: revision.value ?? 0,
    current: new Map(current.map((e) => [decodeHandlerCurrentKey(e.key).type, e.value])),
  };
}

/**
 * Makes `entries` the current versions of the packs named in `packs`: their types not among the
 * entries are withdrawn, types of other packs are left as they are (another coordinator's). One
 * operation with the revision bump, checked against the revision read, retried on a race.
 * Returns the new revision and the types whose version changed (none: nothing written).
 */
export async function publish(
  kv: Deno.Kv,
  committer: Committer,
  packs: ReadonlySet<string>,
  entries: UnsignedHandlerEntry[],
): Promise<{ revision: number; changed: string[] }> {
  for (let attempt = 0;; attempt++) {
    const rev = await readRevision(kv);
    const { current } = await readRegistry(kv);
    const mutations: Deno.KvMutation[] = [];
    const changed: string[] = [];
    const next = new Map(entries.map((e) => [e.type, e]));
    for (const [type, c] of current) {
      if (packs.has(c.pack) && !next.has(type)) {
        mutations.push({ type: "delete", key: handlerCurrentKey(type) });
        changed.push(type);
      }
    }
    for (const [type, e] of next) {
      const c = current.get(type);
      if (c?.version === e.version && c.pack === e.pack) continue;
      const value: Current = { version: e.version, pack: e.pack };
      mutations.push({ type: "set", key: handlerCurrentKey(type), value });
      changed.push(type);
    }
    const revision = rev.value ?? 0;
    if (mutations.length === 0) return { revision, changed: [] };
    mutations.push({ type: "set", key: handlerRevisionKey(), value: revision + 1 });
    const ok = await committer.commit({
      checks: [{ key: handlerRevisionKey(), versionstamp: rev.versionstamp }],
      mutations,
      bytes: mutations.length * 200,
    });
    if (ok) return { revision: revision + 1, changed: changed.sort() };
    if (attempt > 50) throw new Error("handler registry: could not publish (too many races)");
  }
}

async function commitOrThrow(
  committer: Committer,
  mutations: Deno.KvMutation[],
  bytes: number,
): Promise<void> {
  if (!await committer.commit({ checks: [], mutations, bytes })) {
    throw new Error("handler registry: a write without checks was refused");
  }
}
