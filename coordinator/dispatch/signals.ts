/**
 * In-process wake-ups: work became ready, a task ended. Work that other coordinator processes on
 * the same KV made ready reaches us through `ready_watch.ts`, which calls `wake()` too.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import { pairId } from "../store/keys.ts";

/** A ready entry a commit of this process wrote, with that commit's versionstamp. */
export interface ReadyWritten {
  key: Deno.KvKey;
  versionstamp: string;
}

type ReadyListener = (
  items?: ReadonlyArray<{ queue: string; type: string }>,
  written?: ReadonlyArray<ReadyWritten>,
) => void;

interface ReadyWaiter {
  accepts(queue: string, type: string): boolean;
  max: number;
  wake(): void;
}

export class Signals {
  #readyWaiters = new Set<ReadyWaiter>();
  #taskWaiters = new Map<string, Set<(task: Task) => void>>();
  #endListeners = new Set<(task: Task) => void>();
  #readyListeners = new Set<ReadyListener>();
  #leaseListeners = new Set<(leaseId: string, task: Task) => void>();

  /** Tells listeners (the socket hub) that a lease ended, however it ended. */
  leaseEnded(leaseId: string, task: Task): void {
    for (const l of this.#leaseListeners) l(leaseId, task);
  }

  onLeaseEnded(fn: (leaseId: string, task: Task) => void): () => void {
    this.#leaseListeners.add(fn);
    return () => this.#leaseListeners.delete(fn);
  }

  /** Calls `fn` whenever work may have become ready (before waiting claims wake). */
  onReadyArrived(fn: ReadyListener): () => void {
    this.#readyListeners.add(fn);
    return () => this.#readyListeners.delete(fn);
  }

  /**
   * Work became ready. With `items`, wakes for each one the longest-waiting claim that accepts
   * its (queue, type), so 1,000 idle workers are not all woken for one task; without, wakes
   * every waiting claim (work of unknown kind, e.g. added by another process). `written`, when
   * given, is every ready entry the items' commits wrote: the dispatcher takes them as they are
   * instead of reading the index again.
   */
  readyArrived(
    items?: ReadonlyArray<{ queue: string; type: string }>,
    written?: ReadonlyArray<ReadyWritten>,
  ): void {
    for (const l of this.#readyListeners) l(items, written);
    this.wake(items);
  }

  /**
   * Wakes waiting claims for work that is already known (no listener is told of new work): for
   * each item, claims that accept its (queue, type) until they can take `n` tasks (default 1).
   */
  wake(items?: ReadonlyArray<{ queue: string; type: string; n?: number }>): void {
    if (!items) {
      const all = [...this.#readyWaiters];
      this.#readyWaiters.clear();
      for (const w of all) w.wake();
      return;
    }
    const counts = new Map<string, { queue: string; type: string; n: number }>();
    for (const it of items) {
      const k = pairId(it.queue, it.type);
      const c = counts.get(k);
      if (c) c.n += it.n ?? 1;
      else counts.set(k, { queue: it.queue, type: it.type, n: it.n ?? 1 });
    }
    for (const c of counts.values()) {
      for (const w of this.#readyWaiters) {
        if (c.n <= 0) break;
        if (!w.accepts(c.queue, c.type)) continue;
        this.#readyWaiters.delete(w);
        c.n -= w.max;
        w.wake();
      }
    }
  }

  /**
   * Resolves when matching work may have arrived, or after `ms`, or when `signal` aborts.
   * `max` is how many tasks the waiter takes at most, so one wake-up can serve several tasks.
   */
  waitForReady(
    ms: number,
    signal?: AbortSignal,
    accepts: (queue: string, type: string) => boolean = () => true,
    max = 1,
  ): Promise<void> {
    return new Promise((resolve) => {
      const waiter: ReadyWaiter = { accepts, max, wake: () => done() };
      const done = () => {
        clearTimeout(timer);
        this.#readyWaiters.delete(waiter);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#readyWaiters.add(waiter);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  get readyWaiterCount(): number {
    return this.#readyWaiters.size;
  }

  /** Tells waiters that a task reached a final status. */
  taskEnded(task: Task): void {
    for (const l of this.#endListeners) l(task);
    this.taskEndedElsewhere(task);
  }

  /**
   * A task another coordinator ended: only those waiting for it here hear of it (listeners such
   * as the live feed hear of it from the process that ended it).
   */
  taskEndedElsewhere(task: Task): void {
    const waiters = this.#taskWaiters.get(task.id);
    if (!waiters) return;
    this.#taskWaiters.delete(task.id);
    for (const w of waiters) w(task);
  }

  /** Ids of the tasks someone in this process is waiting for. */
  awaitedIds(): IterableIterator<string> {
    return this.#taskWaiters.keys();
  }

  /** Calls `fn` for every task that ends in this process (dashboard feeds, metrics). */
  onTaskEnded(fn: (task: Task) => void): () => void {
    this.#endListeners.add(fn);
    return () => this.#endListeners.delete(fn);
  }

  /** Resolves with the task when it ends in this process, or null after `ms`. */
  waitForTask(id: string, ms: number): Promise<Task | null> {
    return new Promise((resolve) => {
      let set = this.#taskWaiters.get(id);
      if (!set) this.#taskWaiters.set(id, set = new Set());
      const done = (task: Task | null) => {
        clearTimeout(timer);
        set!.delete(onEnd);
        if (set!.size === 0 && this.#taskWaiters.get(id) === set) this.#taskWaiters.delete(id);
        resolve(task);
      };
      const onEnd = (task: Task) => done(task);
      const timer = setTimeout(() => done(null), ms);
      set.add(onEnd);
    });
  }
}
