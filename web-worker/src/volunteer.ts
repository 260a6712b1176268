/**
 * The volunteer: the shared worker core and the WebSocket transport on the page's main thread,
 * the handlers in a pool of comlink task threads (Web Workers), so no computing ever happens on
 * the main thread. It runs while started and not held; each hold says why it does not:
 *
 * - `user`, `hidden`, `battery`: a soft pause. The capacity announced drops to 0, running
 *   attempts are aborted and their leases released (pending again at once, attempt not counted),
 *   and any lease still on its way is handed back as it arrives. The socket stays open.
 * - `frozen` (the page is frozen or going away): the socket is closed at once, synchronously, and
 *   the coordinator hands back every lease it held; a later thaw opens a new one.
 *
 * A socket that drops (coordinator unreachable) took its leases back with it: the attempts
 * running are dropped, and computing resumes once the transport has reconnected (with backoff).
 *
 * The capacity announced is the number of task threads ready for work: a thread resting for the
 * duty cycle is not counted, so the coordinator never pushes a lease that would have to wait for
 * it. While tasks are short, each thread holds a second lease, staged on it (see
 * {@link STAGE_BELOW_MS}).
 *
 * @module
 */
import {
  type BrowserExecutor,
  createBrowserExecutor,
  type PoolState,
} from "../../shared/worker/browser_executor.ts";
import type { HandlerSource } from "../../shared/worker/handler_source.ts";
import {
  STAGE_BELOW_MS,
  startWorkerCore,
  type WorkerCore,
  type WorkerEvent,
} from "../../shared/worker/worker_core.ts";
import { createWsTransport, type WsTransport } from "../../shared/worker/ws_transport.ts";
import { createBusyMeter } from "./busy_meter.ts";
import { type RunningTask, type RunTracker, trackRuns } from "./run_tracker.ts";

/** Why the volunteer is not computing although started. */
export type Hold = "user" | "hidden" | "battery" | "frozen";

/** The link to the coordinator, as the volunteer sees it. */
export type Link = "offline" | "connecting" | "open" | "reconnecting";

export interface VolunteerSnapshot {
  phase: "stopped" | "running" | "paused";
  holds: Hold[];
  link: Link;
  workerId: string;
  donorId: string;
  workers: number;
  /** Percent of the time a thread may compute. */
  duty: number;
  /** Threads running a task now. */
  busy: number;
  /** Threads busy on average over the last few seconds: the cores in use. */
  coresInUse: number;
  /** The attempts handed to the threads, oldest first (the first `busy` are running). */
  running: RunningTask[];
  /** Milliseconds since a thread last computed or rested (Infinity when none ever did). */
  idleMs: number;
  /** Milliseconds since computing last started or resumed (Infinity while it is not). */
  sinceStartMs: number;
  /** The threads are still loading: none can take a task yet. */
  warmingUp: boolean;
  /** Threads resting for the duty cycle. */
  resting: number;
  /** Results the coordinator accepted from this page. */
  completed: number;
  failed: number;
  /** Time spent computing accepted results, summed over threads. */
  computeMs: number;
  /** Task types running now. */
  types: string[];
  /** Accepted results per second over the last 10 s. */
  rate: number;
}

export interface VolunteerOptions {
  /** The coordinator's base URL: the page's origin. */
  url: string;
  /** Starts one task thread (the page's bundler must see the `new Worker(new URL(...))`). */
  spawn: () => Worker;
  donorId: string;
  workerId: string;
  workers: number;
  /** Percent, 1 … 100. */
  duty: number;
  /** Task types this page accepts; all when absent. */
  types?: readonly string[] | undefined;
  /** Where handler code comes from: the coordinator's signed manifest and bundles. */
  source: HandlerSource;
}

