/**
 * `deno run -A worker.ts --coordinator http://host:8787` (or `deno task worker`): a Deno worker
 * for a Tessera coordinator. It reads its options (flags > environment > `--profile` > config
 * file > defaults; `--help` lists them), checks the coordinator and its token, then runs tasks on a pool
 * of Web Workers until stopped. SIGINT/SIGTERM stop claiming, let in-flight tasks finish within
 * `--grace-ms`, release the rest and print final stats (exit 0); a second signal exits at once
 * (130). No task outcome stops it (a failing, stuck or crashing handler fails that attempt
 * only). Exit 1: coordinator unreachable at start or for longer than `--max-offline-ms` later,
 * or credentials refused (or missing where the coordinator requires them); exit 2: a bad option.
 *
 * @module
 */
import { createDenoExecutor } from "./shared/worker/deno/deno_executor.ts";
import { createHttpTransport } from "./shared/worker/http_transport.ts";
import { createLogger } from "./shared/logger.ts";
import { createWsTransport } from "./shared/worker/ws_transport.ts";
import { startWorkerCore, type WorkerStats } from "./shared/worker/worker_core.ts";
import {
  findConfigPath,
  findProfilesPath,
  parseWorkerOptions,
} from "./shared/worker/deno/worker_options.ts";

/** How often a progress line is printed. */
const PROGRESS_EVERY_MS = 5_000;

function die(code: number, message: string): never {
  console.error(`tessera-worker: ${message}`);
  Deno.exit(code);
}

const env = Deno.env.toObject();
const configPath = findConfigPath(Deno.args, env);
let fileText: string | null = null;
if (configPath !== null) {
  try {
    fileText = await Deno.readTextFile(configPath);
  } catch (e) {
    die(2, `cannot read config file ${configPath}: ${(e as Error).message}`);
  }
}
const profilesPath = findProfilesPath(Deno.args, env, fileText);
let profilesText: string | null = null;
if (profilesPath !== null) {
  try {
    profilesText = await Deno.readTextFile(profilesPath);
  } catch (e) {
    die(2, `cannot read profiles file ${profilesPath}: ${(e as Error).message}`);
  }
}
const parsed = parseWorkerOptions(Deno.args, env, fileText, profilesText);
if (parsed.kind === "help") {
  console.log(parsed.text);
  Deno.exit(0);
}
if (parsed.kind === "error") die(2, parsed.message);
const options = parsed.options;

const workerId = options.workerId ??
  `${Deno.hostname()}-${crypto.randomUUID().slice(0, 6)}`;
const log = createLogger({ format: options.logFormat, level: options.debug ? "debug" : "info" });
const common = {
  url: options.coordinator,
  workerId,
  token: options.token ?? undefined,
  types: options.types,
  queues: options.queues,
  kind: "deno" as const,
  concurrency: options.concurrency,
};
// Health and token are checked over HTTP before anything can be leased to us.
const http = createHttpTransport(common);
let core: ReturnType<typeof startWorkerCore> | null = null;

let coordinatorTypes: string[];
try {
  coordinatorTypes = (await http.health()).types;
} catch (e) {
  die(1, `cannot reach coordinator at ${options.coordinator}: ${(e as Error).message}`);
}
try {
  if (!await http.checkToken()) {
    die(
      1,
      options.token
        ? `the coordinator at ${options.coordinator} refused the worker token`
        : `the coordinator at ${options.coordinator} requires a worker token (--token or TESSERA_TOKEN)`,
    );
  }
} catch (e) {
  die(1, `cannot reach coordinator at ${options.coordinator}: ${(e as Error).message}`);
}
const unknown = options.types.filter((t) => !coordinatorTypes.includes(t));
if (unknown.length > 0) log.warn("the coordinator does not know some types", { types: unknown });
if (options.maxConsecutiveErrors !== null) {
  log.warn(
    "--max-consecutive-errors is deprecated and ignored: task failures never stop a worker " +
      "(see --max-offline-ms)",
  );
}

