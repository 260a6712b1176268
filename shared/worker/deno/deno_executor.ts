/**
 * The Deno {@link Executor}: a pool of task threads, each a subprocess of `Deno.execPath()` run
 * with no permissions (unless `permissions` grants some) and a V8 heap limit, one task at a time,
 * talking newline-delimited JSON over its stdin and stdout (`task_process.ts`). The parent loads
 * each lease's handler code from a {@link HandlerSource} (signature and hashes checked) and sends
 * it to a thread once per version; the thread imports it from blob: URLs. Nothing a task does
 * stops the pool: a thread whose task does not stop within `stopWithinMs` of an abort (a loop
 * that never yields) is killed with SIGKILL, so it stops burning CPU, and replaced; so is a
 * thread that crashes or reaches its heap limit (the attempt fails with an `internal` error).
 *
 * @module
 */
import { setPriority } from "node:os";
import type { LogFormat, Logger, LogLevel } from "../../logger.ts";
import type { Lease } from "../../protocol.ts";
import type { Executor, RunOptions, TaskOutcome } from "../worker_core.ts";
import { internalOutcome, runOnThread, type TaskThread } from "../_run_on_thread.ts";
import { type HandlerCode, type HandlerSource, KeyChangedError } from "../handler_source.ts";
import type { FromThread, ToThread } from "./task_process.ts";
import type { HandlerPermission } from "./worker_options.ts";

export interface DenoExecutorOptions {
  /** Threads in the pool: the most tasks run at once. */
  size: number;
  /** Where handler code comes from. */
  source: HandlerSource;
  /** How long an aborted task may take to stop before its thread is killed. @default 1000 */
  stopWithinMs?: number;
  /** The thread's main module (a path or file: URL). @default `./task_process.ts` */
  threadEntry?: string | URL;
  /** Heap limit of each thread (old generation), in MiB. @default 1024 */
  memoryMb?: number;
  /**
   * Nice value of the task threads (Linux), so the main thread's claims and heartbeats, and the
   * machine's owner, go first; 0 leaves them alone. @default 10
   */
  niceness?: number;
  /** Granted to every task thread (`--handler-permissions`); none by default. */
  permissions?: readonly HandlerPermission[];
  /** How handlers' log lines are written inside the threads. */
  logFormat?: LogFormat;
  logLevel?: LogLevel;
  log?: Logger;
  /** The coordinator's key changed: the worker must stop (called once). */
  onKeyChanged?: (error: KeyChangedError) => void;
}

export interface DenoExecutor extends Executor {
  /**
   * Fetches and checks the code of these (type, version) pairs now and has every thread import
   * it; resolves once they all have, so the first tasks do not wait for it (and a lease is not
   * taken long before it can start). Failures are left for the runs.
   */
  warm(handlers: Array<{ type: string; version: string }>): Promise<void>;
  /** Threads replaced after a task would not stop, or crashed. */
  readonly restarts: number;
  /** Kills every thread; runs still in progress settle with an `internal` error. */
  close(): Promise<void>;
}

interface Thread extends TaskThread {
  child: Deno.ChildProcess;
  send(msg: ToThread): void;
  /** Versions whose code this thread already has. */
  loaded: Set<string>;
  /** Eager loads not imported yet, by version. */
  importing: Map<string, () => void>;
  taskId: string | null;
  onProgress: ((fraction: number) => void) | null;
  alive: boolean;
}

/** Environment a thread keeps: what Deno itself needs for its cache, nothing of the user's. */
const KEEP_ENV = ["DENO_DIR", "HOME", "XDG_CACHE_HOME", "NO_COLOR", "PATH", "TMPDIR"];

/**
 * Creates a pool of `size` task threads, started at once so the first tasks do not wait.
 *
 * @example
 * ```ts
 * const executor = createDenoExecutor({ size: 4, source: createHandlerSource({ origin }) });
 * const core = startWorkerCore({ transport, executor, concurrency: 4 });
 * await core.done;
 * await executor.close();
 * ```
 */
