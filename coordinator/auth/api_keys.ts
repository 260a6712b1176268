/**
 * The API key store. A key is 256 random bits, shown once when it is made; the KV keeps only its
 * SHA-256 (a slow password hash buys nothing for a key this random), with an id, a name, a role
 * and the first characters for display. Revoked keys keep their record (so `list` shows them and
 * `--auth auto` stays enforced, and a revoked worker key still means worker tokens are required)
 * but lose their hash entry, so they stop working at once.
 *
 * @example
 * ```ts
 * const kv = await Deno.openKv("./data/tessera.sqlite");
 * const { key, record } = await createApiKey(kv, { name: "ci", role: "client" });
 * console.log(key); // tsk_… (shown once)
 * await findApiKey(kv, key); // { id: record.id, name: "ci", role: "client" }
 * await revokeApiKey(kv, record.id);
 * ```
 *
 * @module
 */
import { z } from "zod";
import { apiKeyHashKey, apiKeyKey, apiKeyPrefix, apiKeyRoleKey } from "../store/keys.ts";

/** `worker` keys are worker tokens: one per operator or machine, each revocable on its own. */
export const KeyRole = z.enum(["client", "admin", "worker"]);
export type KeyRole = z.infer<typeof KeyRole>;

export const KeyName = z.string().trim().min(1).max(100);

/**
 * What one client key may have in the grid: tasks not finished yet (pending or running), and
 * tasks submitted per second. Unset means no limit.
 */
export const KeyQuota = z.object({
  maxQueued: z.number().int().min(1).optional(),
  submitPerSecond: z.number().min(0.001).optional(),
}).strict();
export type KeyQuota = z.infer<typeof KeyQuota>;

/** What `["apikey", id]` holds. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  role: KeyRole;
  /** The key's first characters, to tell keys apart in lists (never enough to use). */
  prefix: string;
  /** Hex SHA-256 of the whole key. */
  hash: string;
  createdAt: number;
  revokedAt: number | null;
  quota?: KeyQuota;
}

/** What `["apikey_hash", hash]` holds: enough to authorise a request in one read. */
export interface ApiKeyRef {
  id: string;
  name: string;
  role: KeyRole;
  /** Kept here too, so a submit learns it in the one read that authorises it. */
  quota?: KeyQuota;
}

/** Every key starts with this, so a leaked one is easy to recognise (secret scanners, logs). */
export const KEY_PREFIX = "tsk_";
const DISPLAY_CHARS = KEY_PREFIX.length + 6;

/** Hex SHA-256 of a key. */
export async function hashApiKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64 = btoa(String.fromCharCode(...bytes));
  return KEY_PREFIX + b64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return "key_" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Makes a key. Resolves with the raw key, which is not stored anywhere: show it once.
 *
 * @example
 * ```ts
 * const { key } = await createApiKey(kv, { name: "alice", role: "client" });
 * ```
 */
export async function createApiKey(
  kv: Deno.Kv,
  input: { name: string; role: KeyRole; quota?: KeyQuota },
  now: number = Date.now(),
): Promise<{ key: string; record: ApiKeyRecord }> {
  const name = KeyName.parse(input.name);
  const role = KeyRole.parse(input.role);
  const quota = input.quota ? KeyQuota.parse(input.quota) : undefined;
  for (let tries = 0; tries < 5; tries++) {
    const key = randomKey();
    const hash = await hashApiKey(key);
    const record: ApiKeyRecord = {
      id: randomId(),
      name,
      role,
      prefix: key.slice(0, DISPLAY_CHARS),
      hash,
      createdAt: now,
      revokedAt: null,
      ...(quota ? { quota } : {}),
    };
    const ref: ApiKeyRef = { id: record.id, name, role, ...(quota ? { quota } : {}) };
    const res = await kv.atomic()
      .check({ key: apiKeyKey(record.id), versionstamp: null })
      .check({ key: apiKeyHashKey(hash), versionstamp: null })
      .set(apiKeyKey(record.id), record)
      .set(apiKeyHashKey(hash), ref)
      .set(apiKeyRoleKey(role), true)
      .commit();
    if (res.ok) return { key, record };
  }
  throw new Error("could not store a new API key (id collisions); try again");
}

