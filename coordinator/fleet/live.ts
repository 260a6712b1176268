/**
 * The live feed behind the dashboard. Once a second, while anyone listens, it builds one snapshot
 * (counts, per-second rates, workers online with their rates, queue-wait and run-time
 * percentiles, recent failures), serializes it once and hands the same Server-Sent Events text to
 * every subscriber. Every task that ends in this process also becomes a `task` event, batched for
 * a few milliseconds and serialized once per task type, so many dashboards cost little more than
 * one.
 *
 * @module
 */
import type {
  LiveFailure,
  LiveSnapshot,
  LiveTaskEvent,
  LiveWorker,
  Percentiles,
  Stall,
  Task,
  TypeLatency,
  WorkerKind,
  WorkerState,
} from "../../shared/protocol.ts";
import { type Ctx, getMany } from "../context.ts";
import { decodeFailedKey, failedPrefix, leasePrefix, taskKey } from "../store/keys.ts";
import type { LeaseRecord } from "../store/task_view.ts";
import { readBacklog } from "./backlog.ts";
import { readStats } from "./stats.ts";
import type { WorkerRecord, WorkerRegistry } from "./workers.ts";
import { type EndedTask, taskTimings } from "./ended_log.ts";

export const WORKER_RATE_WINDOW_S = 10;
export const MAX_LISTED_WORKERS = 50;
/** Workers that left are listed this long after (crashed ones must not vanish at once). */
const LEFT_LISTED_MS = 24 * 3600_000;
const STATE_ORDER: WorkerState[] = ["busy", "idle", "draining", "crashed", "offline"];
const MAX_FAILURES = 20;
const SAMPLE_CAPACITY = 4096;

export interface LiveFeedOptions {
  /** How often a snapshot is sent. @default {1000} */
  intervalMs?: number;
  /** How far back the percentiles look. @default {300000} */
  latencyWindowMs?: number;
  /** How long task events are gathered before they are written. @default {50} */
  flushMs?: number;
  /** Tasks other coordinators on the store ended since the last call (see `ended_log.ts`). */
  foreign?: () => Promise<EndedTask[]>;
  /** Workers connected to this coordinator's socket hub, with leases held and slots. */
  connected?: () => Map<string, { held: number; capacity: number }>;
}

/** One listener: `send` gets ready-to-write SSE text, `end` is called when the feed closes. */
export interface LiveSubscriber {
  send(chunk: string): void;
  end(): void;
  /** Only task events of these types (all when absent). */
  types?: ReadonlySet<string> | undefined;
}

/** Formats one Server-Sent Event. JSON never contains a raw newline, so one data line is enough. */
export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * The dashboard feed of one coordinator process.
 *
 * @example
 * ```ts
 * const feed = new LiveFeed(ctx, workers);
 * const unsubscribe = feed.subscribe({ send: (text) => stream.write(text), end: () => {} });
 * // ... later
 * unsubscribe();
 * feed.close();
 * ```
 */
export class LiveFeed {
  #ctx: Ctx;
  #workers: WorkerRegistry;
  #intervalMs: number;
  #latencyWindowMs: number;
  #flushMs: number;
  #subscribers = new Set<LiveSubscriber>();
  #offTaskEnded: () => void;
  #timer: ReturnType<typeof setInterval> | null = null;
  #flushTimer: ReturnType<typeof setTimeout> | null = null;
  #ticking = false;
  #closed = false;
  #latest: { snapshot: LiveSnapshot; chunk: string } | null = null;
  #queueWait = new SampleWindow(SAMPLE_CAPACITY);
  #run = new SampleWindow(SAMPLE_CAPACITY);
  #verify = new SampleWindow(SAMPLE_CAPACITY);
  #byType = new Map<string, { queueWait: SampleWindow; run: SampleWindow; verify: SampleWindow }>();
  /** Failed tasks as (at, type, code), for the counts over the latency window. */
  #failedRecent: Array<{ at: number; type: string; code: string }> = [];
  #connected: LiveFeedOptions["connected"];
  /** The last time anything was claimed or ended (here or, through its ends, elsewhere). */
  #lastProgress: number;
  #lastProcessing = -1;
  #stallSince: number | null = null;
  #workerRates = new Map<string, SecondCounter>();
  #kinds = new Map<string, WorkerKind>();
  #kindLookups = new Map<string, Promise<WorkerKind | null>>();
  #failures: LiveFailure[] = [];
  #failuresSeeded = false;
  #foreign: (() => Promise<EndedTask[]>) | undefined;
  /** Serialized task events waiting for the next flush, per task type. */
  #pending = new Map<string, string[]>();

