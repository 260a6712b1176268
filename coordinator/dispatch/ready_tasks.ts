/**
 * The records of tasks this process just made ready, keyed by the versionstamp of the commit that
 * wrote them, so a claim of one of them reads nothing: a KV read waits behind the write in
 * flight (one SQLite connection), and two reads per task were half of a fleet's round trip.
 *
 * Safe because every change to a pending task also rewrites its ready entry (keys.ts): a ready
 * entry whose versionstamp is the one a record was committed with proves the record unchanged
 * since, and the claim still checks that entry. Bounded; when full it takes no more, so the
 * head of a long queue (claimed first) stays in it.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";

export class ReadyTasks {
  #map = new Map<string, { task: Task; versionstamp: string }>();
  constructor(readonly max = 20_000) {}

  /** Remembers tasks written (with their ready entries) by the commit at `versionstamp`. */
  add(tasks: readonly Task[], versionstamp: string): void {
    for (const task of tasks) {
      if (this.#map.size >= this.max) return;
      // Replicas are claimed against the record's own versionstamp: they always read it.
      if (task.verification.mode === "quorum") continue;
      this.#map.set(task.id, { task, versionstamp });
    }
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
