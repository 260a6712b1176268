/**
 * Starts a coordinator: loads its task packs, opens the KV, publishes the packs to the store's
 * handler registry, starts the timers (lease
 * expiry, delayed promotion, rate pruning), watches the KV for work added by other processes,
 * and serves HTTP. Tests and `main.ts` both use it.
 *
 * @module
 */
import { purgeExpired, type RetentionState } from "./tasks/retention.ts";
import { createFairShare } from "./dispatch/fair_share.ts";
import { createLogger } from "../shared/logger.ts";
import { createApp } from "./http/app.ts";
import { Committer } from "./store/committer.ts";
import { type CoordinatorConfig, dbFolder } from "./config.ts";
import { type Ctx, LeasedTasks } from "./context.ts";
import { ReadyTasks } from "./dispatch/ready_tasks.ts";
import { Dispatcher } from "./dispatch/dispatcher.ts";
import { recoverBatches } from "./tasks/enqueue.ts";
import { expireLeases, scanLeases } from "./tasks/expire_leases.ts";
import { decodeQueueKey, queuePrefix } from "./store/keys.ts";
import { watchReadySignals } from "./dispatch/ready_watch.ts";
import { repeat, type Repeating } from "./repeat.ts";
import { watchRemoteEnds } from "./fleet/remote_ends.ts";
import { watchBus } from "./fleet/bus.ts";
import { startPresence } from "./fleet/presence.ts";
import { startEndedLog } from "./fleet/ended_log.ts";
import { migrateLayout } from "./store/migrate.ts";
import { promoteDelayed } from "./tasks/promote_delayed.ts";
import { Signals } from "./dispatch/signals.ts";
import { ReputationCache } from "./verify/reputation.ts";
import { pruneRates } from "./fleet/stats.ts";
import { WorkerRegistry } from "./fleet/workers.ts";
import { WsHub } from "./ws/ws_hub.ts";
import { LiveFeed } from "./fleet/live.ts";
import { createMetrics } from "./fleet/metrics.ts";
import { VERSION } from "./http/routes/meta.ts";
import { finishJobs } from "./jobs/finish_jobs.ts";
import { webhookSecret, webhookSender } from "./jobs/webhook.ts";
import { buildPacks, openRegistry } from "./packs/registry.ts";
import { loadSigningKey } from "./packs/signing_key.ts";
import { watchPacks } from "./packs/watch_packs.ts";

export interface Coordinator {
  url: string;
  port: number;
  ctx: Ctx;
  dispatcher: Dispatcher;
  workers: WorkerRegistry;
  hub: WsHub;
  /** The dashboard's feed (its `snapshot()` is what `/api/live` sends). */
  live: LiveFeed;
  /** Stops serving and timers, lets in-flight commits land, closes the KV. */
  close(): Promise<void>;
}