  constructor(ctx: Ctx, workers: WorkerRegistry, options: LiveFeedOptions = {}) {
    this.#ctx = ctx;
    this.#workers = workers;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#latencyWindowMs = options.latencyWindowMs ?? 300_000;
    this.#flushMs = options.flushMs ?? 50;
    this.#foreign = options.foreign;
    this.#connected = options.connected;
    this.#lastProgress = ctx.now();
    this.#offTaskEnded = ctx.signals.onTaskEnded((task) => this.#taskEnded(task));
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /**
   * Adds a listener. It gets the latest snapshot at once (or as soon as one is built), then one
   * a second, and the task events. Returns the function that removes it.
   */
  subscribe(subscriber: LiveSubscriber): () => void {
    if (this.#closed) {
      subscriber.end();
      return () => {};
    }
    this.#subscribers.add(subscriber);
    if (this.#latest && this.#ctx.now() - this.#latest.snapshot.at < this.#intervalMs) {
      subscriber.send(this.#latest.chunk);
    } else {
      this.#tick();
    }
    this.#timer ??= setInterval(() => this.#tick(), this.#intervalMs);
    return () => {
      this.#subscribers.delete(subscriber);
      if (this.#subscribers.size === 0) this.#stopTimers();
    };
  }

  /** Told of every claim in this process that got work (the stall alert's evidence). */
  claimed(): void {
    this.#lastProgress = this.#ctx.now();
  }

  /** The kind of a worker seen by this feed (from the registry), if known. */
  kindOf(workerId: string): WorkerKind | undefined {
    return this.#kinds.get(workerId);
  }

  /** Builds a snapshot now (the feed sends one a second on its own). */
  async snapshot(): Promise<LiveSnapshot> {
    await this.#seedFailures();
    const connected = this.#connected?.() ?? new Map();
    // A worker connected here is seen, whether or not it is given work: it never drops off.
    for (const id of connected.keys()) this.#workers.seen(id);
    const records = await this.#workers.records();
    const now = this.#ctx.now();
    const nowS = Math.floor(now / 1000);
    const since = now - this.#ctx.config.workerOfflineMs;
    const online: Record<WorkerKind, number> = { deno: 0, browser: 0, other: 0 };
    const states: Record<WorkerState, number> = {
      busy: 0,
      idle: 0,
      draining: 0,
      offline: 0,
      crashed: 0,
    };
    const list: LiveWorker[] = [];
    const idleTakers: WorkerRecord[] = [];
    const takers: WorkerRecord[] = [];
    this.#kinds.clear();
    for (const w of records) {
      this.#kinds.set(w.id, w.kind);
      const here = connected.get(w.id);
      const rate = this.#workerRates.get(w.id)?.rate(nowS) ?? 0;
      let state = workerState(w, here, since);
      // A worker over HTTP holds nothing we can see: finishing tasks, it is busy.
      if (state === "idle" && !here && rate > 0) state = "busy";
      if (now - w.lastSeen > LEFT_LISTED_MS && (state === "offline" || state === "crashed")) {
        continue;
      }
      states[state]++;
      if (state === "busy" || state === "idle" || state === "draining") {
        online[w.kind]++;
        takers.push(w);
        if (state === "idle") idleTakers.push(w);
      }
      list.push({
        id: w.id,
        kind: w.kind,
        rate,
        completed: 0,
        failed: 0,
        meanRunMs: null,
        lastSeen: w.lastSeen,
        state,
        types: w.types,
        concurrency: w.concurrency,
        held: here?.held ?? null,
        lastError: w.lastError ?? null,
      });
    }
    for (const [id, counter] of this.#workerRates) {
      if (counter.idleSince(nowS) > 60) this.#workerRates.delete(id);
    }
    list.sort((a, b) =>
      STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state) || b.rate - a.rate ||
      b.lastSeen - a.lastSeen
    );
    const shown = list.slice(0, MAX_LISTED_WORKERS);
    await this.#addWorkerStats(shown);
    // Read together, so the totals and the backlog describe one moment.
    const [stats, backlog] = await Promise.all([
      readStats(this.#ctx, 0),
      readBacklog(this.#ctx, takers),
    ]);
    const windowStart = now - this.#latencyWindowMs;
    const processing = stats.status.processing ?? 0;
    if (processing !== this.#lastProcessing) this.#lastProgress = now;
    this.#lastProcessing = processing;
    const stall = await this.#stall(now, backlog, idleTakers, connected);
    this.#failedRecent = this.#failedRecent.filter((f) => f.at >= windowStart);
    const failureCounts = new Map<string, { type: string; code: string; count: number }>();
    for (const f of this.#failedRecent) {
      const key = `${f.type}\u0001${f.code}`;
      const c = failureCounts.get(key) ?? { type: f.type, code: f.code, count: 0 };
      c.count++;
      failureCounts.set(key, c);
    }
    const byType: Record<string, TypeLatency> = {};
    for (const [type, w] of this.#byType) {
      const l = {
        queueWait: w.queueWait.percentiles(windowStart),
        run: w.run.percentiles(windowStart),
        verify: w.verify.percentiles(windowStart),
      };
      if (l.queueWait.count + l.run.count + l.verify.count > 0) byType[type] = l;
    }
    return {
      at: now,
      stats: { ...stats, workersOnline: online.deno + online.browser + online.other },
      workers: { online, states, list: shown, rateWindowS: WORKER_RATE_WINDOW_S },
      latency: {
        windowMs: this.#latencyWindowMs,
        queueWait: this.#queueWait.percentiles(windowStart),
        run: this.#run.percentiles(windowStart),
        verify: this.#verify.percentiles(windowStart),
        byType,
      },
      backlog,
      stall,
      failures: [...this.#failures],
      failureCounts: [...failureCounts.values()].sort((a, b) => b.count - a.count),
      stallAlertMs: this.#ctx.config.stallAlertMs,
    };
  }

  /**
   * Work is ready that an idle online worker takes, and nothing was claimed or ended for
   * `stallAlertMs`: say so, with when it began.
   */
  async #stall(
    now: number,
    backlog: LiveSnapshot["backlog"],
    candidates: WorkerRecord[],
    connected: ReadonlyMap<string, unknown>,
  ): Promise<Stall | null> {
    const takes = (w: WorkerRecord, type: string) => w.types.length === 0 || w.types.includes(type);
    let idle = candidates;
    let stuck = backlog.filter((r) => r.ready > 0 && idle.some((w) => takes(w, r.type)));
    if (stuck.length === 0 || now - this.#lastProgress < this.#ctx.config.stallAlertMs) {
      this.#stallSince = null;
      return null;
    }
    // Only now (a quiet grid with ready work): a worker over HTTP looks idle to us whatever it
    // holds, so the leases say which of them are busy. A scan of the running tasks, bounded.
    const remote = idle.filter((w) => !connected.has(w.id));
    if (remote.length > 0) {
      const holders = new Set<string>();
      const iter = this.#ctx.kv.list<LeaseRecord>({ prefix: leasePrefix() }, { limit: 10_000 });
      for await (const e of iter) holders.add(e.value.workerId);
      idle = idle.filter((w) => connected.has(w.id) || !holders.has(w.id));
      stuck = stuck.filter((r) => idle.some((w) => takes(w, r.type)));
      if (stuck.length === 0) {
        this.#stallSince = null;
        return null;
      }
    }
    // Since the last claim or end: a stall that began before some progress is a new one.
    this.#stallSince ??= this.#lastProgress;
    return {
      since: this.#stallSince,
      ready: stuck.reduce((a, r) => a + r.ready, 0),
      idle: idle.filter((w) => stuck.some((r) => takes(w, r.type))).length,
      types: [...new Set(stuck.map((r) => r.type))],
    };
  }

  /** Completed and failed counts of the listed workers (a few reads each). */
  async #addWorkerStats(list: LiveWorker[]): Promise<void> {
    await Promise.all(list.map(async (w) => {
      const info = await this.#workers.stats(w.id);
      w.completed = info.completed;
      w.failed = info.failed;
      w.meanRunMs = info.meanRunMs;
    }));
  }

  /** Stops the timers, forgets the signals and ends every subscriber. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#offTaskEnded();
    this.#stopTimers();
    const subscribers = [...this.#subscribers];
    this.#subscribers.clear();
    for (const s of subscribers) s.end();
  }

  #stopTimers(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#timer = null;
    this.#flushTimer = null;
    this.#pending.clear();
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    this.#ticking = true;
    try {
      // Tasks other coordinators on the store ended count here too: one fleet, one view.
      for (const t of (await this.#foreign?.()) ?? []) this.#taskEnded(t);
      const snapshot = await this.snapshot();
      if (this.#closed) return;
      const chunk = sseEvent("stats", snapshot);
      this.#latest = { snapshot, chunk };
      for (const s of this.#subscribers) s.send(chunk);
    } catch (e) {
      if (!this.#closed) this.#ctx.log.warn("live snapshot failed", { error: String(e) });
    } finally {
      this.#ticking = false;
    }
  }

  #taskEnded(task: EndedTask): void {
    const now = this.#ctx.now();
    this.#lastProgress = now;
    const timings = "history" in task ? taskTimings(task as Task) : {
      runMs: task.runMs ?? null,
      verifyMs: task.verifyMs ?? null,
    };
    let perType = this.#byType.get(task.type);
    if (!perType) {
      perType = {
        queueWait: new SampleWindow(512),
        run: new SampleWindow(512),
        verify: new SampleWindow(512),
      };
      this.#byType.set(task.type, perType);
    }
    if (task.claimedAt !== null) {
      const wait = Math.max(0, task.claimedAt - Math.max(task.createdAt, task.runAt));
      this.#queueWait.push(now, wait);
      perType.queueWait.push(now, wait);
      if (task.status === "completed" && timings.runMs !== null) {
        this.#run.push(now, timings.runMs);
        perType.run.push(now, timings.runMs);
      }
      if (task.status === "completed" && timings.verifyMs !== null) {
        this.#verify.push(now, timings.verifyMs);
        perType.verify.push(now, timings.verifyMs);
      }
    }
    if (task.status === "failed") {
      this.#failedRecent.push({ at: now, type: task.type, code: task.error?.code ?? "handler" });
      if (this.#failedRecent.length > 10_000) this.#failedRecent.splice(0, 5_000);
      if (task.workerId && task.error) this.#workers.noteError(task.workerId, task.error);
    }
    if (task.status === "completed" && task.workerId) {
      const nowS = Math.floor(now / 1000);
      let counter = this.#workerRates.get(task.workerId);
      if (!counter) this.#workerRates.set(task.workerId, counter = new SecondCounter());
      counter.add(nowS);
    }
    if (task.status === "failed") {
      this.#failures.unshift(failureOf(task, now));
      if (this.#failures.length > MAX_FAILURES) this.#failures.length = MAX_FAILURES;
    }
    if (this.#subscribers.size > 0) this.#emitTask(task);
  }

  #emitTask(task: EndedTask): void {
    const event = (workerKind: WorkerKind | null): LiveTaskEvent => ({
      id: task.id,
      type: task.type,
      status: task.status,
      workerId: task.workerId,
      workerKind,
    });
    const id = task.workerId;
    const known = id === null ? null : this.#kinds.get(id);
    if (known !== undefined) return this.#queueTask(task.type, event(known));
    this.#lookupKind(id!).then((kind) => this.#queueTask(task.type, event(kind)));
  }

  /** A worker not in the last snapshot's list: ask the registry once, remember the answer. */
  #lookupKind(id: string): Promise<WorkerKind | null> {
    let lookup = this.#kindLookups.get(id);
    if (!lookup) {
      lookup = this.#workers.get(id).then(
        (info) => {
          if (info) this.#kinds.set(id, info.kind);
          return info?.kind ?? null;
        },
        () => null,
      ).finally(() => this.#kindLookups.delete(id));
      this.#kindLookups.set(id, lookup);
    }
    return lookup;
  }

  #queueTask(type: string, event: LiveTaskEvent): void {
    if (this.#closed || this.#subscribers.size === 0) return;
    let list = this.#pending.get(type);
    if (!list) this.#pending.set(type, list = []);
    list.push(sseEvent("task", event));
    this.#flushTimer ??= setTimeout(() => this.#flush(), this.#flushMs);
  }

  #flush(): void {
    this.#flushTimer = null;
    const byType = new Map([...this.#pending].map(([type, list]) => [type, list.join("")]));
    this.#pending.clear();
    let all: string | null = null;
    for (const s of this.#subscribers) {
      if (!s.types) {
        all ??= [...byType.values()].join("");
        s.send(all);
        continue;
      }
      let chunk = "";
      for (const type of s.types) chunk += byType.get(type) ?? "";
      if (chunk) s.send(chunk);
    }
  }

  /** The failures list starts from the failed index, so it survives a restart. */
  async #seedFailures(): Promise<void> {
    if (this.#failuresSeeded) return;
    this.#failuresSeeded = true;
    const ids: string[] = [];
    const iter = this.#ctx.kv.list({ prefix: failedPrefix() }, {
      reverse: true,
      limit: MAX_FAILURES,
    });
    for await (const e of iter) ids.push(decodeFailedKey(e.key).id);
    const known = new Set(this.#failures.map((f) => f.id));
    const tasks = await getMany<Task>(
      this.#ctx.kv,
      ids.filter((id) => !known.has(id)).map(taskKey),
    );
    const seeded = tasks.flatMap((e) =>
      e.value?.status === "failed" ? [failureOf(e.value, e.value.completedAt ?? 0)] : []
    );
    this.#failures = [...this.#failures, ...seeded]
      .sort((a, b) => b.at - a.at)
      .slice(0, MAX_FAILURES);
  }
}

/** A worker's state from its record and its socket here, if any (see `WorkerState`). */
function workerState(
  w: WorkerRecord,
  here: { held: number; capacity: number } | undefined,
  onlineSince: number,
): WorkerState {
  if (here) {
    if (here.capacity === 0 && here.held > 0) return "draining";
    return here.held > 0 ? "busy" : "idle";
  }
  if (w.left) return w.left;
  return w.lastSeen >= onlineSince ? "idle" : "offline";
}

function failureOf(task: EndedTask, at: number): LiveFailure {
  return {
    id: task.id,
    type: task.type,
    code: task.error?.code ?? "handler",
    message: task.error?.message ?? "failed",
    at: task.completedAt ?? at,
  };
}

/** A ring of the latest samples with the time each was taken. */
class SampleWindow {
  #at: Float64Array;
  #value: Float64Array;
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#at = new Float64Array(capacity);
    this.#value = new Float64Array(capacity);
  }

  push(at: number, value: number): void {
    this.#at[this.#next] = at;
    this.#value[this.#next] = value;
    this.#next = (this.#next + 1) % this.#at.length;
    this.#size = Math.min(this.#size + 1, this.#at.length);
  }

  percentiles(since: number): Percentiles {
    const values: number[] = [];
    for (let i = 0; i < this.#size; i++) {
      if (this.#at[i] >= since) values.push(this.#value[i]);
    }
    if (values.length === 0) return { p50: null, p90: null, p99: null, count: 0 };
    values.sort((a, b) => a - b);
    const at = (q: number) => values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)];
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), count: values.length };
  }
}

/** Completions per second over the last {@link WORKER_RATE_WINDOW_S} seconds. */
class SecondCounter {
  #buckets = new Uint32Array(WORKER_RATE_WINDOW_S);
  #last = -Infinity;

  add(second: number): void {
    if (second > this.#last) {
      const gap = Math.min(second - this.#last, WORKER_RATE_WINDOW_S);
      for (let k = 0; k < gap; k++) this.#buckets[(second - k) % WORKER_RATE_WINDOW_S] = 0;
      this.#last = second;
    }
    if (second > this.#last - WORKER_RATE_WINDOW_S) this.#buckets[second % WORKER_RATE_WINDOW_S]++;
  }

  rate(now: number): number {
    let sum = 0;
    for (let s = now - WORKER_RATE_WINDOW_S + 1; s <= Math.min(now, this.#last); s++) {
      if (s > this.#last - WORKER_RATE_WINDOW_S) sum += this.#buckets[s % WORKER_RATE_WINDOW_S];
    }
    return sum / WORKER_RATE_WINDOW_S;
  }

  idleSince(now: number): number {
    return now - this.#last;
  }
}
