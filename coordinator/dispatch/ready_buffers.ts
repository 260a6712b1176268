/**
 * What this process has read of the ready index, per (queue, type): a prefix of the index in
 * key order (priority, then id), read a page at a time, from which concurrent claimers take
 * distinct entries instead of racing for the same head. A claim that finds nothing it may take
 * in what was read (its own replicas' sibling slots, say) reads the next page before giving up,
 * so no ready entry is ever out of reach; a buffer is read again from the head once new work of
 * its kind may exist (`markStale`). The entries are hints: every claim still checks its entry's
 * versionstamp.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import { decodeReadyKey, keyString, pairId, readyPrefix } from "../store/keys.ts";
import type { ReadyWritten } from "./signals.ts";

export interface ReadyEntry {
  key: Deno.KvKey;
  ks: string;
  versionstamp: string;
  prio: number;
  fair: number;
  id: string;
  slot: number;
}

/** Key order of two entries of one (queue, type). */
function compare(a: ReadyEntry, b: ReadyEntry): number {
  return a.prio - b.prio || a.fair - b.fair || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) ||
    a.slot - b.slot;
}

function entryOf(key: Deno.KvKey, versionstamp: string): ReadyEntry {
  const { prio, fair, id, slot } = decodeReadyKey(key);
  return { key, ks: keyString(key), versionstamp, prio, fair, id, slot };
}

interface Buffer {
  queue: string;
  type: string;
  entries: ReadyEntry[];
  /** Where the next page starts: the list cursor after the last page read. */
  cursor: string;
  /** The last entry the pages read reached (taken or not). */
  last: ReadyEntry | null;
  /** The pages read reached the end of the index. */
  exhausted: boolean;
  /**
   * Bumped each time work may have been added anywhere in the index. A read from the head
   * brings `fresh` to the epoch at which it began, so the buffer is stale while fresh < epoch.
   */
  epoch: number;
  fresh: number;
  fetching: Promise<void> | null;
}

const PAGE = 256;
/** Entries `add` puts into one buffer at most (a submit of 1,000): the rest wait for a read. */
const MAX_ADDED = 1024;

