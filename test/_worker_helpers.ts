/**
 * Test helpers for the worker: `worker.ts` as a child process, and a coordinator (the one of
 * `_helpers.ts`) with the few calls worker tests need.
 *
 * @module
 */
import type { CoordinatorConfig } from "../coordinator/config.ts";
import type { Coordinator } from "../coordinator/server.ts";
import type { SubmitTask, Task, WorkerInfo } from "../shared/protocol.ts";
import { createLogger } from "../shared/logger.ts";
import { runTask } from "../shared/worker/_worker_run_task.ts";
import { loadHandler } from "../handlers/mod.ts";
import type { Executor } from "../shared/worker/worker_core.ts";
import { REPO_ROOT, testCoordinator } from "./_helpers.ts";

/** A `deno run -A worker.ts` child process with its output collected. */
export interface WorkerProcess {
  /** Everything written to stderr so far (logs go there). */
  stderr(): string;
  stdout(): string;
  /** Resolves when a stderr line matches; rejects after `timeoutMs` or if the process exits. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Exit status, after both pipes are drained. */
  status: Promise<Deno.CommandStatus>;
  kill(signal?: Deno.Signal): void;
}

/**
 * Spawns `deno run -A worker.ts ...args` in the repository root, with a cache dir of its own
 * (keys are pinned per origin, and test ports are reused by coordinators with other keys). Its
 * handlers come from the coordinator, as a volunteer's would.
 */
export function spawnWorker(args: string[], env: Record<string, string> = {}): WorkerProcess {
  const cacheDir = Deno.makeTempDirSync({ prefix: "tessera-worker-cache-" });
  let child!: Deno.ChildProcess;
  let killed: Deno.Signal | null = null;
  const started = Promise.resolve().then(() => {
    child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "worker.ts", ...args],
      cwd: REPO_ROOT,
      env: { TESSERA_CACHE_DIR: cacheDir, ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (killed) child.kill(killed);
    return child;
  });
  let err = "";
  let out = "";
  let exited = false;
  const listeners = new Set<() => void>();
  const drain = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      add(chunk);
      for (const l of listeners) l();
    }
  };
  const status = started.then(async (child) => {
    const pipes = Promise.all([
      drain(child.stderr, (s) => (err += s)),
      drain(child.stdout, (s) => (out += s)),
    ]);
    const s = await child.status;
    await pipes;
    await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
    exited = true;
    for (const l of listeners) l();
    return s;
  });
  return {
    stderr: () => err,
    stdout: () => out,
    status,
    kill(signal = "SIGTERM") {
      if (child) child.kill(signal);
      else killed = signal;
    },
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = err.split("\n").find((l) => pattern.test(l));
          if (line !== undefined) done(() => resolve(line));
          else if (exited) {
            done(() => reject(new Error(`worker exited before ${pattern}:\n${err}`)));
          }
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${err}`))),
          timeoutMs,
        );
        const done = (fn: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          fn();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

export interface TestCoordinator {
  url: string;
  port: number;
  coordinator: Coordinator;
  /** Submits tasks in batches of 1000; returns their ids in order. */
  submit(tasks: SubmitTask[]): Promise<string[]>;
  /** `GET /api/tasks/{id}?wait=waitMs`. */
  task(id: string, waitMs?: number): Promise<Task>;
  /** Waits (long-polls) until every task is final; throws after `timeoutMs`. */
  settle(ids: string[], timeoutMs?: number): Promise<Task[]>;
  /** Polls `check` on the task until it holds; throws after `timeoutMs`. */
  until(id: string, check: (t: Task) => boolean, timeoutMs?: number): Promise<Task>;
  workers(): Promise<WorkerInfo[]>;
  /** Raw API call; returns status and parsed body. */
  // deno-lint-ignore no-explicit-any
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** Starts a coordinator on a free port with a fresh KV file. */
export async function startTestCoordinator(
  config: Partial<CoordinatorConfig> = {},
): Promise<TestCoordinator> {
  const c = await testCoordinator(config);
  const { url, call: api } = c;
  async function task(id: string, waitMs = 0): Promise<Task> {
    const { status, body } = await api("GET", `/tasks/${id}${waitMs ? `?wait=${waitMs}` : ""}`);
    if (status !== 200) throw new Error(`GET task ${id}: ${status} ${JSON.stringify(body)}`);
    return body;
  }
  const final = (t: Task) => ["completed", "failed", "cancelled"].includes(t.status);
  return {
    url,
    port: c.port,
    coordinator: c,
    api,
    task,
    async submit(tasks) {
      const ids: string[] = [];
      for (let i = 0; i < tasks.length; i += 1000) {
        const { status, body } = await api("POST", "/tasks", { tasks: tasks.slice(i, i + 1000) });
        if (status !== 201) throw new Error(`submit: ${status} ${JSON.stringify(body)}`);
        ids.push(...body.tasks.map((t: Task) => t.id));
      }
      return ids;
    },
    async settle(ids, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      const out: Task[] = [];
      for (const id of ids) {
        let t = await task(id);
        while (!final(t)) {
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`task ${id} is still ${t.status} after ${timeoutMs} ms`);
          t = await task(id, Math.min(left, 5_000));
        }
        out.push(t);
      }
      return out;
    },
    async until(id, check, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const t = await task(id);
        if (check(t)) return t;
        if (Date.now() > deadline) {
          throw new Error(`task ${id}: condition not met in ${timeoutMs} ms (${t.status})`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async workers() {
      return (await api("GET", "/workers")).body.workers;
    },
    close: () => c[Symbol.asyncDispose](),
  };
}

/** Runs `fn` with a fresh coordinator, closed afterwards. */
export async function withCoordinator(
  fn: (c: TestCoordinator) => Promise<void>,
  config: Partial<CoordinatorConfig> = {},
): Promise<void> {
  const c = await startTestCoordinator(config);
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

/** An executor that runs handlers in this thread: the core does not care where attempts run. */
export const inProcessExecutor: Executor = {
  run: (lease, { signal, onProgress }) =>
    runTask({
      handler: loadHandler(lease.task.type),
      taskId: lease.taskId,
      type: lease.task.type,
      params: lease.task.params,
      attempt: lease.attempt,
      timeoutMs: lease.task.timeoutMs,
      signal,
      onProgress,
      log: createLogger({ level: "error" }),
    }),
};

/**
 * A staging executor of one thread: it runs the attempts handed over one at a time, in order,
 * and says when each begins; `peak()` is the most it held at once.
 */
export function oneThreadStaging(): { executor: Executor; peak(): number } {
  let tail: Promise<unknown> = Promise.resolve();
  let held = 0;
  let peak = 0;
  const executor: Executor = {
    stages: true,
    run(lease, options) {
      peak = Math.max(peak, ++held);
      const turn = tail.then(() => {
        options.onStart?.();
        return inProcessExecutor.run(lease, options);
      }).finally(() => held--);
      tail = turn.catch(() => {});
      return turn;
    },
  };
  return { executor, peak: () => peak };
}
