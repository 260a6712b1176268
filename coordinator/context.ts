/**
 * What every transition needs, built once per coordinator process.
 *
 * @module
 */
import type { Handler } from "../handlers/contract.ts";
import type { Logger } from "../shared/logger.ts";
import type { Committer } from "./committer.ts";
import type { CoordinatorConfig } from "./config.ts";
import type { Signals } from "./signals.ts";

export interface Ctx {
  kv: Deno.Kv;
  committer: Committer;
  config: CoordinatorConfig;
  handlers: ReadonlyMap<string, Handler>;
  signals: Signals;
  log: Logger;
  /** Queue names known to exist (grows as tasks arrive; read from KV at start). */
  queues: Set<string>;
  now(): number;
}

/** Reads many keys, 10 at a time (the KV limit per read). */
export async function getMany<T>(kv: Deno.Kv, keys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<T>[]> {
  const chunks: Promise<Deno.KvEntryMaybe<T>[]>[] = [];
  for (let i = 0; i < keys.length; i += 10) chunks.push(kv.getMany<T[]>(keys.slice(i, i + 10)));
  return (await Promise.all(chunks)).flat();
}

/** Rough byte size of a value, for the committer's per-operation size limit. */
export function approxBytes(value: unknown): number {
  return JSON.stringify(value)?.length ?? 0;
}