export class ReadyBuffers {
  #kv: Deno.Kv;
  #buffers = new Map<string, Buffer>();
  /** Entries a claim took and has not finished with: no other claim may take them. */
  #inflight = new Set<string>();

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** New ready work may exist (of these kinds, or of any): read from the head next time. */
  markStale(items?: ReadonlyArray<{ queue: string; type: string }>): void {
    if (!items) {
      for (const b of this.#buffers.values()) b.epoch++;
      return;
    }
    for (const it of items) {
      const b = this.#buffers.get(pairId(it.queue, it.type));
      if (b) b.epoch++;
    }
  }

  /**
   * Entries this process's own commits just wrote (at the versionstamps given): each goes into
   * its buffer where a read would have put it, so new work costs no read of the index. Where a
   * read is in flight or due anyway, that read must see them: the buffer is marked stale.
   */
  add(written: ReadonlyArray<ReadyWritten>): void {
    const into = new Set<Buffer>();
    for (const w of written) {
      const { queue, type } = decodeReadyKey(w.key);
      const b = this.#buffers.get(pairId(queue, type));
      // A pair no claim has looked at yet: its first claim reads it.
      if (!b) continue;
      if (b.fetching || b.fresh < b.epoch) {
        b.epoch++;
        continue;
      }
      const e = entryOf(w.key, w.versionstamp);
      // Past what the pages read reached: the next page has it.
      if (!b.exhausted && (!b.last || compare(e, b.last) > 0)) continue;
      if (b.entries.length >= MAX_ADDED) {
        // Full: a million submitted here must not all sit in memory; read from the head again.
        b.epoch++;
        continue;
      }
      b.entries.push(e);
      into.add(b);
    }
    for (const b of into) b.entries.sort(compare);
  }

  /** How many entries the buffers hold now. */
  get size(): number {
    let n = 0;
    for (const b of this.#buffers.values()) n += b.entries.length;
    return n;
  }

  /** A task that ended has no ready entries left: no claim should trip on them. */
  forget(task: Pick<Task, "id" | "queue" | "type">): void {
    const b = this.#buffers.get(pairId(task.queue, task.type));
    if (b) b.entries = b.entries.filter((e) => e.id !== task.id);
  }

  /**
   * Takes the best `n` entries across the buffers of `pairs` that `usable` accepts: priority
   * first, then first in. They stay in flight until `release`.
   */
  async take(
    pairs: ReadonlyArray<readonly [string, string]>,
    n: number,
    usable: (e: ReadyEntry) => boolean,
  ): Promise<ReadyEntry[]> {
    const buffers = pairs.map(([q, t]) => this.#buffer(q, t));
    // A claim woken for new work must see it: a read already in flight may have begun before
    // that work was committed, so wait for one that began after the last markStale.
    const need = buffers.map((b) => b.epoch);
    let behind = buffers.filter((b, i) => b.fresh < need[i]);
    while (behind.length > 0) {
      await Promise.all(behind.map((b) => this.#read(b)));
      behind = buffers.filter((b, i) => b.fresh < need[i]);
    }
    const ok = (e: ReadyEntry) => !this.#inflight.has(e.ks) && usable(e);
    const picked: ReadyEntry[] = [];
    while (picked.length < n) {
      let best: Buffer | null = null;
      let bestEntry: ReadyEntry | null = null;
      const short: Buffer[] = [];
      for (const b of buffers) {
        while (b.entries.length > 0 && this.#inflight.has(b.entries[0].ks)) b.entries.shift();
        const head = b.entries.find(ok);
        if (!head) {
          if (!b.exhausted) short.push(b);
          continue;
        }
        if (
          !bestEntry || head.prio < bestEntry.prio ||
          (head.prio === bestEntry.prio && head.id < bestEntry.id)
        ) {
          best = b;
          bestEntry = head;
        }
      }
      // Nothing this claim may take in what was read of these: read on (it may rank first).
      if (short.length > 0) {
        await Promise.all(short.map((b) => this.#read(b)));
        continue;
      }
      if (!best || !bestEntry) break;
      best.entries.splice(best.entries.indexOf(bestEntry), 1);
      this.#inflight.add(bestEntry.ks);
      picked.push(bestEntry);
    }
    return picked;
  }

  /** The claim is done with these entries (leased, lost or put back). */
  release(entries: ReadonlyArray<ReadyEntry>): void {
    for (const e of entries) this.#inflight.delete(e.ks);
  }

  /** Gives an entry back, for other claims (this one may not take it). */
  putBack(e: ReadyEntry): void {
    const b = this.#buffers.get(this.#pairOf(e));
    if (!b) return;
    const i = b.entries.findIndex((x) => x.prio > e.prio || (x.prio === e.prio && x.id > e.id));
    b.entries.splice(i < 0 ? b.entries.length : i, 0, e);
  }

  /**
   * A claim lost its race for `e` (another claim or process changed the task or took the
   * entry). The entry may still be claimable, so the buffer must be read again: an exhausted
   * buffer is otherwise never read, and the entry would wait for unrelated new work.
   */
  lost(e: ReadyEntry): void {
    const b = this.#buffers.get(this.#pairOf(e));
    if (b) b.epoch++;
  }

  #pairOf(e: ReadyEntry): string {
    const { queue, type } = decodeReadyKey(e.key);
    return pairId(queue, type);
  }

  #buffer(queue: string, type: string): Buffer {
    const id = pairId(queue, type);
    let b = this.#buffers.get(id);
    if (!b) {
      b = {
        queue,
        type,
        entries: [],
        cursor: "",
        last: null,
        exhausted: false,
        epoch: 1,
        fresh: 0,
        fetching: null,
      };
      this.#buffers.set(id, b);
    }
    return b;
  }

  /**
   * Reads a page of the index into `b`: from the head when the buffer is stale (replacing what
   * it held), else the page after the last one read. One read at a time per buffer.
   */
  #read(b: Buffer): Promise<void> {
    if (b.fetching) return b.fetching;
    const epoch = b.epoch;
    const fromHead = b.fresh < epoch;
    if (!fromHead && b.exhausted) return Promise.resolve();
    b.fetching = (async () => {
      const entries: ReadyEntry[] = [];
      let last: ReadyEntry | null = null;
      let seen = 0;
      const iter = this.#kv.list(
        { prefix: readyPrefix(b.queue, b.type) },
        { limit: PAGE, ...(fromHead || !b.cursor ? {} : { cursor: b.cursor }) },
      );
      for await (const e of iter) {
        seen++;
        const entry = entryOf(e.key, e.versionstamp);
        last = entry;
        if (!this.#inflight.has(entry.ks)) entries.push(entry);
      }
      b.entries = fromHead ? entries : [...b.entries, ...entries];
      if (fromHead || last) b.last = last;
      if (seen > 0) b.cursor = iter.cursor;
      b.exhausted = seen < PAGE;
      if (fromHead) b.fresh = epoch;
    })().finally(() => (b.fetching = null));
    return b.fetching;
  }
}
