/**
 * In-process wake-ups: work became ready, a task ended. Other coordinator processes on the same
 * KV reach us through a watched KV key (see `server.ts`), which calls `readyArrived()` too.
 *
 * @module
 */
import type { Task } from "../shared/protocol.ts";

export class Signals {
  #readyWaiters = new Set<() => void>();
  #taskWaiters = new Map<string, Set<(task: Task) => void>>();
  #endListeners = new Set<(task: Task) => void>();
  #readyListeners = new Set<() => void>();
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
  onReadyArrived(fn: () => void): () => void {
    this.#readyListeners.add(fn);
    return () => this.#readyListeners.delete(fn);
  }

  /** Wakes every claim that is waiting for work. */
  readyArrived(): void {
    for (const l of this.#readyListeners) l();
    const waiters = [...this.#readyWaiters];
    this.#readyWaiters.clear();
    for (const w of waiters) w();
  }

  /** Resolves when work may have arrived, or after `ms`, or when `signal` aborts. */
  waitForReady(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#readyWaiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#readyWaiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  get readyWaiterCount(): number {
    return this.#readyWaiters.size;
  }

  /** Tells waiters that a task reached a final status. */
  taskEnded(task: Task): void {
    for (const l of this.#endListeners) l(task);
    const waiters = this.#taskWaiters.get(task.id);
    if (!waiters) return;
    this.#taskWaiters.delete(task.id);
    for (const w of waiters) w(task);
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
