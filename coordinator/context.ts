/**
 * What every transition needs, built once per coordinator process.
 *
 * @module
 */
import type { FairShare } from "./dispatch/fair_share.ts";
import type { Handler } from "../handlers/contract.ts";
import type { Logger } from "../shared/logger.ts";
import type { HandlerRegistry } from "./packs/registry.ts";
import type { Task } from "../shared/protocol.ts";
import type { Committer } from "./store/committer.ts";
import { sizeBound } from "./store/encoded_size.ts";
import type { CoordinatorConfig } from "./config.ts";
import type { Signals } from "./dispatch/signals.ts";
import type { ClaimObserver } from "./fleet/metrics.ts";
import type { ReputationCache } from "./verify/reputation.ts";
import type { LeaseRecord } from "./store/task_view.ts";
import type { ReadyTasks } from "./dispatch/ready_tasks.ts";

export interface Ctx {
  kv: Deno.Kv;
  committer: Committer;
  config: CoordinatorConfig;
  /** The current handler of every type: the registry's map, updated in place on a reload. */
  handlers: ReadonlyMap<string, Handler>;
  /** The handler registry (packs); absent in tests that build a Ctx by hand. */
  registry?: HandlerRegistry;
  signals: Signals;
  log: Logger;
  /** Queue names known to exist (grows as tasks arrive; read from KV at start). */
  queues: Set<string>;
  /**
   * The task record each lease granted here was claimed with, so a completion need not read it
   * again. Safe because a leased task's record changes only when one of its leases ends, which
   * also deletes the lease the completion checks.
   */
  leasedTasks: LeasedTasks;
  /** Records of tasks this process made ready, so a claim need not read them (ready_tasks.ts). */
  readyTasks: ReadyTasks;
  reputation: ReputationCache;
  /** Places new tasks so that clients and jobs take turns (fair_share.ts). */
  fairShare: FairShare;
  /** This process's id among the coordinators that share the store. */
  instanceId: string;
  /** Told of every claim that got work (`metrics.ts`); absent in tests that build a Ctx. */
  metrics?: ClaimObserver;
  now(): number;
}

/** A lease as this process committed it, with the versionstamp of that commit. */
export interface KnownLease {
  value: LeaseRecord;
  versionstamp: string;
}

/** A lease this process remembers that is past its expiry (as this process last heard). */
export interface DueLease {
  taskId: string;
  leaseId: string;
  expiresAt: number;
}

/**
 * A bounded map lease id → what this process knows of a lease it granted: the task record it
 * was claimed with, its expiry, and, until a heartbeat moves it, the lease record itself (oldest
 * dropped first). With the record, a completion reads nothing: its intent checks the lease's
 * versionstamp, so a lease changed elsewhere (another coordinator, an expiry) fails the check and
 * the report takes the careful path. With the expiry, the reaper finds this process's expired
 * leases without an index in the store; a lease dropped here, or granted by another process, is
 * found by the reaper's scan of all leases (expire_leases.ts).
 */
export class LeasedTasks {
  #map = new Map<string, { task: Task; expiresAt: number; lease?: KnownLease }>();
  constructor(readonly max = 100_000) {}
  set(leaseId: string, task: Task, expiresAt: number, lease?: KnownLease): void {
    this.#map.set(leaseId, lease ? { task, expiresAt, lease } : { task, expiresAt });
    if (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value!);
  }
  take(leaseId: string): { task: Task; lease?: KnownLease } | undefined {
    const t = this.#map.get(leaseId);
    this.#map.delete(leaseId);
    return t;
  }
  /** The lease was written again (a heartbeat): its record must be read, not remembered. */
  extended(leaseId: string, expiresAt: number): void {
    const t = this.#map.get(leaseId);
    if (t) this.#map.set(leaseId, { task: t.task, expiresAt });
  }
  /** Up to `max` leases past their expiry at `now`, as this process last heard of them. */
  due(now: number, max: number): DueLease[] {
    const out: DueLease[] = [];
    for (const [leaseId, t] of this.#map) {
      if (t.expiresAt > now) continue;
      out.push({ taskId: t.task.id, leaseId, expiresAt: t.expiresAt });
      if (out.length === max) break;
    }
    return out;
  }
}

/** Reads many keys, 10 at a time (the KV limit per read). */
export async function getMany<T>(kv: Deno.Kv, keys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<T>[]> {
  const chunks: Promise<Deno.KvEntryMaybe<T>[]>[] = [];
  for (let i = 0; i < keys.length; i += 10) chunks.push(kv.getMany<T[]>(keys.slice(i, i + 10)));
  return (await Promise.all(chunks)).flat();
}

/**
 * Entries for `keys`, reading only those `known` lacks: what this process remembers (a record
 * it wrote, with the versionstamp it was written at, or null when only its checks matter).
 */
export async function getUnknown<T>(
  kv: Deno.Kv,
  keys: Deno.KvKey[],
  known: ReadonlyArray<{ value: T; versionstamp: string | null } | undefined>,
): Promise<Array<{ key: Deno.KvKey; value: T | null; versionstamp: string | null }>> {
  const read = await getMany<T>(kv, keys.filter((_, i) => !known[i]));
  let r = 0;
  return keys.map((key, i) => known[i] ? { key, ...known[i]! } : read[r++]);
}

/** An upper bound on what KV counts for a value, for the committer's size limit. */
export function approxBytes(value: unknown): number {
  return sizeBound(value);
}
