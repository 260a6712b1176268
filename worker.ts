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
import { createHandlerSource, KeyChangedError } from "./shared/worker/handler_source.ts";
import { defaultCacheDir, diskFileCache, fileKeyStore } from "./shared/worker/deno/worker_cache.ts";
import { threadEntry } from "./shared/worker/deno/thread_entry.ts";
import { createHttpTransport } from "./shared/worker/http_transport.ts";
import { createLogger } from "./shared/logger.ts";
import { createWsTransport } from "./shared/worker/ws_transport.ts";
import { createPrefetch } from "./shared/worker/prefetch.ts";
import { startWorkerCore, type WorkerStats } from "./shared/worker/worker_core.ts";
import {
  findConfigPath,
  findProfilesPath,
  parseWorkerOptions,
  resolveTypes,
} from "./shared/worker/deno/worker_options.ts";
import { type HandlerManifest, PROTOCOL_VERSION } from "./shared/protocol.ts";

/** How often a progress line is printed. */
const PROGRESS_EVERY_MS = 5_000;
/** The longest a worker waits for its threads to import the grid's handlers before it starts. */
const WARM_AT_MOST_MS = 20_000;

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
// Run from a coordinator (`deno run -A http://HOST:8787/worker.js`): that is the default one.
const loadedFrom = /^https?:/.test(import.meta.url) ? new URL(import.meta.url).origin : undefined;
const parsed = parseWorkerOptions(Deno.args, env, fileText, profilesText, loadedFrom);
if (parsed.kind === "help") {
  console.log(parsed.text);
  Deno.exit(0);
}
if (parsed.kind === "error") die(2, parsed.message);
const options = parsed.options;

const workerId = options.workerId ??
  `${Deno.hostname()}-${crypto.randomUUID().slice(0, 6)}`;
const log = createLogger({ format: options.logFormat, level: options.debug ? "debug" : "info" });
const cacheDir = options.cacheDir ?? defaultCacheDir(env);
// Handler code comes from the (first) coordinator; every coordinator on a store serves the same.
const source = createHandlerSource({
  origin: options.coordinator.split(",")[0]!.trim(),
  publicKey: options.coordinatorKey,
  keyStore: fileKeyStore(cacheDir),
  fileCache: diskFileCache(cacheDir),
});
const common = {
  url: options.coordinator,
  workerId,
  token: options.token ?? undefined,
  types: undefined as string[] | undefined,
  queues: options.queues,
  kind: "deno" as const,
  concurrency: options.concurrency,
};
// Health and token are checked over HTTP before anything can be leased to us.
const http = createHttpTransport(common);
let core: ReturnType<typeof startWorkerCore> | null = null;
// Assigned once the threads are ready; a signal before then only closes what exists.
let socket: ReturnType<typeof createWsTransport> | null = null;

try {
  await http.health();
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
// Which types exist is the grid's manifest's to say; its key is checked and pinned here.
let manifest: HandlerManifest;
try {
  manifest = await source.manifest();
} catch (e) {
  if (e instanceof KeyChangedError) die(1, e.message);
  die(1, `cannot load the grid's handlers from ${options.coordinator}: ${(e as Error).message}`);
}
const resolved = resolveTypes(options, manifest.handlers.map((h) => h.type));
if (!resolved.ok) die(2, resolved.message);
common.types = resolved.types ?? undefined;
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

const executor = createDenoExecutor({
  size: options.concurrency,
  source,
  threadEntry: await threadEntry(cacheDir),
  permissions: options.handlerPermissions,
  onKeyChanged: (e) => die(1, e.message),
  logFormat: options.logFormat,
  logLevel: options.debug ? "debug" : "info",
  niceness: options.nice,
  memoryMb: options.threadMemoryMb,
  log,
});
// The code of the types this worker runs is fetched, checked and imported by every thread
// before it takes a lease: a lease then starts at once (a slow load would hold it unstarted).
await Promise.race([
  executor.warm(manifest.handlers.filter((h) => resolved.types?.includes(h.type) ?? true)),
  new Promise((resolve) => setTimeout(resolve, WARM_AT_MOST_MS)),
]);
// The socket is the default: leases are pushed the moment work exists. HTTP long-poll is the
// fallback for networks that do not pass WebSockets.
const initialCapacity = Math.min(
  options.concurrency + Math.ceil(options.concurrency / 2),
  options.maxTasks > 0 ? options.maxTasks : Infinity,
);
socket = options.transport === "ws"
  ? createWsTransport({
    ...common,
    // A few leases beyond the free slots wait ready, so a slot that frees starts its next task
    // without a round trip to the coordinator; how many follows the tasks (`prefetch`).
    capacity: initialCapacity,
    onStatus: (status) => log.debug("socket", { status }),
    onCancel: (_taskId, leaseId, reason) => core?.cancel(leaseId, reason),
    onOutdated: (message) => die(1, message),
  })
  : null;
const transport = socket ?? http;

/** The capacity the prefetch wants, and the one last announced. */
let wanted = initialCapacity;
let announced = initialCapacity;
let draining = false;
/**
 * Announces the prefetch's capacity; with --max-tasks, never more leases than the tasks still to
 * run and those running: the rest would only go back unstarted when the worker stops.
 */
function announce(): void {
  if (!socket || !core || draining) return;
  let capacity = wanted;
  if (options.maxTasks > 0) {
    const s = core.stats();
    capacity = Math.min(capacity, s.running + Math.max(0, options.maxTasks - s.claimed));
  }
  if (capacity <= 0 || capacity === announced) return;
  announced = capacity;
  socket.setCapacity(capacity);
}
const prefetch = createPrefetch({
  slots: options.concurrency,
  initial: initialCapacity,
  apply: (capacity) => {
    wanted = capacity;
    announce();
  },
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
    if (event.type === "stopping") {
      draining = true;
      prefetch.stop();
      socket?.setCapacity(0);
    }
    if (event.type === "claimed" && options.maxTasks > 0) announce();
    if (socket && (event.type === "completed" || event.type === "failed")) {
      prefetch.ran(event.runMs, socket.roundTripMs);
    }
  },
});
log.info("worker started", {
  workerId,
  coordinator: options.coordinator,
  concurrency: options.concurrency,
  types: resolved.types?.join(",") ?? "all",
  protocol: PROTOCOL_VERSION,
  ...(options.handlerPermissions.length
    ? { handlerPermissions: options.handlerPermissions.join(",") }
    : {}),
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
