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
 * A replicated task is claimed once per slot and each claim checks the record itself, so for
 * those the record is kept with the versionstamp it was last written at by this process (its
 * enqueue, a replica's claim, a replica's report): the next slot's claim and the next replica's
 * report read nothing while nobody else wrote it, and fail their check (then read) if somebody did.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";

const STALE_MS = 60_000;

export class ReadyTasks {
  #map = new Map<string, { task: Task; versionstamp: string; at: number }>();
  /** Replicated tasks: the record and the versionstamp it was last written at here. */
  #replicas = new Map<string, { task: Task; versionstamp: string }>();
  /** Per replicated task, the end of the chain of writes queued on its record. */
  #tails = new Map<string, Promise<void>>();
  constructor(readonly max = 20_000, readonly now: () => number = Date.now) {}

  /** Remembers tasks written (with their ready entries) by the commit at `versionstamp`. */
  add(tasks: readonly Task[], versionstamp: string): void {
    const at = this.now();
    for (const task of tasks) {
      if (task.verification.mode === "quorum") this.wrote(task, versionstamp);
      else if (this.#map.size < this.max || this.#dropStale(at)) {
        this.#map.set(task.id, { task, versionstamp, at });
      }
    }
  }

  /** The task ended (here or, as heard, elsewhere): its record is no use any more. */
  forget(id: string): void {
    this.#map.delete(id);
    this.#replicas.delete(id);
  }

  /** This process committed `task`, a replicated one, at `versionstamp`. */
  wrote(task: Task, versionstamp: string): void {
    this.#replicas.delete(task.id);
    if (this.#replicas.size >= this.max) {
      this.#replicas.delete(this.#replicas.keys().next().value!);
    }
    this.#replicas.set(task.id, { task, versionstamp });
  }

  /**
   * Runs `write` once the writes of this replicated task's record queued before it are done, so
   * each starts from the record the last one wrote (`replica`). Every slot's claim and every
   * replica's report rewrites the record; run side by side, all but the first failed their check,
   * and a failed check splits the shared commit it was in (three in ten, in a 2-of-2 fleet).
   */
  async serially<T>(id: string, write: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(id);
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    const tail = (before ?? Promise.resolve()).then(() => mine);
    this.#tails.set(id, tail);
    try {
      await before;
      return await write();
    } finally {
      done();
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    }
  }

  /** The replicated task's record as this process last wrote it, with that versionstamp. */
  replica(id: string): { task: Task; versionstamp: string } | undefined {
    return this.#replicas.get(id);
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
