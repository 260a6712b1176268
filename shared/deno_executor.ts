/**
 * The Deno {@link Executor}: a pool of Web Workers running `task_thread.ts`, driven with comlink,
 * one task per thread at a time. Handlers run off the main thread, so a busy handler never delays
 * a heartbeat. An aborted task that does not stop within `stopWithinMs` (a CPU loop that never
 * yields) gets its thread terminated and replaced by a fresh one.
 *
 * @module
 */
import * as Comlink from "comlink";
import type { LogFormat, Logger, LogLevel } from "./logger.ts";
import type { Lease } from "./protocol.ts";
import type { ProgressMessage, TaskThreadApi } from "./task_thread.ts";
import type { Executor, RunOptions, TaskOutcome } from "./worker_core.ts";
import { niceWorkerThreads } from "./_worker_nice.ts";
import { internalOutcome, runOnThread } from "./_run_on_thread.ts";

export interface DenoExecutorOptions {
  /** Threads in the pool: the most tasks run at once. */
  size: number;
  /** How long an aborted task may take to stop before its thread is terminated. @default 1000 */
  stopWithinMs?: number;
  /** The thread's entry module; it must expose a `TaskThreadApi`. @default `./task_thread.ts` */
  threadUrl?: URL | string;
  /**
   * Nice value of the task threads (Linux), so the main thread's claims and heartbeats, and the
   * machine's owner, go first; 0 leaves them alone. @default 10
   */
  niceness?: number;
  /** How handlers' log lines are written inside the threads. */
  logFormat?: LogFormat;
  logLevel?: LogLevel;
  log?: Logger;
}

export interface DenoExecutor extends Executor {
  /** Threads replaced after a task would not stop, or crashed. */
  readonly restarts: number;
  /** Terminates every thread; runs still in progress settle with an `internal` error. */
  close(): Promise<void>;
}

interface Thread {
  worker: Worker;
  api: Comlink.Remote<TaskThreadApi>;
  progress: MessagePort;
  /** The task running now and its progress listener. */
  taskId: string | null;
  onProgress: ((fraction: number) => void) | null;
  alive: boolean;
  /** Settles when the thread dies under a task (crash, termination, pool closed). */
  died: Promise<TaskOutcome>;
  kill(outcome: TaskOutcome): void;
}

/**
 * Creates a pool of `size` task threads, started at once so the first tasks do not wait.
 *
 * @example
 * ```ts
 * const executor = createDenoExecutor({ size: navigator.hardwareConcurrency });
 * const core = startWorkerCore({ transport, executor, concurrency: navigator.hardwareConcurrency });
 * await core.done;
 * await executor.close();
 * ```
 */
export function createDenoExecutor(options: DenoExecutorOptions): DenoExecutor {
  const stopWithinMs = options.stopWithinMs ?? 1000;
  const threadUrl = options.threadUrl ?? new URL("./task_thread.ts", import.meta.url);
  const all = new Set<Thread>();
  const idle: Thread[] = [];
  let closed = false;
  let restarts = 0;

  function spawn(): Thread {
    const worker = new Worker(threadUrl, { type: "module" });
    const api = Comlink.wrap<TaskThreadApi>(worker);
    const channel = new MessageChannel();
    channel.port1.onmessage = (e: MessageEvent<ProgressMessage>) => {
      if (e.data.taskId === thread.taskId) thread.onProgress?.(e.data.fraction);
    };
    let kill!: (outcome: TaskOutcome) => void;
    const died = new Promise<TaskOutcome>((resolve) => (kill = resolve));
    const thread: Thread = {
      worker,
      api,
      progress: channel.port1,
      taskId: null,
      onProgress: null,
      alive: true,
      died,
      kill(outcome) {
        if (!thread.alive) return;
        thread.alive = false;
        all.delete(thread);
        worker.terminate();
        channel.port1.close();
        kill(outcome);
      },
    };
    worker.addEventListener("error", (e) => {
      // Handled here: an uncaught error in a thread must not take the whole worker down.
      e.preventDefault();
      options.log?.error("task thread crashed", { error: e.message });
      thread.kill(internal(`task thread crashed: ${e.message}`));
      replace();
    });
    api.init(Comlink.transfer(channel.port2, [channel.port2]), {
      ...(options.logFormat ? { format: options.logFormat } : {}),
      ...(options.logLevel ? { level: options.logLevel } : {}),
    }).then(() => niceWorkerThreads(options.niceness ?? 10), () => {});
    all.add(thread);
    return thread;
  }

  function replace(): void {
    if (closed) return;
    restarts++;
    idle.push(spawn());
  }

  for (let i = 0; i < Math.max(1, options.size); i++) idle.push(spawn());

  async function run(lease: Lease, { signal, onProgress }: RunOptions): Promise<TaskOutcome> {
    if (closed) return internal("the executor is closed");
    const thread = idle.pop() ?? spawn();
    thread.taskId = lease.taskId;
    thread.onProgress = onProgress;
    try {
      return await runOnThread(thread, lease, signal, stopWithinMs, (reason) => {
        options.log?.warn("task did not stop; terminating its thread", {
          taskId: lease.taskId,
          reason,
        });
        replace();
      });
    } finally {
      thread.taskId = null;
      thread.onProgress = null;
      if (thread.alive) idle.push(thread);
    }
  }

  return {
    run,
    get restarts() {
      return restarts;
    },
    close() {
      closed = true;
      for (const thread of [...all]) thread.kill(internal("the executor was closed"));
      idle.length = 0;
      return Promise.resolve();
    },
  };
}

const internal = internalOutcome;
