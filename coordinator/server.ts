/**
 * Starts a coordinator: opens the KV, loads the handler schemas, starts the timers (lease
 * expiry, delayed promotion, rate pruning), watches the KV for work added by other processes,
 * and serves HTTP. Tests and `main.ts` both use it.
 *
 * @module
 */
import { loadAllHandlers } from "../handlers/mod.ts";
import { createLogger } from "../shared/logger.ts";
import { createApp } from "./app.ts";
import { Committer } from "./committer.ts";
import { type CoordinatorConfig, dbFolder } from "./config.ts";
import { type Ctx, LeasedTasks } from "./context.ts";
import { Dispatcher } from "./dispatcher.ts";
import { recoverBatches } from "./enqueue.ts";
import { expireLeases } from "./expire_leases.ts";
import { backfillListIndex } from "./list_index.ts";
import { queuePrefix, readySignalKey } from "./keys.ts";
import { promoteDelayed } from "./promote_delayed.ts";
import { Signals } from "./signals.ts";
import { ReputationCache } from "./reputation.ts";
import { pruneRates } from "./stats.ts";
import { WorkerRegistry } from "./workers.ts";
import { WsHub } from "./ws_hub.ts";
import { dashboardRoutes } from "./assets.ts";
import { LiveFeed } from "./live.ts";
import { liveRoutes } from "./routes/live.ts";
import { donateRoutes } from "./donate_assets.ts";

export interface Coordinator {
  url: string;
  port: number;
  ctx: Ctx;
  dispatcher: Dispatcher;
  workers: WorkerRegistry;
  hub: WsHub;
  /** Stops serving and timers, lets in-flight commits land, closes the KV. */
  close(): Promise<void>;
}

export async function startCoordinator(config: CoordinatorConfig): Promise<Coordinator> {
  const folder = dbFolder(config.db);
  if (folder) await Deno.mkdir(folder, { recursive: true });
  const kv = await Deno.openKv(config.db);
  const log = createLogger({ format: config.logFormat, level: config.logLevel });
  const queues = new Set<string>(["default"]);
  for await (const e of kv.list({ prefix: queuePrefix() })) queues.add(e.key[1] as string);
  const ctx: Ctx = {
    reputation: undefined as unknown as ReputationCache,
    kv,
    committer: new Committer(kv),
    config,
    handlers: await loadAllHandlers(),
    signals: new Signals(),
    log,
    queues,
    leasedTasks: new LeasedTasks(),
    now: Date.now,
  };
  ctx.reputation = new ReputationCache(ctx);
  // A batch a dead process left half written is finished or undone before anyone sees it.
  await recoverBatches(ctx);
  await backfillListIndex(ctx);
  const dispatcher = new Dispatcher(ctx);
  const workers = new WorkerRegistry(ctx);

  // Anything that makes work ready (here or in another process) bumps a watched counter.
  ctx.signals.onReadyArrived((items) => dispatcher.markStale(items));
  // Work made ready by another process bumps the signal beyond our own sums: wake every claim.
  ctx.committer.trackSum(readySignalKey());
  const watch = kv.watch([readySignalKey()]);
  const watching = (async () => {
    let highWater: bigint | null = null;
    try {
      for await (const [entry] of watch) {
        const value = entry?.value instanceof Deno.KvU64 ? entry.value.value : 0n;
        const foreign = value - ctx.committer.sumCommitted(readySignalKey());
        if (highWater !== null && foreign > highWater) ctx.signals.readyArrived();
        if (highWater === null || foreign > highWater) highWater = foreign;
      }
    } catch { /* closed */ }
  })();

  let closing = false;
  const timers: ReturnType<typeof setInterval>[] = [];
  const every = (ms: number, name: string, fn: () => Promise<unknown>) => {
    let busy = false;
    timers.push(setInterval(async () => {
      if (busy || closing) return;
      busy = true;
      try {
        await fn();
      } catch (e) {
        if (!closing) log.error(`${name} failed`, { error: String(e) });
      } finally {
        busy = false;
      }
    }, ms));
  };
  every(config.reapIntervalMs, "lease expiry", () => expireLeases(ctx));
  every(config.reapIntervalMs, "delayed promotion", () => promoteDelayed(ctx));
  every(10_000, "rate pruning", () => pruneRates(ctx));

  const hub = new WsHub(ctx, dispatcher, workers);
  const app = createApp({ ctx, dispatcher, workers }, hub);
  // The live dashboard: the SSE feed at /api/live and the Vite-built pages at /dashboard.
  const live = new LiveFeed(ctx, workers);
  app.route("/api", liveRoutes(live));
  app.route("/dashboard", dashboardRoutes(log));
  // The donate page at `/` (Vite-built from web-worker/ on first request), files under /assets/.
  app.route("/", donateRoutes(log));
  const server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: () => {},
  }, app.fetch);
  const port = server.addr.port;
  const host = config.hostname === "0.0.0.0" ? "127.0.0.1" : config.hostname;
  log.info("coordinator listening", { url: `http://${host}:${port}`, db: config.db });

  return {
    url: `http://${host}:${port}`,
    port,
    ctx,
    dispatcher,
    workers,
    hub,
    async close() {
      closing = true;
      for (const t of timers) clearInterval(t);
      await hub.closeAll();
      live.close();
      await server.shutdown();
      await ctx.committer.commit({ checks: [], mutations: [] }).catch(() => {});
      kv.close();
      await watching;
    },
  };
}