export function createDenoExecutor(options: DenoExecutorOptions): DenoExecutor {
  const stopWithinMs = options.stopWithinMs ?? 1000;
  const entry = options.threadEntry ?? new URL("./task_process.ts", import.meta.url);
  const memoryMb = options.memoryMb ?? 1024;
  const args = [
    "run",
    "--no-prompt",
    "--no-config",
    "--no-lock",
    "--no-npm",
    "--no-remote",
    "--quiet",
    `--v8-flags=--max-old-space-size=${memoryMb}`,
    ...(options.permissions ?? []).map((p) => `--allow-${p}`),
    entry instanceof URL ? entry.href : entry,
  ];
  const env = Object.fromEntries(
    KEEP_ENV.flatMap((k) => {
      const v = Deno.env.get(k);
      return v === undefined ? [] : [[k, v]];
    }),
  );
  const init: ToThread = {
    t: "init",
    ...(options.logFormat ? { format: options.logFormat } : {}),
    ...(options.logLevel ? { level: options.logLevel } : {}),
  };
  const all = new Set<Thread>();
  const idle: Thread[] = [];
  let closed = false;
  let restarts = 0;
  let keyChanged = false;

  function spawn(): Thread {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if ((options.niceness ?? 10) > 0) {
      try {
        setPriority(child.pid, options.niceness ?? 10);
      } catch { /* best effort: not permitted, or not Linux */ }
    }
    const writer = child.stdin.getWriter();
    const encoder = new TextEncoder();
    const pending = new Map<string, (outcome: TaskOutcome) => void>();
    let resolveDied!: (outcome: TaskOutcome) => void;
    const thread: Thread = {
      child,
      loaded: new Set(),
      importing: new Map(),
      taskId: null,
      onProgress: null,
      alive: true,
      died: new Promise<TaskOutcome>((resolve) => (resolveDied = resolve)),
      send(msg) {
        writer.write(encoder.encode(JSON.stringify(msg) + "\n")).catch(() => {});
      },
      run(lease) {
        return new Promise((resolve) => {
          pending.set(lease.taskId, resolve);
          thread.send({
            t: "run",
            id: lease.taskId,
            version: lease.task.handler!,
            type: lease.task.type,
            params: lease.task.params,
            attempt: lease.attempt,
            timeoutMs: lease.task.timeoutMs,
          });
        });
      },
      abort(id, reason) {
        thread.send({ t: "abort", id, reason });
      },
      kill(outcome) {
        if (!thread.alive) return;
        thread.alive = false;
        all.delete(thread);
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
        resolveDied(outcome);
        for (const done of thread.importing.values()) done();
        thread.importing.clear();
      },
    };
    thread.send(init);
    void readFrames(child.stdout, (msg) => {
      if (msg.t === "done") {
        pending.get(msg.id)?.(msg.outcome);
        pending.delete(msg.id);
      } else if (msg.t === "progress" && msg.id === thread.taskId) thread.onProgress?.(msg.f);
      else if (msg.t === "loaded") {
        thread.importing.get(msg.version)?.();
        thread.importing.delete(msg.version);
      }
    });
    const tail = forwardStderr(child.stderr);
    // Handled here: a thread that crashes or runs out of heap must not take the worker down.
    child.status.then(async (status) => {
      if (!thread.alive) return;
      const text = await tail;
      const message = /heap limit|out of memory/i.test(text)
        ? `out of memory (heap limit ${memoryMb} MiB)`
        : `exited (${status.signal ? `signal ${status.signal}` : `code ${status.code}`})`;
      options.log?.error("task thread died", { error: message });
      thread.kill(internalOutcome(`task thread died: ${message}`));
      replace();
    });
    all.add(thread);
    return thread;
  }

  /** Code every new thread gets at once (see `warm`). */
  const warmCode: HandlerCode[] = [];

  function preload(thread: Thread, code: HandlerCode): Promise<void> {
    if (thread.loaded.has(code.version)) return Promise.resolve();
    const imported = new Promise<void>((resolve) => thread.importing.set(code.version, resolve));
    thread.send({ t: "load", code, eager: true });
    thread.loaded.add(code.version);
    return imported;
  }

  function replace(): void {
    if (closed) return;
    restarts++;
    const thread = spawn();
    for (const code of warmCode) preload(thread, code);
    idle.push(thread);
  }

  async function warm(handlers: Array<{ type: string; version: string }>): Promise<void> {
    await Promise.all(handlers.map(async ({ type, version }) => {
      const lease = { taskId: "", task: { type, handler: version } } as unknown as Lease;
      const code = await options.source.load(lease).catch(() => null);
      if (!code || closed) return;
      warmCode.push(code);
      await Promise.all([...all].map((thread) => preload(thread, code)));
    }));
  }

  for (let i = 0; i < Math.max(1, options.size); i++) idle.push(spawn());

  async function run(lease: Lease, { signal, onProgress }: RunOptions): Promise<TaskOutcome> {
    if (closed) return internalOutcome("the executor is closed");
    let code;
    try {
      code = await options.source.load(lease);
    } catch (e) {
      if (e instanceof KeyChangedError && !keyChanged) {
        keyChanged = true;
        options.onKeyChanged?.(e);
      }
      return internalOutcome(`cannot load handler ${lease.task.type}: ${(e as Error).message}`);
    }
    const thread = idle.pop() ?? spawn();
    thread.taskId = lease.taskId;
    thread.onProgress = onProgress;
    if (!thread.loaded.has(code.version)) {
      thread.send({ t: "load", code });
      thread.loaded.add(code.version);
    }
    try {
      const pinned = { ...lease, task: { ...lease.task, handler: code.version } };
      return await runOnThread(thread, pinned, signal, stopWithinMs, (reason) => {
        options.log?.warn("task did not stop; killing its thread", {
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
    warm,
    get restarts() {
      return restarts;
    },
    async close() {
      closed = true;
      const children = [...all].map((t) => t.child);
      for (const thread of [...all]) thread.kill(internalOutcome("the executor was closed"));
      idle.length = 0;
      await Promise.all(children.map((c) => c.status.catch(() => {})));
    },
  };
}

async function readFrames(
  stream: ReadableStream<Uint8Array>,
  onFrame: (msg: FromThread) => void,
): Promise<void> {
  let buffer = "";
  const decoder = new TextDecoder();
  try {
    for await (const bytes of stream) {
      buffer += decoder.decode(bytes, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          onFrame(JSON.parse(line));
        } catch { /* not a frame: a handler wrote to stdout itself */ }
      }
    }
  } catch { /* the thread was killed */ }
}

/**
 * Passes a thread's stderr (its handlers' log lines) on to ours, and resolves with its last few
 * KiB once it closes, to tell why it died. V8's out-of-memory dump is not passed on: the worker
 * logs one line for it.
 */
async function forwardStderr(stream: ReadableStream<Uint8Array>): Promise<string> {
  let tail = "";
  let dumping = false;
  const decoder = new TextDecoder();
  try {
    for await (const bytes of stream) {
      tail = (tail + decoder.decode(bytes, { stream: true })).slice(-4096);
      dumping ||= /<--- Last few GCs|FATAL ERROR/.test(tail);
      for (let off = 0; !dumping && off < bytes.length;) {
        off += await Deno.stderr.write(bytes.subarray(off));
      }
    }
  } catch { /* killed */ }
  return tail;
}