export interface Volunteer {
  /** Starts computing (the one click); also clears a pause by the user. */
  start(): void;
  pause(): void;
  resume(): void;
  /** Sets or clears one reason to hold. */
  hold(reason: Exclude<Hold, "frozen">, on: boolean): void;
  /** The page is frozen or going away: hand every lease back now, synchronously. */
  freeze(): void;
  /** The page is back (resumed, or restored from the back/forward cache). */
  thaw(): void;
  setWorkers(n: number): void;
  setDuty(percent: number): void;
  snapshot(): VolunteerSnapshot;
  /** Called on every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** Leases the socket may push at most (the protocol's limit of slots). */
const MAX_SLOTS = 256;
const RATE_WINDOW_MS = 10_000;

/**
 * Creates a volunteer, idle until {@link Volunteer.start}.
 *
 * @example
 * ```ts
 * const volunteer = createVolunteer({
 *   url: location.origin,
 *   spawn: () => new Worker(new URL("./task_thread.ts", import.meta.url), { type: "module" }),
 *   donorId, workerId, workers: 2, duty: 100,
 * });
 * volunteer.start();
 * ```
 */
export function createVolunteer(options: VolunteerOptions): Volunteer {
  const { donorId, workerId } = options;
  let workers = options.workers;
  let duty = options.duty;
  let started = false;
  const holds = new Set<Hold>();
  let executor: BrowserExecutor | null = null;
  let tracker: RunTracker | null = null;
  const meter = createBusyMeter();
  /** When a thread last computed or rested, or -Infinity. */
  let activeAt = -Infinity;
  let transport: WsTransport | null = null;
  /** The core taking new leases; `cores` also holds older ones finishing their attempts. */
  let core: WorkerCore | null = null;
  const cores = new Set<WorkerCore>();
  let drain: { stop: AbortController; done: Promise<void> } | null = null;
  let link: Link = "offline";
  let everOpen = false;
  /** The capacity last sent on the current socket. */
  let announced = 0;
  /** Recent run time of accepted tasks (moving average), for the prefetch. */
  let meanRunMs: number | null = null;
  const totals = { completed: 0, failed: 0, computeMs: 0 };
  let recent: number[] = [];
  /** When the current run began, so the first seconds' rate is not diluted. */
  let runningSince = 0;
  const listeners = new Set<() => void>();
  let chain: Promise<void> = Promise.resolve();

  const notify = () => {
    for (const l of [...listeners]) l();
  };
  const wanted = () => started && holds.size === 0;

  /** Leases wanted: the ready threads, plus one kept ready while tasks are short. */
  function capacity(): number {
    const ready = executor?.state().ready ?? 0;
    if (!core || ready === 0) return 0;
    // At full CPU share, short tasks are staged: each thread is sent its next task while one runs
    // and starts it the moment that one ends, instead of idling through the page's main thread
    // and the coordinator's round trip (a few ms, much next to a 50 ms task). One lease more per
    // thread waits in the transport, so the next one is staged at once even when the coordinator
    // is slow to push: it shares the cores being donated, and with one spare for the whole page
    // a 2-thread page found nothing staged after 1 task in 10 (50 ms tasks, 94–95 % efficiency;
    // 96 % with one each). Waiting never counts as compute. Longer tasks do not need it, and
    // below 100 % the rests hide the gap.
    const short = meanRunMs === null || meanRunMs < STAGE_BELOW_MS;
    return duty === 100 && short ? 3 * ready : ready;
  }

  function announce(): void {
    const slots = capacity();
    if (!transport || slots === announced) return;
    announced = slots;
    transport.setCapacity(slots);
  }

  function onPool(state: PoolState): void {
    // Synchronous on purpose: a lower capacity must leave before the report that frees a slot.
    announce();
    meter.set(state.busy);
    if (state.busy > 0 || state.resting > 0) activeAt = performance.now();
    notify();
  }

  function onEvent(event: WorkerEvent): void {
    if (event.type === "completed") {
      totals.completed++;
      totals.computeMs += event.runMs;
      meanRunMs = meanRunMs === null ? event.runMs : 0.8 * meanRunMs + 0.2 * event.runMs;
      recent.push(performance.now());
      activeAt = performance.now();
      announce();
    } else if (event.type === "failed") {
      totals.failed++;
    } else if (event.type !== "claimed") {
      return;
    }
    notify();
  }

  function connect(): WsTransport {
    // Status arrives during construction too, before `t` exists.
    let self: WsTransport | null = null;
    const t = createWsTransport({
      url: options.url,
      workerId,
      kind: "browser",
      types: options.types,
      capacity: Math.max(1, workers),
      // Shown on the dashboard: the workers, not the extra lease kept ready.
      concurrency: Math.max(1, workers),
      donorId,
      onStatus(status) {
        if (self !== null && transport !== self) return;
        if (status === "open") everOpen = true;
        link = status === "open" ? "open" : everOpen ? "reconnecting" : "connecting";
        // A closed socket took this page's leases back with it: the core restarts when it opens.
        update();
      },
      onCancel(_taskId, leaseId) {
        // Cancelled or expired on the coordinator: stop computing it now, not at the heartbeat.
        for (const c of cores) c.cancel(leaseId);
      },
    });
    self = t;
    t.setCapacity(0);
    announced = 0;
    return t;
  }

  /** While paused, hands back at once any lease that was already on its way. */
  function startDrain(t: WsTransport): void {
    const stop = new AbortController();
    const done = (async () => {
      while (!stop.signal.aborted && transport === t) {
        try {
          const leases = await t.claim({ max: MAX_SLOTS, waitMs: 30_000, signal: stop.signal });
          for (const l of leases) t.release(l.taskId, l.leaseId).catch(() => {});
        } catch {
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })();
    drain = { stop, done };
  }

  async function stopDrain(): Promise<void> {
    const d = drain;
    drain = null;
    d?.stop.abort();
    await d?.done;
  }

  /** A core with one slot per worker; the transport holds any lease announced beyond that. */
  function startCore(t: WsTransport, pool: RunTracker): WorkerCore {
    const c = startWorkerCore({
      transport: t,
      executor: pool.executor,
      concurrency: workers,
      maxOfflineMs: 0,
      onEvent,
    });
    cores.add(c);
    void c.done.then(() => {
      cores.delete(c);
      // Ended by itself (it never does with these options): the next change restarts it.
      if (core === c) core = null;
    });
    return c;
  }

  /** Stops every core now: attempts are aborted and their leases released. */
  function stopCores(): void {
    core = null;
    // Not awaited: releases travel on their own, and must not delay a resume.
    for (const c of cores) void c.stop({ graceMs: 0 });
  }

  async function apply(): Promise<void> {
    if (started && !holds.has("frozen") && !transport) transport = connect();
    const run = wanted() && link === "open";
    if (run && !core && transport) {
      await stopDrain();
      if (!wanted() || link !== "open" || core || !transport) return;
      executor ??= createBrowserExecutor({
        spawn: options.spawn,
        source: options.source,
        size: workers,
        duty: duty / 100,
        onChange: onPool,
      });
      tracker ??= trackRuns(executor);
      core = startCore(transport, tracker);
      runningSince = performance.now();
      meter.reset(runningSince);
      announce();
    } else if (!run && core) {
      stopCores();
      announce();
      if (transport) startDrain(transport);
    }
    notify();
  }

  function update(): void {
    chain = chain.then(apply).catch((e) => console.error("volunteer:", e));
  }

  return {
    start() {
      started = true;
      holds.delete("user");
      update();
    },
    pause() {
      holds.add("user");
      update();
    },
    resume() {
      holds.delete("user");
      update();
    },
    hold(reason, on) {
      if (on === holds.has(reason)) return;
      if (on) holds.add(reason);
      else holds.delete(reason);
      update();
    },
    freeze() {
      holds.add("frozen");
      const t = transport;
      transport = null;
      drain?.stop.abort();
      drain = null;
      // Closing the socket makes the coordinator release every lease it held, at once.
      t?.close();
      stopCores();
      link = "offline";
      update();
    },
    thaw() {
      if (!holds.delete("frozen")) return;
      update();
    },
    setWorkers(n) {
      workers = Math.max(1, Math.floor(n));
      executor?.resize(workers);
      if (core && transport && tracker) {
        // A core's slots are fixed: a new one takes over claiming, the old one finishes its work.
        const old = core;
        core = startCore(transport, tracker);
        void old.stop({ graceMs: Infinity });
      }
      announce();
      notify();
    },
    setDuty(percent) {
      duty = Math.min(100, Math.max(1, percent));
      executor?.setDuty(duty / 100);
      announce();
      notify();
    },
    snapshot() {
      const now = performance.now();
      recent = recent.filter((t) => now - t < RATE_WINDOW_MS);
      const pool = executor?.state();
      return {
        phase: !started ? "stopped" : wanted() ? "running" : "paused",
        holds: [...holds],
        link,
        workerId,
        donorId,
        workers,
        duty,
        busy: pool?.busy ?? 0,
        // Paused or stopped, nothing computes: no average of the time before.
        coresInUse: wanted() ? meter.average(now) : 0,
        running: tracker?.running().sort((a, b) => a.since - b.since) ?? [],
        idleMs: (pool?.busy ?? 0) + (pool?.resting ?? 0) > 0 ? 0 : now - activeAt,
        sinceStartMs: core ? now - runningSince : Infinity,
        warmingUp: !!core && !!pool && pool.ready + pool.busy + pool.resting === 0,
        resting: pool?.resting ?? 0,
        completed: totals.completed,
        failed: totals.failed,
        computeMs: totals.computeMs,
        types: [...new Set(executor?.types())].sort(),
        rate: recent.length /
          (Math.min(RATE_WINDOW_MS, Math.max(1000, now - runningSince)) / 1000),
      };
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