/** Every key, oldest first, revoked ones included. */
export async function listApiKeys(kv: Deno.Kv): Promise<ApiKeyRecord[]> {
  const entries = await Array.fromAsync(kv.list<ApiKeyRecord>({ prefix: apiKeyPrefix() }));
  return entries.map((e) => e.value).sort((a, b) => a.createdAt - b.createdAt);
}

/**
 * Revokes a key: it stops working at once. Resolves with the record (already revoked ones are
 * returned as they are), or null when there is no such key.
 */
export async function revokeApiKey(
  kv: Deno.Kv,
  id: string,
  now: number = Date.now(),
): Promise<ApiKeyRecord | null> {
  for (let tries = 0; tries < 5; tries++) {
    const entry = await kv.get<ApiKeyRecord>(apiKeyKey(id));
    if (!entry.value) return null;
    if (entry.value.revokedAt !== null) return entry.value;
    const revoked = { ...entry.value, revokedAt: now };
    const res = await kv.atomic()
      .check(entry)
      .set(apiKeyKey(id), revoked)
      .delete(apiKeyHashKey(entry.value.hash))
      .commit();
    if (res.ok) return revoked;
  }
  throw new Error(`key ${id} is changing too fast; try again`);
}

/**
 * Sets (or, with an empty quota, clears) a key's quota; it applies from the next request, in
 * every process. Resolves with the record, or null when there is no such key.
 */
export async function setApiKeyQuota(
  kv: Deno.Kv,
  id: string,
  quota: KeyQuota,
): Promise<ApiKeyRecord | null> {
  const parsed = KeyQuota.parse(quota);
  for (let tries = 0; tries < 5; tries++) {
    const entry = await kv.get<ApiKeyRecord>(apiKeyKey(id));
    if (!entry.value) return null;
    const { quota: _, ...rest } = entry.value;
    const record: ApiKeyRecord = Object.keys(parsed).length > 0 ? { ...rest, quota: parsed } : rest;
    const op = kv.atomic().check(entry).set(apiKeyKey(id), record);
    if (record.revokedAt === null) {
      const { id: refId, name, role } = record;
      op.set(apiKeyHashKey(record.hash), {
        id: refId,
        name,
        role,
        ...(record.quota ? { quota: record.quota } : {}),
      });
    }
    if ((await op.commit()).ok) return record;
  }
  throw new Error(`key ${id} is changing too fast; try again`);
}

/** The live key a request presented, or null. One KV read. */
export async function findApiKey(kv: Deno.Kv, key: string): Promise<ApiKeyRef | null> {
  if (!key.startsWith(KEY_PREFIX) || key.length > 200) return null;
  return (await kv.get<ApiKeyRef>(apiKeyHashKey(await hashApiKey(key)))).value;
}

/**
 * The roles of the keys ever made, revoked ones included: a client or admin key is what
 * `--auth auto` turns on, a worker key means worker tokens are configured. Reads the role markers
 * `createApiKey` writes; `scan` also walks every key, for stores older than the markers.
 */
export async function apiKeyRolesEver(
  kv: Deno.Kv,
  options: { scan?: boolean } = {},
): Promise<Set<KeyRole>> {
  const roles = new Set<KeyRole>();
  const markers = await kv.getMany(KeyRole.options.map(apiKeyRoleKey));
  markers.forEach((m, i) => m.versionstamp !== null && roles.add(KeyRole.options[i]));
  if (options.scan) {
    for await (const e of kv.list<ApiKeyRecord>({ prefix: apiKeyPrefix() })) {
      roles.add(e.value.role);
    }
  }
  return roles;
}
