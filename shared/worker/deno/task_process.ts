/**
 * The Deno task thread: the main module of a subprocess of `Deno.execPath()` started with no
 * permissions at all (and a V8 heap limit), so operator code cannot read the volunteer's files,
 * environment or network, nor spawn processes, and a handler that loops or runs out of memory
 * ends only this process. The parent sends verified code and tasks as newline-delimited JSON on
 * stdin ({@link ToThread}); this answers on stdout ({@link FromThread}). Handler logs (and any
 * `console.log`) go to stderr, so stdout carries frames only.
 *
 * It imports only local, npm-free modules: a no-permission process cannot load npm packages.
 * The handler's own bundle carries its zod.
 *
 * @module
 */
import { createLogger, type Logger, type LogLevel } from "../../logger.ts";
import { type HandlerCode, importHandler } from "../import_handler.ts";
import { type AbortReason, runTask, type ThreadOutcome } from "../_worker_run_task.ts";

/** Parent → thread, one JSON object per line. */
export type ToThread =
  | { t: "init"; format?: "text" | "json"; level?: LogLevel }
  /** Keeps the code for runs of its version; `eager`: imports it now, before any run. */
  | { t: "load"; code: HandlerCode; eager?: boolean }
  | {
    t: "run";
    id: string;
    version: string;
    type: string;
    params: unknown;
    attempt: number;
    timeoutMs: number;
  }
  | { t: "abort"; id: string; reason: AbortReason };

/** Thread → parent, one JSON object per line. */
export type FromThread =
  | { t: "ready" }
  | { t: "done"; id: string; outcome: ThreadOutcome }
  | { t: "progress"; id: string; f: number }
  /** An eager `load` was imported (or failed to: the runs will say why). */
  | { t: "loaded"; version: string };

/** Shortest time between two progress frames of one task: they only feed heartbeats. */
const PROGRESS_EVERY_MS = 200;

if (import.meta.main) await serve();

async function serve(): Promise<void> {
  const encoder = new TextEncoder();
  // Synchronous writes of whole frames: no stream machinery per task, and frames never interleave.
  const send = (msg: FromThread) => {
    const bytes = encoder.encode(JSON.stringify(msg) + "\n");
    for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
  };
  // stdout is the frame channel: a handler's console.log must not land in it.
  console.log = console.info = console.debug = console.error;
  // A terminal's Ctrl-C (or systemd's SIGTERM) reaches the whole process group: the worker
  // drains its tasks on it, so its threads must live on; it ends them itself.
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, () => {});

  let log: Logger = createLogger();
  const codes = new Map<string, HandlerCode>();
  const running = new Map<string, AbortController>();

  const run = async (msg: Extract<ToThread, { t: "run" }>) => {
    const controller = new AbortController();
    running.set(msg.id, controller);
    let last = performance.now();
    const code = codes.get(msg.version);
    try {
      const outcome = await runTask({
        handler: code
          ? importHandler({ ...code, type: msg.type })
          : Promise.reject(new Error(`version ${msg.version} was not sent to this thread`)),
        taskId: msg.id,
        type: msg.type,
        params: msg.params,
        attempt: msg.attempt,
        timeoutMs: msg.timeoutMs,
        signal: controller.signal,
        onProgress(fraction) {
          const now = performance.now();
          if (now - last < PROGRESS_EVERY_MS) return;
          last = now;
          send({ t: "progress", id: msg.id, f: fraction });
        },
        log: log.with({ taskId: msg.id, type: msg.type }),
      });
      send({ t: "done", id: msg.id, outcome });
    } finally {
      running.delete(msg.id);
    }
  };

  send({ t: "ready" });
  let buffer = "";
  const decoder = new TextDecoder();
  const chunk = new Uint8Array(1 << 16);
  for (;;) {
    const n = await Deno.stdin.read(chunk);
    if (n === null) break;
    buffer += decoder.decode(chunk.subarray(0, n), { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const msg = JSON.parse(line) as ToThread;
      if (msg.t === "init") log = createLogger({ format: msg.format, level: msg.level });
      else if (msg.t === "load") {
        codes.set(msg.code.version, msg.code);
        const { version } = msg.code;
        if (msg.eager) {
          const ack = () => send({ t: "loaded", version });
          importHandler(msg.code).then(ack, ack);
        }
      } else if (msg.t === "run") void run(msg);
      else if (msg.t === "abort") running.get(msg.id)?.abort(msg.reason);
    }
  }
  // The parent closed stdin: it is done with this thread.
  Deno.exit(0);
}
