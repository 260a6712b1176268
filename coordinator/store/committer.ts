/**
 * The group committer. Every state transition is an intent (its checks and mutations); the
 * committer packs the intents waiting at one moment into as few atomic operations as the KV
 * limits allow, commits, and resolves each intent. Deno KV on a file fsyncs once per commit
 * (about 2,600 commits/s here) but takes ~100,000 mutations/s when they share a commit.
 *
 * Correctness stays with the checks: two intents that touch one key never share an operation
 * (the later waits for the next one), and an operation whose checks fail is split in halves until
 * the intent that lost its race is found and refused alone.
 *
 * @module
 */
import { keyBytes, KV_OP_BYTES, KV_OP_KEY_BYTES } from "./encoded_size.ts";
import { keyString, keyStringPrefix } from "./keys.ts";

export interface Intent {
  checks: Deno.AtomicCheck[];
  /** `set` and `delete` mutations; counters go in `sums`. */
  mutations: Deno.KvMutation[];
  /** Counter increments; they commute, so they are merged per key and never conflict. */
  sums?: Array<[Deno.KvKey, bigint]>;
  /**
   * An upper bound on the KV-encoded size of the values written (`sizeBound` in
   * encoded_size.ts), to respect the per-operation size limit; the committer adds the keys.
   */
  bytes?: number;
}

/** KV limits per atomic operation (checked against Deno 2.9), with a margin for counters. */
const MAX_CHECKS = 100;
const MAX_MUTATIONS = 1000;
/** KV counts values plus every mutation's key twice; the margin covers counters and rounding. */
const MAX_BYTES = KV_OP_BYTES - 32 * 1024;
const MAX_KEY_BYTES = KV_OP_KEY_BYTES - 8 * 1024;
/** A counter's key, which the committer adds per operation. */
const SUM_KEY_BYTES = 64;

interface Pending {
  intent: Intent;
  keys: string[];
  sumKeys: string[];
  /** Encoded size of the mutations' keys. */
  keyBytes: number;
  /** The versionstamp of the operation that committed it, or null: a check failed. */
  resolve(versionstamp: string | null): void;
  reject(error: unknown): void;
}

export interface CommitterStats {
  commits: number;
  intents: number;
  conflicts: number;
  lockRetries: number;
  /** Time spent waiting for KV commits, in ms. */
  commitMs: number;
  /** `set` and `delete` mutations written. */
  mutations: number;
  /** `sum` mutations written (one per counter key per commit, however many intents add to it). */
  sums: number;
}

/** A committer bound to one KV. State lives here: the queue and the commit in flight. */
export class Committer {
  #kv: Deno.Kv;
  #queue: Pending[] = [];
  #scheduled = false;
  #inFlight = 0;
  /** Keys checked or written by operations in flight: later intents on them wait. */
  #busy = new Set<string>();
  /** Committed totals of sums on tracked keys (to tell our own signal bumps from others'). */
  #tracked = new Map<string, bigint>();
  #trackedPrefixes: string[] = [];
  readonly stats: CommitterStats = {
    commits: 0,
    intents: 0,
    conflicts: 0,
    lockRetries: 0,
    commitMs: 0,
    mutations: 0,
    sums: 0,
  };

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Starts counting what this committer adds through sums to keys under `prefix`. */
  trackSums(prefix: Deno.KvKey): void {
    this.#trackedPrefixes.push(keyStringPrefix(prefix));
  }

  /** What this committer has added to a key under a tracked prefix so far. */
  sumCommitted(key: Deno.KvKey): bigint {
    return this.#tracked.get(keyString(key)) ?? 0n;
  }

  /** Resolves true once committed, false if one of its checks failed (nothing was written). */
  commit(intent: Intent): Promise<boolean> {
    return this.commitAt(intent).then((v) => v !== null);
  }

  /**
   * Like `commit`, resolving with the versionstamp the intent's keys now carry (shared by every
   * intent of its operation), or null if one of its checks failed.
   */
  commitAt(intent: Intent): Promise<string | null> {
    const keys = [
      ...intent.checks.map((c) => keyString(c.key)),
      ...intent.mutations.map((m) => keyString(m.key)),
    ];
    const sumKeys = (intent.sums ?? []).map(([k]) => keyString(k));
    let kb = 0;
    for (const m of intent.mutations) kb += keyBytes(m.key);
    return new Promise((resolve, reject) => {
      this.#queue.push({ intent, keys, sumKeys, keyBytes: kb, resolve, reject });
      if (!this.#scheduled) {
        // Wait for the current microtasks so intents made together share the first commit.
        this.#scheduled = true;
        queueMicrotask(() => {
          this.#scheduled = false;
          this.#pump();
        });
      }
    });
  }