/**
 * A repeat within this time is the same signal twice (a terminal's Ctrl-C reaches `deno task`
 * and this process, and `deno task` forwards it again), not a user insisting.
 */
const SAME_SIGNAL_MS = 250;
let firstSignal: number | null = null;
const onSignal = (name: Deno.Signal) => () => {
  if (firstSignal !== null) {
    if (performance.now() - firstSignal < SAME_SIGNAL_MS) return;
    console.error(`tessera-worker: second ${name}, exiting now`);
    Deno.exit(130);
  }
  firstSignal = performance.now();
  // Listening from the start: a signal before the core runs still ends the worker cleanly.
  if (!core) {
    log.info(`${name}: stopping before work began`);
    socket?.close();
    Deno.exit(0);
  }
  log.info(`${name}: finishing in-flight tasks`, {
    running: core.stats().running,
    graceMs: options.graceMs,
  });
  void core.stop({ graceMs: options.graceMs });
};
Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));

// The socket is the default: leases are pushed the moment work exists. HTTP long-poll is the
// fallback for networks that do not pass WebSockets.
const socket = options.transport === "ws"
  ? createWsTransport({
    ...common,
    // A few leases beyond the free slots wait ready, so a slot that frees starts its next task
    // without a round trip to the coordinator.
    capacity: options.concurrency + Math.ceil(options.concurrency / 2),
    onStatus: (status) => log.debug("socket", { status }),
    onCancel: (_taskId, leaseId, reason) => core?.cancel(leaseId, reason),
  })
  : null;
const transport = socket ?? http;

const executor = createDenoExecutor({
  size: options.concurrency,
  logFormat: options.logFormat,
  logLevel: options.debug ? "debug" : "info",
  niceness: options.nice,
  memoryMb: options.threadMemoryMb,
  log,
});
core = startWorkerCore({
  transport,
  executor,
  concurrency: options.concurrency,
  maxTasks: options.maxTasks,
  waitMs: options.pollInterval,
  maxOfflineMs: options.maxOfflineMs,
  graceMs: options.graceMs,
  log,
  onEvent(event) {
    // However it stops (a signal, --max-tasks), credit 0 first: nothing more is pushed to a
    // draining worker, and what waits unstarted in the socket's buffer goes back at once.
    if (event.type === "stopping") socket?.setCapacity(0);
  },
});
log.info("worker started", {
  workerId,
  coordinator: options.coordinator,
  concurrency: options.concurrency,
  types: options.types.join(","),
  queues: options.queues.join(",") || "all",
  nice: options.nice,
  ...(options.profile ? { profile: options.profile } : {}),
});

let last = { at: performance.now(), done: 0, idle: false };
const progress = setInterval(() => {
  const s = core.stats();
  const now = performance.now();
  const done = s.completed + s.failed;
  // An idle worker says so once, not every few seconds.
  if (done === last.done && s.running === 0 && last.idle) {
    last.at = now;
    return;
  }
  const rate = (done - last.done) / ((now - last.at) / 1000);
  last = { at: now, done, idle: done === last.done && s.running === 0 };
  log.info("progress", {
    completed: s.completed,
    failed: s.failed,
    running: s.running,
    tasksPerSec: Math.round(rate * 10) / 10,
    types: Object.keys(s.types).join(","),
  });
}, PROGRESS_EVERY_MS);

const result = await core.done;
clearInterval(progress);
socket?.close();
await executor.close();
log.info("stopped", { reason: result.reason, ...finalStats(result.stats) });
if (result.reason !== "stopped" && result.reason !== "max_tasks") die(1, result.message);
Deno.exit(0);

function finalStats(s: WorkerStats) {
  return {
    claimed: s.claimed,
    completed: s.completed,
    failed: s.failed,
    released: s.released,
    abandoned: s.abandoned,
    busyMs: s.busyMs,
    meanRunMs: s.meanRunMs === null ? null : Math.round(s.meanRunMs * 10) / 10,
    uptimeMs: s.uptimeMs,
    restarts: executor.restarts,
  };
}
