/**
 * The browser {@link Executor}: a pool of Web Workers running the task thread (`task_thread.ts`),
 * driven with comlink, one task per thread at a time, with a CPU duty cycle. Universal: only
 * `Worker`, `MessageChannel` and timers, so it also runs (and is tested) in Deno.
 *
 * - Duty cycle: after a task that ran `d` ms, its thread rests `d · (1/duty − 1)` ms before it
 *   takes the next one, so at 25 % a thread computes a quarter of the time at most. A resting
 *   thread is not counted in {@link BrowserExecutor.ready}, which is the capacity to announce to
 *   the coordinator, so no lease waits for it; the count drops before the run's outcome is
 *   returned, so a capacity update leaves before the report that frees the slot.
 * - Staging (at 100 % duty only): a run handed over while every thread is busy is sent at once
 *   to a busy thread without one, which starts it the moment its task ends; it counts as begun
 *   then (`onStart`). Aborted while it waits, it ends at once without running; its thread gone
 *   meanwhile, it is handed to another.
 * - Resizing retires idle and resting threads at once and busy ones after their task.
 * - An aborted task that does not stop within `stopWithinMs` (a loop that never yields) gets its
 *   thread terminated and replaced.
 *
 * The page creates the threads (`spawn`), because bundlers only see a literal
 * `new Worker(new URL("../x.ts", import.meta.url), { type: "module" })` in the app's own code.
 *
 * @module
 */
import { backoffDelay } from "../backoff.ts";
import {
  internalOutcome,
  runOnThread,
  stagedTurn,
  type StagingThread,
  stoppedBeforeStart,
  type TaskThread,
} from "./_run_on_thread.ts";
import * as Comlink from "comlink";
import type { Lease } from "../protocol.ts";
import type { HandlerSource } from "./handler_source.ts";
import type { ProgressMessage, TaskThreadApi } from "./task_thread.ts";
import type { AbortReason, Executor, RunOptions, TaskOutcome } from "./worker_core.ts";

export interface BrowserExecutorOptions {
  /** Starts one task thread: a module Worker whose entry exposes a `TaskThreadApi`. */
  spawn: () => Worker;
  /** Where handler code comes from (signature and hashes checked before a thread gets it). */
  source: HandlerSource;
  /** Threads in the pool: the most tasks run at once. */
  size: number;
  /** Fraction of the time a thread may compute, in (0, 1]. @default 1 */
  duty?: number;
  /** How long an aborted task may take to stop before its thread is terminated. @default 1000 */
  stopWithinMs?: number;
  /** Called (synchronously) whenever the counts in {@link PoolState} change. */
  onChange?: (state: PoolState) => void;
}

/** What the pool is doing now. */
export interface PoolState {
  /** Threads wanted. */
  size: number;
  /** Threads running a task. */
  busy: number;
  /** Threads resting after a task (duty cycle). */
  resting: number;
  /** Threads that can hold a lease now or when their task ends: busy or idle, not resting. */
  ready: number;
}

export interface BrowserExecutor extends Executor {
  /** Changes the number of threads. */
  resize(size: number): void;
  /** Changes the duty cycle, in (0, 1]; applies from the next rest. */
  setDuty(duty: number): void;
  /** Stops the attempt of this lease now (its run settles with a `cancelled` error). */
  abort(leaseId: string, reason: AbortReason): void;
  state(): PoolState;
  /** The task types running now, one entry per running attempt. */
  types(): string[];
  /** Threads replaced after a task would not stop, or crashed. */
  readonly restarts: number;
  /** Terminates every thread; runs in progress settle with an `internal` error. */
  close(): void;
}

interface Thread extends TaskThread, StagingThread {
  api: Comlink.Remote<TaskThreadApi>;
  /** Versions whose code this thread already has. */
  loaded: Set<string>;
  /** `starting` until its module has loaded, so load time never counts as a task's run time. */
  state: "starting" | "idle" | "busy" | "resting";
  /** Leaves the pool when its task ends (the pool shrank). */
  retiring: boolean;
  /**
   * Its task's code is on its way to it, the run not sent yet: a run staged now would reach the
   * thread first and run first.
   */
  loading: boolean;
  leaseId: string | null;
  taskType: string | null;
  onProgress: ((fraction: number) => void) | null;
  restTimer: ReturnType<typeof setTimeout> | undefined;
  alive: boolean;
}

interface Waiter {
  take(thread: Thread): void;
}

/**
 * Creates a pool of `size` task threads, started at once so the first tasks do not wait.
 *
 * @example
 * ```ts
 * const executor = createBrowserExecutor({
 *   spawn: () => new Worker(new URL("./task_thread.ts", import.meta.url), { type: "module" }),
 *   size: 2,
 *   duty: 0.5,
 *   onChange: ({ ready }) => transport.setCapacity(ready),
 * });
 * const core = startWorkerCore({ transport, executor, concurrency: 64 });
 * ```
 */