  /**
   * Starts operations while fewer than MAX_IN_FLIGHT are committing: the next one is packed
   * and serialized on this thread while the KV thread writes the previous one.
   */
  #pump(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#queue.length > 0) {
      const batch = this.#take();
      if (batch.length === 0) return;
      for (const p of batch) for (const k of p.keys) this.#busy.add(k);
      this.#inFlight++;
      this.#commitBatch(batch).finally(() => {
        for (const p of batch) for (const k of p.keys) this.#busy.delete(k);
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  /** Takes, in order, the intents that fit one operation and touch no key twice. */
  #take(): Pending[] {
    const taken: Pending[] = [];
    const rest: Pending[] = [];
    const touched = new Set<string>();
    let checks = 0, mutations = 0, bytes = 0, keyBytes = 0;
    const sumKeys = new Set<string>();
    let blocked = false;
    for (const p of this.#queue) {
      if (blocked) {
        rest.push(p);
        continue;
      }
      const i = p.intent;
      let newSums = 0;
      for (const k of p.sumKeys) if (!sumKeys.has(k)) newSums++;
      const addKeys = p.keyBytes + newSums * SUM_KEY_BYTES;
      const fits = taken.length === 0 || (
        checks + i.checks.length <= MAX_CHECKS &&
        mutations + i.mutations.length + sumKeys.size + newSums <= MAX_MUTATIONS &&
        bytes + (i.bytes ?? 0) + 2 * (keyBytes + addKeys) <= MAX_BYTES &&
        keyBytes + addKeys <= MAX_KEY_BYTES
      );
      if (!fits) {
        // Keep order: once one does not fit, the rest wait for the next operation.
        blocked = true;
        rest.push(p);
        continue;
      }
      if (p.keys.some((k) => touched.has(k) || this.#busy.has(k))) {
        rest.push(p);
        continue;
      }
      for (const k of p.keys) touched.add(k);
      for (const k of p.sumKeys) sumKeys.add(k);
      checks += i.checks.length;
      mutations += i.mutations.length;
      bytes += i.bytes ?? 0;
      keyBytes += addKeys;
      taken.push(p);
    }
    this.#queue = rest;
    return taken;
  }

  async #commitBatch(batch: Pending[]): Promise<void> {
    let ok: string | null;
    const started = performance.now();
    try {
      ok = await this.#atomic(batch);
      this.stats.commitMs += performance.now() - started;
    } catch (error) {
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      ok = null;
    }
    if (ok !== null) {
      this.stats.commits++;
      this.stats.intents += batch.length;
      for (const p of batch) {
        this.stats.mutations += p.intent.mutations.length;
        if (this.#trackedPrefixes.length === 0) continue;
        p.sumKeys.forEach((k, j) => {
          if (!this.#trackedPrefixes.some((prefix) => k.startsWith(prefix))) return;
          this.#tracked.set(k, (this.#tracked.get(k) ?? 0n) + p.intent.sums![j][1]);
        });
      }
      for (const p of batch) p.resolve(ok);
      return;
    }
    if (batch.length === 1) {
      this.stats.conflicts++;
      batch[0].resolve(null);
      return;
    }
    const mid = batch.length >> 1;
    await this.#commitBatch(batch.slice(0, mid));
    await this.#commitBatch(batch.slice(mid));
  }

  /** Commits, retrying while another process holds the SQLite write lock. */
  async #atomic(batch: Pending[]): Promise<string | null> {
    for (let attempt = 0;; attempt++) {
      try {
        return await this.#atomicOnce(batch);
      } catch (e) {
        if (!isLocked(e) || attempt >= LOCK_RETRIES) throw e;
        this.stats.lockRetries++;
        await new Promise((r) => setTimeout(r, Math.min(50, 1 + attempt * 2) * Math.random() + 1));
      }
    }
  }

  #atomicOnce(batch: Pending[]): Promise<string | null> {
    const op = this.#kv.atomic();
    const sums = new Map<string, [Deno.KvKey, bigint]>();
    for (const { intent, sumKeys } of batch) {
      for (const c of intent.checks) op.check(c);
      if (intent.mutations.length > 0) op.mutate(...intent.mutations);
      const list = intent.sums ?? [];
      for (let j = 0; j < list.length; j++) {
        const [key, n] = list[j];
        const prev = sums.get(sumKeys[j]);
        if (prev) prev[1] += n;
        else sums.set(sumKeys[j], [key, n]);
      }
    }
    for (const [key, n] of sums.values()) {
      // KvU64 sums wrap at 2^64: adding 2^64 - n subtracts n.
      const v = ((n % U64) + U64) % U64;
      if (v !== 0n) op.sum(key, v);
    }
    return op.commit().then((r) => {
      if (!r.ok) return null;
      this.stats.sums += sums.size;
      return r.versionstamp;
    });
  }
}

const U64 = 1n << 64n;
/** Operations committing at once; more than one lets packing overlap the KV thread's write. */
const MAX_IN_FLIGHT = 2;
/** Two coordinators on one file take turns for SQLite's write lock; waiting is the cure. */
const LOCK_RETRIES = 200;
const isLocked = (e: unknown) => e instanceof Error && /database is locked|busy/i.test(e.message);

/** Runs a KV write outside the committer, retrying while another process holds the lock. */
export async function whileLocked<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await write();
    } catch (e) {
      if (!isLocked(e) || attempt >= LOCK_RETRIES) throw e;
      await new Promise((r) => setTimeout(r, Math.min(50, 1 + attempt * 2) * Math.random() + 1));
    }
  }
}

/** Reads a wrapping KvU64 counter as a signed number. */
export function counterValue(v: unknown): number {
  if (!(v instanceof Deno.KvU64)) return 0;
  const n = v.value;
  return Number(n >= U64 >> 1n ? n - U64 : n);
}
