/**
 * The records of tasks this process just made ready, keyed by the versionstamp of the commit that
 * wrote them, so a claim of one of them reads nothing: a KV read waits behind the write in
 * flight (one SQLite connection), and two reads per task were half of a fleet's round trip.
 *
 * Safe because every change to a pending task also rewrites its ready entry (keys.ts): a ready
 * entry whose versionstamp is the one a record was committed with proves the record unchanged
 * since, and the claim still checks that entry. Bounded; when full it takes no more, so the
 * head of a long queue (claimed first) stays in it, unless its oldest record is a minute old:
 * that one was likely claimed by another coordinator on the store, and makes room.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";

const STALE_MS = 60_000;

export class ReadyTasks {
  #map = new Map<string, { task: Task; versionstamp: string; at: number }>();
  constructor(readonly max = 20_000, readonly now: () => number = Date.now) {}

  /** Remembers tasks written (with their ready entries) by the commit at `versionstamp`. */
  add(tasks: readonly Task[], versionstamp: string): void {
    const at = this.now();
    for (const task of tasks) {
      if (this.#map.size >= this.max && !this.#dropStale(at)) return;
      // Replicas are claimed against the record's own versionstamp: they always read it.
      if (task.verification.mode === "quorum") continue;
      this.#map.set(task.id, { task, versionstamp, at });
    }
  }

  /** The task ended (here or, as heard, elsewhere): its record is no use any more. */
  forget(id: string): void {
    this.#map.delete(id);
  }

  #dropStale(now: number): boolean {
    const [id, oldest] = this.#map.entries().next().value ?? [];
    if (id === undefined || now - oldest!.at < STALE_MS) return false;
    this.#map.delete(id);
    return true;
  }

  /** The record of `id` if it is the one its ready entry at `versionstamp` was written with. */
  take(id: string, versionstamp: string): Task | undefined {
    const known = this.#map.get(id);
    if (!known) return undefined;
    this.#map.delete(id);
    return known.versionstamp === versionstamp ? known.task : undefined;
  }

  get size(): number {
    return this.#map.size;
  }
}