export function createBrowserExecutor(options: BrowserExecutorOptions): BrowserExecutor {
  const stopWithinMs = options.stopWithinMs ?? 1000;
  let size = Math.max(1, Math.floor(options.size));
  let duty = clampDuty(options.duty ?? 1);
  const threads = new Set<Thread>();
  const waiters: Waiter[] = [];
  const byLease = new Map<string, AbortController>();
  let closed = false;
  let restarts = 0;
  let loadFailures = 0;
  let last = "";

  function state(): PoolState {
    let busy = 0, resting = 0, ready = 0;
    for (const t of threads) {
      if (t.state === "busy") busy++;
      if (t.state === "resting") resting++;
      else if (t.state !== "starting" && !t.retiring) ready++;
    }
    return { size, busy, resting, ready };
  }

  function changed(): void {
    const s = state();
    const key = `${s.size}/${s.busy}/${s.resting}/${s.ready}`;
    if (key === last) return;
    last = key;
    options.onChange?.(s);
  }

  function spawn(): Thread {
    const worker = options.spawn();
    const api = Comlink.wrap<TaskThreadApi>(worker);
    const channel = new MessageChannel();
    channel.port1.onmessage = (e: MessageEvent<ProgressMessage>) => {
      if (thread.state === "busy") thread.onProgress?.(e.data.fraction);
    };
    let resolveDied!: (outcome: TaskOutcome) => void;
    const thread: Thread = {
      api,
      loaded: new Set(),
      run: (lease) =>
        api.run(
          lease.taskId,
          lease.task.handler!,
          lease.task.type,
          lease.task.params,
          lease.attempt,
          lease.task.timeoutMs,
        ),
      abort: (taskId, reason) => void api.abort(taskId, reason).catch(() => {}),
      state: "starting",
      retiring: false,
      loading: false,
      leaseId: null,
      taskType: null,
      onProgress: null,
      restTimer: undefined,
      alive: true,
      staged: null,
      died: new Promise<TaskOutcome>((resolve) => (resolveDied = resolve)),
      kill(outcome) {
        if (!thread.alive) return;
        thread.alive = false;
        clearTimeout(thread.restTimer);
        threads.delete(thread);
        worker.terminate();
        channel.port1.close();
        resolveDied(outcome);
      },
    };
    worker.addEventListener("error", (e) => {
      // Handled here: an uncaught error in a thread must not take the page's worker down.
      e.preventDefault();
      const starting = thread.state === "starting";
      thread.kill(internal(`task thread crashed: ${e.message}`));
      // A thread that cannot even load (its script unreachable) is retried with backoff.
      if (!starting) return replace();
      const delay = backoffDelay(++loadFailures, { baseMs: 250, maxMs: 30_000, jitter: false });
      setTimeout(replace, delay);
    });
    api.init(Comlink.transfer(channel.port2, [channel.port2])).then(() => {
      if (!thread.alive || thread.state !== "starting") return;
      loadFailures = 0;
      idleThread(thread);
      changed();
    }, () => {});
    threads.add(thread);
    return thread;
  }

  /** Keeps the number of threads that are not retiring at `size`. */
  function fill(): void {
    if (closed) return;
    let live = [...threads].filter((t) => !t.retiring);
    // Growing: take back threads that were retiring before starting new ones.
    for (const t of threads) {
      if (live.length >= size) break;
      if (t.retiring) {
        t.retiring = false;
        live.push(t);
      }
    }
    while (live.length < size) live.push(spawn());
    // Shrinking: idle and resting threads leave at once, busy ones after their task.
    const order = { starting: 0, idle: 0, resting: 1, busy: 2 };
    live.sort((a, b) => order[a.state] - order[b.state]);
    live = live.slice(0, live.length - size);
    for (const t of live) {
      if (t.state === "busy") t.retiring = true;
      else t.kill(internal("the pool shrank"));
    }
    changed();
  }

  function replace(): void {
    if (closed) return;
    restarts++;
    fill();
  }

  /** Hands a thread that became free to the first waiting run, or leaves it idle. */
  function idleThread(thread: Thread): void {
    thread.state = "idle";
    const waiter = waiters.shift();
    if (waiter) waiter.take(thread);
  }

  /**
   * A free thread, or a busy one to stage on (none staged yet), now: synchronous, so that the
   * staged run is registered (`stagedTurn`) before that thread's task can end.
   */
  function acquireNow(): { thread: Thread; staged: boolean } | null {
    // A busy thread to stage on, kept only if no thread is starting or resting: that one will be
    // free for the run soon.
    let stageOn: Thread | null = null;
    let allBusy = true;
    for (const t of threads) {
      if (t.retiring) continue;
      if (t.state === "idle") {
        t.state = "busy";
        return { thread: t, staged: false };
      }
      if (t.state !== "busy") allBusy = false;
      else if (t.alive && !t.staged && !t.loading) stageOn ??= t;
    }
    return duty >= 1 && allBusy && stageOn ? { thread: stageOn, staged: true } : null;
  }

  /** The next thread to become free, or null if aborted first. */
  function acquire(signal: AbortSignal): Promise<{ thread: Thread; staged: boolean } | null> {
    // Only when leases outrun the capacity announced (a push already on its way): wait.
    return new Promise((resolve) => {
      const waiter: Waiter = {
        take(t) {
          signal.removeEventListener("abort", onAbort);
          t.state = "busy";
          resolve({ thread: t, staged: false });
        },
      };
      const onAbort = () => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        resolve(null);
      };
      waiters.push(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** After a task: begin the staged one, or rest, or leave the pool, or take the next task. */
  function release(thread: Thread, ranMs: number): void {
    thread.leaseId = null;
    thread.taskType = null;
    thread.onProgress = null;
    if (!thread.alive) return;
    if (thread.retiring || closed) {
      // A staged run sees its thread die and goes to another.
      thread.kill(internal("the pool shrank"));
      return changed();
    }
    const staged = thread.staged;
    if (staged) {
      // The thread began it already, the moment the last one ended.
      thread.staged = null;
      return staged();
    }
    const restMs = duty >= 1 ? 0 : ranMs * (1 / duty - 1);
    if (restMs < 1) {
      idleThread(thread);
      return changed();
    }
    thread.state = "resting";
    thread.restTimer = setTimeout(() => {
      if (!thread.alive) return;
      idleThread(thread);
      changed();
    }, restMs);
    changed();
  }

  async function run(
    lease: Lease,
    { signal, onProgress, onStart }: RunOptions,
  ): Promise<TaskOutcome> {
    if (closed) return internal("the executor is closed");
    let code;
    try {
      code = await options.source.load(lease);
    } catch (e) {
      return internal(`cannot load handler ${lease.task.type}: ${(e as Error).message}`);
    }
    const mine = new AbortController();
    byLease.set(lease.leaseId, mine);
    const stop = AbortSignal.any([signal, mine.signal]);
    const pinned = { ...lease, task: { ...lease.task, handler: code.version } };
    try {
      for (;;) {
        if (closed) return internal("the executor is closed");
        const got = acquireNow() ?? await acquire(stop);
        if (!got) return stoppedBeforeStart(stop.reason);
        const { thread } = got;
        let sent: Promise<TaskOutcome> | undefined;
        if (got.staged) {
          if (!thread.loaded.has(code.version)) {
            thread.api.load(code).catch(() => {});
            thread.loaded.add(code.version);
          }
          sent = thread.run(pinned);
          const waited = await stagedTurn(thread, stop);
          if (waited === "died") continue;
          if (waited === "aborted") {
            thread.abort(lease.taskId, String(stop.reason) as AbortReason);
            return stoppedBeforeStart(stop.reason);
          }
        }
        changed();
        onStart?.();
        thread.leaseId = lease.leaseId;
        thread.taskType = lease.task.type;
        thread.onProgress = onProgress;
        let started = performance.now();
        try {
          if (!sent && !thread.loaded.has(code.version)) {
            thread.loading = true;
            try {
              await Promise.race([thread.api.load(code), thread.died]);
            } finally {
              thread.loading = false;
            }
            thread.loaded.add(code.version);
            started = performance.now();
          }
          const ran = sent;
          const on = ran ? { ...thread, run: () => ran } : thread;
          return await runOnThread(on, pinned, stop, stopWithinMs, () => replace());
        } finally {
          release(thread, performance.now() - started);
        }
      }
    } finally {
      byLease.delete(lease.leaseId);
    }
  }

  fill();

  return {
    run,
    get stages() {
      return duty >= 1;
    },
    resize(n) {
      size = Math.max(1, Math.floor(n));
      fill();
    },
    setDuty(d) {
      duty = clampDuty(d);
    },
    abort(leaseId, reason) {
      byLease.get(leaseId)?.abort(reason);
    },
    state,
    types() {
      return [...threads].flatMap((t) => t.state === "busy" && t.taskType ? [t.taskType] : []);
    },
    get restarts() {
      return restarts;
    },
    close() {
      closed = true;
      for (const t of [...threads]) t.kill(internal("the executor was closed"));
      for (const c of byLease.values()) c.abort("shutdown" satisfies AbortReason);
      changed();
    },
  };
}

function clampDuty(duty: number): number {
  return Number.isFinite(duty) ? Math.min(1, Math.max(0.01, duty)) : 1;
}

const internal = internalOutcome;
