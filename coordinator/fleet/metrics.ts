/**
 * Prometheus metrics of one coordinator, with prom-client (it runs under Deno as it is).
 *
 * Two scopes, named in every metric's HELP text:
 * - fleet-wide, read from the KV that every coordinator on it shares (task counts by status,
 *   type and queue; rates; workers online by kind; reputation votes). Any one coordinator's
 *   scrape gives the same figures: use `max` across coordinators, never `sum`.
 * - this process: histograms (claim, queue wait, run time), attempt outcomes, lease expiries,
 *   retries, verification decisions, sockets, the committer's totals and process memory. These
 *   are what this coordinator saw: `sum` them across coordinators.
 *
 * Process-local figures come from events that exist already (`Signals.onLeaseEnded`,
 * `onTaskEnded`) and from one observer call in the dispatcher (`ctx.metrics.claimed`), so the
 * transitions themselves know nothing of metrics.
 *
 * @module
 */
import client from "prom-client";
import type { Task } from "../../shared/protocol.ts";
import { counterValue } from "../store/committer.ts";
import type { Ctx } from "../context.ts";
import { countPrefix, rateKey, type RateKind, repPrefix } from "../store/keys.ts";
import type { WorkerRegistry } from "./workers.ts";

/** What the dispatcher tells the metrics (an optional field of `Ctx`). */
export interface ClaimObserver {
  /** A claim attempt granted `leases` leases in `ms` (from its start or its last wake-up). */
  claimed(kind: string, leases: number, ms: number): void;
}

/** What the metrics read from the socket hub. */
export interface SocketCounts {
  socketsByKind(): Record<string, number>;
}

export interface Metrics extends ClaimObserver {
  registry: client.Registry;
  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string>;
  contentType: string;
  close(): void;
}

/** Rates are the mean of this many whole seconds before the current one. */
export const RATE_SECONDS = 10;
/** One scrape reads the KV once, whichever gauges ask. */
const FLEET_CACHE_MS = 500;
const FLEET = "all coordinators on this KV";
const LOCAL = "this coordinator process";

const CLAIM_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const WAIT_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const RUN_BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

/** The process metrics prom-client collects that mean something under Deno. */
const DEFAULT_METRICS = [
  "process_cpu_user_seconds_total",
  "process_cpu_system_seconds_total",
  "process_cpu_seconds_total",
  "process_start_time_seconds",
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_open_fds",
  "process_max_fds",
  "nodejs_heap_size_total_bytes",
  "nodejs_heap_size_used_bytes",
  "nodejs_external_memory_bytes",
];

interface Fleet {
  tasks: Array<{ type: string; queue: string; status: string; n: number }>;
  rates: Record<RateKind, number>;
  workers: Record<string, number>;
  votes: Array<{ subject: string; vote: string; n: number }>;
}

/**
 * Builds the metrics of one coordinator and starts listening to its signals.
 *
 * @example
 * ```ts
 * const metrics = createMetrics(ctx, { workers, hub });
 * ctx.metrics = metrics;
 * app.route("/", metricsRoutes(metrics));
 * ```
 */