export async function startCoordinator(config: CoordinatorConfig): Promise<Coordinator> {
  // Packs first: a bad file stops the start (a PackError) before anything is opened.
  const packOptions = { paths: config.handlers, builtin: config.builtinHandlers };
  const built = await buildPacks(packOptions);
  const folder = dbFolder(config.db);
  if (folder) await Deno.mkdir(folder, { recursive: true });
  const kv = await Deno.openKv(config.db);
  const key = await loadSigningKey(
    config.db === ":memory:"
      ? null
      : folder !== null
      ? { folder }
      : /^https?:/i.test(config.db)
      ? { kv }
      : { folder: "./" },
  );
  const log = createLogger({ format: config.logFormat, level: config.logLevel });
  const queues = new Set<string>(["default"]);
  for await (const e of kv.list({ prefix: queuePrefix() })) queues.add(decodeQueueKey(e.key).name);
  const ctx: Ctx = {
    reputation: undefined as unknown as ReputationCache,
    kv,
    committer: new Committer(kv),
    config,
    handlers: new Map(),
    signals: new Signals(),
    log,
    queues,
    leasedTasks: new LeasedTasks(),
    readyTasks: new ReadyTasks(),
    fairShare: createFairShare(kv),
    instanceId: crypto.randomUUID(),
    now: Date.now,
  };
  ctx.reputation = new ReputationCache(ctx);
  // An older store is brought up to this code's key layout (a newer one is refused).
  await migrateLayout(ctx).catch((e) => {
    kv.close();
    throw e;
  });
  // The registry in KV: this coordinator's packs published, the store's current set adopted.
  const registry = ctx.registry = await openRegistry({
    kv,
    committer: ctx.committer,
    log,
    key,
    options: packOptions,
    built,
  });
  ctx.handlers = registry.handlers;
  log.info("handlers", { types: [...registry.handlers.keys()].join(" ") });
  // A batch a dead process left half written is finished or undone before anyone sees it.
  await recoverBatches(ctx);
  const dispatcher = new Dispatcher(ctx);
  const workers = new WorkerRegistry(ctx);

  ctx.signals.onReadyArrived((items, written) =>
    written ? dispatcher.readyWritten(written) : dispatcher.markStale(items)
  );
  // Work other coordinators on this store made ready: refetch those buffers, wake those claims.
  const readyWatch = watchReadySignals(ctx, (items) => {
    dispatcher.markStale(items);
    ctx.signals.wake(items);
  }, config.wakePollMs);
  await readyWatch.now();
  const bus = watchBus(ctx, config.wakePollMs);
  let listeningUrl: string | null = null;
  const presence = await startPresence(ctx, () => listeningUrl);
  const endedLog = startEndedLog(ctx, presence);
  const remoteEnds = watchRemoteEnds(ctx, config.wakePollMs * 2, () => presence.peers().length > 0);

  const timers: Repeating[] = [];
  const every = (ms: number, name: string, fn: () => Promise<unknown>) =>
    timers.push(repeat(log, name, ms, fn));
  every(config.reapIntervalMs, "lease expiry", () => expireLeases(ctx));
  every(config.leaseScanMs, "lease scan", () => scanLeases(ctx));
  every(config.reapIntervalMs, "delayed promotion", () => promoteDelayed(ctx));
  every(10_000, "rate pruning", () => pruneRates(ctx));
  every(200, "job finish", () => finishJobs(ctx));
  const retention: RetentionState = { cursors: new Map() };
  every(30_000, "retention", () => purgeExpired(ctx, retention));
  const webhooks = webhookSender(ctx, await webhookSecret(kv, folder));
  every(250, "job webhooks", () => webhooks.pass());
  const stopping = new AbortController();
  // A reload on another coordinator of this store reaches this one within a second.
  every(1_000, "handler registry", () => registry.refresh());
  const packWatch = watchPacks(registry, log);

  const hub = new WsHub(ctx, dispatcher, workers);
  // A worker that stays connected stays seen, given work or not, for every coordinator's list.
  // Every second, so that each record is written close to its turn (workers.ts spreads them).
  every(1_000, "connected workers seen", () => {
    workers.stillConnected(hub.connectedWorkers().keys(), presence.peers().length > 0);
    return Promise.resolve();
  });
  const live = new LiveFeed(ctx, workers, {
    foreign: () => endedLog.readForeign(),
    connected: () => hub.connectedWorkers(),
  });
  const metrics = createMetrics(ctx, { workers, hub, version: VERSION });
  ctx.metrics = {
    claimed(kind, leases, ms) {
      metrics.claimed(kind, leases, ms);
      if (leases > 0) live.claimed();
    },
  };
  const app = createApp({ ctx, dispatcher, workers, stopping: stopping.signal }, {
    hub,
    live,
    metrics,
  });
  const server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: () => {},
  }, app.fetch);
  const port = server.addr.port;
  const host = config.hostname === "0.0.0.0" ? "127.0.0.1" : config.hostname;
  listeningUrl = `http://${host}:${port}`;
  log.info("coordinator listening", { url: `http://${host}:${port}`, db: config.db });

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    ctx,
    dispatcher,
    workers,
    hub,
    live,
    // Once: a test or a signal handler may close what another already closes.
    close: () => closing ??= shut(),
  };
  async function shut(): Promise<void> {
    packWatch.close();
    await Promise.all(timers.map((t) => t.stop()));
    stopping.abort();
    await webhooks.drain();
    await hub.closeAll();
    live.close();
    metrics.close();
    await server.shutdown();
    await ctx.committer.commit({ checks: [], mutations: [] }).catch(() => {});
    await readyWatch.stop();
    await remoteEnds.stop();
    await bus.stop();
    await endedLog.stop();
    await presence.stop();
    kv.close();
  }
}
