/**
 * The universal task thread: the entry module of a Web Worker, in Deno or in a browser (no
 * `Deno.*`, no DOM). It exposes {@link TaskThreadApi} with comlink; the parent sends it verified
 * handler code (once per version), runs one task at a time on it and may abort it. The code is
 * imported from blob: URLs ({@link importHandler}). Outcomes and errors cross the thread as data.
 *
 * @example
 * ```ts
 * import * as Comlink from "comlink";
 * import type { TaskThreadApi } from "./task_thread.ts";
 * const thread = new Worker(new URL("./task_thread.ts", import.meta.url), { type: "module" });
 * const api = Comlink.wrap<TaskThreadApi>(thread);
 * await api.load(code); // verified by a HandlerSource
 * const outcome = await api.run("t1", code.version, "demo.echo", { message: "hi" }, 1, 10_000);
 * ```
 *
 * @module
 */
import * as Comlink from "comlink";
import { stoppedBeforeStart } from "./_run_on_thread.ts";
import { createLogger, type Logger, type LoggerOptions } from "../logger.ts";
import { type AbortReason, runTask, type ThreadOutcome } from "./_worker_run_task.ts";
import { type HandlerCode, importHandler } from "./import_handler.ts";

export type { AbortReason, ThreadOutcome };

/** A progress message posted on the port given to `init`: a fraction in [0, 1]. */
export interface ProgressMessage {
  taskId: string;
  fraction: number;
}

/** Shortest time between two progress messages of one task: they only feed heartbeats. */
const PROGRESS_EVERY_MS = 200;

const running = new Map<string, AbortController>();
const codes = new Map<string, HandlerCode>();
/** Settles when the last run sent has ended and its outcome left: runs take turns, one at a time. */
let turn: Promise<unknown> = Promise.resolve();
let port: MessagePort | null = null;
let log: Logger = createLogger();
/**
 * Set when a run has ended: begins the next run once comlink has posted the outcome, which it
 * does a few microtasks after `run` returns. Begun sooner, the next run would compute before that
 * outcome left (a whole first slice late); begun a macrotask later, as it once was, the thread
 * idled 1–2 ms between tasks in Chromium, with the core taken meanwhile.
 */
let afterReply: (() => void) | null = null;
/** Whether comlink serves this module (it is a thread's entry), so a reply will follow a run. */
let exposed = false;

/** What the parent can call. */
export const taskThreadApi = {
  /**
   * Sets where progress goes and how handler logs are written. Progress goes as
   * {@link ProgressMessage}s to a transferred `MessagePort`: one-way and closable by the parent,
   * which matters when it may have to terminate this thread.
   */
  init(progress: MessagePort | null, logOptions: Pick<LoggerOptions, "format" | "level"> = {}) {
    port?.close();
    port = progress;
    log = createLogger(logOptions);
  },

  /**
   * Keeps the (verified) code of one handler version for the runs that name it, and imports it
   * now, so that import time is not counted as a task's run time (the duty cycle rests by it).
   * A failed import is left for the run to report.
   */
  async load(code: HandlerCode) {
    codes.set(code.version, code);
    await importHandler(code).catch(() => {});
  },

  /**
   * Runs one attempt of `version` (sent with `load` first) once the runs sent before it have
   * ended (a staged attempt waits here, abortable); never rejects.
   */
  async run(
    taskId: string,
    version: string,
    type: string,
    params: unknown,
    attempt: number,
    timeoutMs: number,
  ): Promise<ThreadOutcome> {
    const controller = new AbortController();
    running.set(taskId, controller);
    const before = turn;
    let done!: () => void;
    turn = new Promise<void>((resolve) => (done = resolve));
    try {
      await before;
      if (controller.signal.aborted) return stoppedBeforeStart(controller.signal.reason);
      let last = performance.now();
      const code = codes.get(version);
      return await runTask({
        handler: code
          ? importHandler({ ...code, type })
          : Promise.reject(new Error(`version ${version} was not sent to this thread`)),
        taskId,
        type,
        params,
        attempt,
        timeoutMs,
        signal: controller.signal,
        onProgress(fraction) {
          const now = performance.now();
          if (!port || now - last < PROGRESS_EVERY_MS) return;
          last = now;
          port.postMessage({ taskId, fraction } satisfies ProgressMessage);
        },
        log: log.with({ taskId, type }),
      });
    } finally {
      if (running.get(taskId) === controller) running.delete(taskId);
      if (exposed) afterReply = done;
      else done();
    }
  },

  /** Aborts a running attempt; its `run` then resolves with an error. */
  abort(taskId: string, reason: AbortReason) {
    running.get(taskId)?.abort(reason);
  },
};

export type TaskThreadApi = typeof taskThreadApi;

// Only as a thread's entry: imported elsewhere (types, tests) it must not grab `message` events.
if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "function") {
  exposed = true;
  const scope = globalThis as unknown as Comlink.Endpoint;
  Comlink.expose(taskThreadApi, {
    postMessage(message: unknown, transfer?: Transferable[]) {
      scope.postMessage(message, transfer);
      const next = afterReply;
      afterReply = null;
      next?.();
    },
    addEventListener: scope.addEventListener.bind(scope),
    removeEventListener: scope.removeEventListener.bind(scope),
  });
}