export function createMetrics(
  ctx: Ctx,
  sources: { workers: WorkerRegistry; hub: SocketCounts; version?: string },
): Metrics {
  const registry = new client.Registry();
  const registers = [registry];

  // prom-client's event-loop lag and GC metrics rely on Node hooks Deno lacks (they print
  // nonsense), so only the process and heap figures are taken from its default set.
  const defaults = new client.Registry();
  client.collectDefaultMetrics({ register: defaults, eventLoopMonitoringPrecision: 1000 });
  for (const name of DEFAULT_METRICS) {
    const m = defaults.getSingleMetric(name);
    if (m) registry.registerMetric(m);
  }

  let fleet: { at: number; value: Promise<Fleet> } | null = null;
  const readFleet = (): Promise<Fleet> => {
    const now = ctx.now();
    if (!fleet || now - fleet.at > FLEET_CACHE_MS) {
      fleet = { at: now, value: loadFleet(ctx, sources.workers) };
      fleet.value.catch(() => (fleet = null));
    }
    return fleet.value;
  };

  new client.Gauge({
    name: "tessera_tasks",
    help: `Tasks by type, queue and status (${FLEET}).`,
    labelNames: ["type", "queue", "status"],
    registers,
    async collect() {
      this.reset();
      for (const t of (await readFleet()).tasks) {
        this.set({ type: t.type, queue: t.queue, status: t.status }, t.n);
      }
    },
  });
  new client.Gauge({
    name: "tessera_tasks_per_second",
    help: `Tasks submitted, completed and failed per second, mean of the last ${RATE_SECONDS} ` +
      `whole seconds (${FLEET}).`,
    labelNames: ["kind"],
    registers,
    async collect() {
      const { rates } = await readFleet();
      for (const [kind, v] of Object.entries(rates)) this.set({ kind }, v);
    },
  });
  new client.Gauge({
    name: "tessera_workers_online",
    help: `Workers seen within --worker-offline-ms, by kind (${FLEET}).`,
    labelNames: ["kind"],
    registers,
    async collect() {
      const { workers } = await readFleet();
      for (const [kind, n] of Object.entries(workers)) this.set({ kind }, n);
    },
  });
  new client.Counter({
    name: "tessera_reputation_votes_total",
    help: `Verification judgements of workers and donors: agree or disagree with the accepted ` +
      `result (${FLEET}).`,
    labelNames: ["subject", "vote"],
    registers,
    async collect() {
      this.reset();
      for (const v of (await readFleet()).votes) {
        this.inc({ subject: v.subject, vote: v.vote }, v.n);
      }
    },
  });

  const claimSeconds = new client.Histogram({
    name: "tessera_claim_duration_seconds",
    help: `Time a claim that got work took, from its start or its last wake-up to its leases, ` +
      `by worker kind (${LOCAL}).`,
    labelNames: ["kind"],
    buckets: CLAIM_BUCKETS,
    registers,
  });
  const leasesGranted = new client.Counter({
    name: "tessera_leases_granted_total",
    help: `Leases granted, by worker kind (${LOCAL}).`,
    labelNames: ["kind"],
    registers,
  });
  const queueWait = new client.Histogram({
    name: "tessera_queue_wait_seconds",
    help: `For each task that ended: from ready (submit or runAt) to the claim of its last ` +
      `attempt (${LOCAL}).`,
    labelNames: ["type", "queue"],
    buckets: WAIT_BUCKETS,
    registers,
  });
  const runSeconds = new client.Histogram({
    name: "tessera_run_duration_seconds",
    help: `Attempts from claim to their end, by type and outcome (${LOCAL}).`,
    labelNames: ["type", "outcome"],
    buckets: RUN_BUCKETS,
    registers,
  });
  const attemptsEnded = new client.Counter({
    name: "tessera_attempts_ended_total",
    help: `Attempts that ended, by type and outcome: completed, failed, expired, released, ` +
      `cancelled (${LOCAL}).`,
    labelNames: ["type", "outcome"],
    registers,
  });
  const expiries = new client.Counter({
    name: "tessera_lease_expiries_total",
    help: `Leases that expired without a report or heartbeat, by type (${LOCAL}).`,
    labelNames: ["type"],
    registers,
  });
  const retries = new client.Counter({
    name: "tessera_retries_total",
    help: `Attempts that failed or expired and left the task pending for another one, by type ` +
      `and reason (${LOCAL}).`,
    labelNames: ["type", "reason"],
    registers,
  });
  const tasksEnded = new client.Counter({
    name: "tessera_tasks_ended_total",
    help: `Tasks that reached a final status, by type, queue and status (${LOCAL}).`,
    labelNames: ["type", "queue", "status"],
    registers,
  });
  const verification = new client.Counter({
    name: "tessera_verification_decisions_total",
    help: `Verification decisions, by type and outcome: agreed (a quorum task completed), ` +
      `failed (no agreement within maxReplicas, or a wrong spot-check answer) (${LOCAL}).`,
    labelNames: ["type", "outcome"],
    registers,
  });
  new client.Gauge({
    name: "tessera_sockets",
    help: `Open worker sockets by kind; "unknown" before the hello (${LOCAL}).`,
    labelNames: ["kind"],
    registers,
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(sources.hub.socketsByKind())) this.set({ kind }, n);
    },
  });
  const committerCounter = (
    name: string,
    help: string,
    read: () => number,
  ) =>
    new client.Counter({
      name: `tessera_committer_${name}`,
      help: `${help} (${LOCAL}).`,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const stats = ctx.committer.stats;
  committerCounter("commits_total", "KV atomic operations committed", () => stats.commits);
  committerCounter(
    "intents_total",
    "Intents (transitions) committed or refused",
    () => stats.intents,
  );
  committerCounter(
    "conflicts_total",
    "Intents refused because a check failed (a lost race)",
    () => stats.conflicts,
  );
  committerCounter(
    "lock_retries_total",
    "Commits retried because another process held the KV write lock",
    () => stats.lockRetries,
  );
  committerCounter("mutations_total", "KV mutations committed", () => stats.mutations);
  committerCounter(
    "commit_seconds_total",
    "Time spent waiting for KV commits",
    () => stats.commitMs / 1000,
  );
  new client.Gauge({
    name: "tessera_coordinator_info",
    help: `Always 1; labels say which coordinator answered (${LOCAL}).`,
    labelNames: ["version", "pid"],
    registers,
  }).set({ version: sources.version ?? "unknown", pid: String(Deno.pid) }, 1);

  const seconds = (ms: number) => Math.max(0, ms) / 1000;
  const offLease = ctx.signals.onLeaseEnded((leaseId, task) => {
    const a = task.history.findLast((h) => h.leaseId === leaseId);
    // A replica made stale by a decision leaves no attempt of its own.
    if (!a) return;
    const type = task.type;
    attemptsEnded.inc({ type, outcome: a.outcome });
    runSeconds.observe({ type, outcome: a.outcome }, seconds(a.endedAt - a.startedAt));
    if (a.outcome === "expired") expiries.inc({ type });
    if ((a.outcome === "failed" || a.outcome === "expired") && task.status === "pending") {
      retries.inc({ type, reason: a.outcome });
    }
  });
  const offTask = ctx.signals.onTaskEnded((task: Task) => {
    tasksEnded.inc({ type: task.type, queue: task.queue, status: task.status });
    if (task.claimedAt !== null) {
      queueWait.observe(
        { type: task.type, queue: task.queue },
        seconds(task.claimedAt - Math.max(task.createdAt, task.runAt)),
      );
    }
    if (task.status === "completed" && task.verification.mode === "quorum") {
      verification.inc({ type: task.type, outcome: "agreed" });
    } else if (task.error?.code === "verification") {
      verification.inc({ type: task.type, outcome: "failed" });
    }
  });

  return {
    registry,
    contentType: registry.contentType,
    text: () => registry.metrics(),
    claimed(kind, leases, ms) {
      claimSeconds.observe({ kind }, seconds(ms));
      leasesGranted.inc({ kind }, leases);
    },
    close() {
      offLease();
      offTask();
      registry.clear();
      defaults.clear();
    },
  };
}

async function loadFleet(ctx: Ctx, workers: WorkerRegistry): Promise<Fleet> {
  const tasks: Fleet["tasks"] = [];
  for await (const e of ctx.kv.list({ prefix: countPrefix() })) {
    const [, type, queue, status] = e.key as [string, string, string, string];
    tasks.push({ type, queue, status, n: counterValue(e.value) });
  }
  const nowS = Math.floor(ctx.now() / 1000);
  const rate = async (kind: RateKind) => {
    let sum = 0;
    const iter = ctx.kv.list({
      start: rateKey(kind, nowS - RATE_SECONDS),
      end: rateKey(kind, nowS),
    });
    for await (const e of iter) sum += counterValue(e.value);
    return sum / RATE_SECONDS;
  };
  const [submitted, completed, failed, list] = await Promise.all([
    rate("submitted"),
    rate("completed"),
    rate("failed"),
    workers.list(),
  ]);
  const online: Record<string, number> = { deno: 0, browser: 0, other: 0 };
  for (const w of list) if (w.online) online[w.kind] = (online[w.kind] ?? 0) + 1;
  const votes = new Map<string, { subject: string; vote: string; n: number }>();
  for await (const e of ctx.kv.list({ prefix: repPrefix() })) {
    const [, kind, , vote] = e.key as [string, string, string, string];
    const subject = kind === "d" ? "donor" : "worker";
    const k = `${subject}/${vote}`;
    const v = votes.get(k) ?? votes.set(k, { subject, vote, n: 0 }).get(k)!;
    v.n += counterValue(e.value);
  }
  return {
    tasks,
    rates: { submitted, completed, failed },
    workers: online,
    votes: [...votes.values()],
  };
}
