/**
 * The Deno {@link Executor}: a pool of threads (`node:worker_threads`, each with a heap limit)
 * running `task_thread.ts`, driven with comlink, one task per thread at a time. Handlers run off
 * the main thread, so a busy handler never delays a heartbeat. Nothing a task does stops the
 * pool: an aborted task that does not stop within `stopWithinMs` (a CPU loop that never yields)
 * gets its thread terminated and replaced by a fresh one, and so does a thread that crashes or
 * reaches its heap limit (the attempt fails with an `internal` error).
 *
 * Limits of the runtime (Deno 2.9): a terminated thread caught in a loop that never yields keeps
 * spinning until the process exits (terminate() does not interrupt it); and a thread whose heap
 * limit is reached while a task's promise chain runs may die without an event, so its attempt
 * ends by its timeout (then the thread is replaced), not at once.
 *
 * @module
 */
import * as Comlink from "comlink";
import { Worker } from "node:worker_threads";
import { nodeEndpoint } from "./_node_endpoint.ts";
import type { LogFormat, Logger, LogLevel } from "../../logger.ts";
import type { Lease } from "../../protocol.ts";
import type { ProgressMessage, TaskThreadApi } from "../task_thread.ts";
import type { Executor, RunOptions, TaskOutcome } from "../worker_core.ts";
import { niceWorkerThreads } from "./_worker_nice.ts";
import { internalOutcome, runOnThread } from "../_run_on_thread.ts";

export interface DenoExecutorOptions {
  /** Threads in the pool: the most tasks run at once. */
  size: number;
  /** How long an aborted task may take to stop before its thread is terminated. @default 1000 */
  stopWithinMs?: number;
  /**
   * The thread's entry module; it must expose a `TaskThreadApi` on `parentPort`.
   * @default `./_task_thread_node.ts`
   */
  threadUrl?: URL | string;
  /** Heap limit of each thread (old generation), in MiB. @default 1024 */
  memoryMb?: number;
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
  worker: InstanceType<typeof Worker>;
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
  const threadUrl = options.threadUrl ?? new URL("./_task_thread_node.ts", import.meta.url);
  const memoryMb = options.memoryMb ?? 1024;
  const all = new Set<Thread>();
  const idle: Thread[] = [];
  let closed = false;
  let restarts = 0;

  function spawn(): Thread {
    const worker = new Worker(threadUrl, { resourceLimits: { maxOldGenerationSizeMb: memoryMb } });
    const api = Comlink.wrap<TaskThreadApi>(nodeEndpoint(worker));
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
        void worker.terminate();
        channel.port1.close();
        kill(outcome);
      },
    };
    // Handled here: a thread that crashes or runs out of heap must not take the worker down.
    const onDeath = (message: string) => {
      if (!thread.alive) return;
      options.log?.error("task thread died", { error: message });
      thread.kill(internal(`task thread died: ${message}`));
      replace();
    };
    worker.on("error", (e: Error & { code?: string }) =>
      onDeath(
        e.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? `out of memory (heap limit ${memoryMb} MiB)`
          : e.message,
      ));
    worker.on("exit", (code: number) => onDeath(`exited (code ${code})`));
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
