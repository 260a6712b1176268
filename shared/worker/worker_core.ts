/**
 * The universal worker core (no `Deno.*`, no DOM): keeps `concurrency` slots busy with leases from
 * a {@link Transport}, runs each through an injected {@link Executor} (a thread pool in Deno or in
 * a browser), heartbeats the leases, reports outcomes, and stops cleanly.
 *
 * - Claims only as many leases as it has free slots, with one long-poll claim at a time, so an
 *   idle worker costs one request per `waitMs`; transport errors back off with jitter.
 * - Each attempt gets an AbortSignal: its `timeoutMs` (→ a retryable `timeout` error), a
 *   cancellation or a lost lease seen by a heartbeat (→ nothing reported), or shutdown (→ the
 *   lease is released, requeued at once without counting the attempt).
 * - No task outcome ever stops it: a handler that throws, times out or whose thread dies fails
 *   that attempt, and the core goes on. It stops only for its own trouble: the coordinator
 *   unreachable (every call failing) for longer than `maxOfflineMs`, or its credentials refused;
 *   after `maxTasks` claimed tasks; or on {@link WorkerCore.stop}.
 *
 * @module
 */
import { backoffDelay } from "../backoff.ts";
import type { Logger } from "../logger.ts";
import { type Lease, LIMITS, type TaskError } from "../protocol.ts";
import { type Transport, TransportError } from "./transport.ts";

/** How an attempt ended, as data (it may come from another thread). */
export type TaskOutcome =
  | { ok: true; result: unknown }
  | { ok: false; error: TaskError };

/** Why the core aborted an attempt; also the `reason` of the signal it hands the executor. */
export type AbortReason = "timeout" | "cancelled" | "stale" | "shutdown";

export interface RunOptions {
  /** Aborted with an {@link AbortReason}; the run must then settle promptly. */
  signal: AbortSignal;
  onProgress(fraction: number): void;
  /** The attempt began on a thread (called by executors that {@link Executor.stages}). */
  onStart?(): void;
}

/**
 * Runs one attempt somewhere (a thread pool). It is handed at most `concurrency` at once, or
 * twice that while it `stages`.
 */
export interface Executor {
  run(lease: Lease, options: RunOptions): Promise<TaskOutcome>;
  /**
   * It takes a second attempt per thread while one runs, sends it to that thread at once and
   * calls `onStart` when it begins, right after the first ends: a short task's next attempt then
   * never waits for a round trip through the worker's main thread (on a busy page, 4 ms of every
   * 50 ms task). Asked anew before every claim.
   */
  readonly stages?: boolean;
}

/** Tasks shorter than this (mean run time) are staged, when the executor can. */
export const STAGE_BELOW_MS = 2_000;

export type WorkerEvent =
  | { type: "claimed"; lease: Lease }
  | { type: "completed"; taskId: string; taskType: string; runMs: number }
  | { type: "failed"; taskId: string; taskType: string; runMs: number; error: TaskError }
  | { type: "released"; taskId: string; taskType: string }
  | { type: "abandoned"; taskId: string; taskType: string; reason: "cancelled" | "stale" }
  | { type: "transport_error"; message: string; consecutive: number; offlineMs: number }
  | { type: "stopping"; reason: StopReason; message: string };

export interface WorkerStats {
  startedAt: number;
  uptimeMs: number;
  claimed: number;
  /** Results the coordinator accepted. */
  completed: number;
  /** Failures reported (each may still be retried by the coordinator). */
  failed: number;
  /** Leases handed back unfinished at shutdown. */
  released: number;
  /** Attempts dropped because the task was cancelled or the lease was lost. */
  abandoned: number;
  running: number;
  /** Wall time spent running tasks, summed over slots. */
  busyMs: number;
  meanRunMs: number | null;
  /** Task type → attempts running now. */
  types: Record<string, number>;
  /** Transport errors since the last call that got through. */
  transportErrors: number;
}

/**
 * `offline`: every call to the coordinator failed for longer than `maxOfflineMs`;
 * `unauthorized`: it refused our credentials; `internal`: a bug in the core itself.
 */
export type StopReason = "stopped" | "max_tasks" | "offline" | "unauthorized" | "internal";

export interface WorkerResult {
  reason: StopReason;
  message: string;
  stats: WorkerStats;
}

export interface WorkerCoreOptions {
  transport: Transport;
  executor: Executor;
  /** Attempts run at once. */
  concurrency: number;
  /** Stop after claiming this many tasks; 0 for no limit. @default 0 */
  maxTasks?: number;
  /** Long-poll wait of one claim request, in ms. @default 30000 */
  waitMs?: number;
  /**
   * Stop once every call to the coordinator has failed for this long (ms); 0 never. Task
   * failures never count. @default 300000
   */
  maxOfflineMs?: number;
  /** Grace for in-flight tasks when the core stops itself (offline). @default 30000 */
  graceMs?: number;
  /** Backoff after a transport error: `baseMs · 2^(n-1)` up to `maxMs`, times 0.5 to 1. */
  backoff?: { baseMs: number; maxMs: number };
  log?: Logger;
  onEvent?: (event: WorkerEvent) => void;
}

export interface WorkerCore {
  /** Settles once the core has stopped and every report has been sent; never rejects. */
  done: Promise<WorkerResult>;
  /**
   * Stops claiming, lets in-flight attempts finish within `graceMs`, then aborts the rest and
   * releases their leases. Calling it again may shorten the grace.
   */
  stop(options?: { graceMs?: number }): Promise<WorkerResult>;
  stats(): WorkerStats;
  /**
   * Stops one attempt at once, without reporting it: the coordinator said the task was
   * cancelled (or the lease is no longer ours), pushed over a socket instead of learned at the
   * next heartbeat.
   */
  cancel(leaseId: string, reason?: "cancelled" | "stale"): void;
}

interface Running {
  lease: Lease;
  controller: AbortController;
  /** When it began to run (`performance.now()`); null while staged. */
  started: number | null;
  progress: number | undefined;
  finished: boolean;
  timeoutTimer: ReturnType<typeof setTimeout> | undefined;
  heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
}

/** Shortest pause after an empty claim, so `waitMs: 0` cannot spin. */
const MIN_IDLE_MS = 500;

/**
 * Starts a worker core; it runs until stopped.
 *
 * @example
 * ```ts
 * const core = startWorkerCore({ transport, executor, concurrency: 4 });
 * Deno.addSignalListener("SIGTERM", () => core.stop({ graceMs: 30_000 }));
 * const { reason, stats } = await core.done;
 * ```
 */
export function startWorkerCore(options: WorkerCoreOptions): WorkerCore {
  const { transport, executor, log } = options;
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const maxTasks = options.maxTasks ?? 0;
  const waitMs = Math.min(Math.max(0, options.waitMs ?? LIMITS.waitMs), LIMITS.waitMs);
  const maxOfflineMs = options.maxOfflineMs ?? 300_000;
  const backoff = options.backoff ?? { baseMs: 500, maxMs: 15_000 };
  const emit = (event: WorkerEvent) => {
    try {
      options.onEvent?.(event);
    } catch (e) {
      log?.warn("event listener threw", { error: String(e) });
    }
  };

  const startedAt = Date.now();
  const counts = { claimed: 0, completed: 0, failed: 0, released: 0, abandoned: 0, runs: 0 };
  let busyMs = 0;
  let transportErrors = 0;
  /** When the current run of transport errors began; null while calls get through. */
  let offlineSince: number | null = null;

  const running = new Map<string, Running>();
  const reports = new Set<Promise<void>>();
  const claimAbort = new AbortController();
  const stopSignal = new AbortController();
  let stopping: { reason: StopReason; message: string } | null = null;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let graceDeadline = Infinity;

  let wakeUp: (() => void) | null = null;
  const changed = () => new Promise<void>((resolve) => (wakeUp = resolve));
  const wake = () => {
    wakeUp?.();
    wakeUp = null;
  };

  function stats(): WorkerStats {
    const types: Record<string, number> = {};
    for (const r of running.values()) {
      types[r.lease.task.type] = (types[r.lease.task.type] ?? 0) + 1;
    }
    return {
      startedAt,
      uptimeMs: Date.now() - startedAt,
      claimed: counts.claimed,
      completed: counts.completed,
      failed: counts.failed,
      released: counts.released,
      abandoned: counts.abandoned,
      running: running.size,
      busyMs: Math.round(busyMs),
      meanRunMs: counts.runs > 0 ? busyMs / counts.runs : null,
      types,
      transportErrors,
    };
  }

  function requestStop(reason: StopReason, message: string, graceMs: number): void {
    if (!stopping) {
      stopping = { reason, message };
      log?.info("stopping", { reason, detail: message, running: running.size });
      emit({ type: "stopping", reason, message });
      claimAbort.abort("stopping");
      stopSignal.abort();
    }
    const deadline = Date.now() + graceMs;
    if (deadline < graceDeadline) {
      graceDeadline = deadline;
      clearTimeout(graceTimer);
      if (Number.isFinite(graceMs)) {
        graceTimer = setTimeout(() => {
          for (const r of running.values()) r.controller.abort("shutdown" satisfies AbortReason);
        }, Math.max(0, graceMs));
      }
    }
    wake();
  }

  function transportOk(): void {
    transportErrors = 0;
    offlineSince = null;
  }

  function transportFailed(what: string, e: unknown): void {
    if (e instanceof TransportError && e.kind === "unauthorized") {
      requestStop("unauthorized", `the coordinator refused the worker token: ${e.message}`, 0);
      return;
    }
    transportErrors++;
    offlineSince ??= Date.now();
    const offlineMs = Date.now() - offlineSince;
    const message = `${what}: ${e instanceof Error ? e.message : String(e)}`;
    log?.warn("transport error", { detail: message, consecutive: transportErrors, offlineMs });
    emit({ type: "transport_error", message, consecutive: transportErrors, offlineMs });
    if (maxOfflineMs > 0 && offlineMs >= maxOfflineMs) {
      requestStop(
        "offline",
        `the coordinator was unreachable for ${offlineMs} ms (limit ${maxOfflineMs} ms); last error: ${message}`,
        options.graceMs ?? 30_000,
      );
    }
  }

  function track(p: Promise<void>): void {
    const tracked = p.catch((e) => log?.error("unexpected error", { error: String(e) }))
      .finally(() => {
        reports.delete(tracked);
        wake();
      });
    reports.add(tracked);
  }

  /** Sleeps `ms`, or less if the core stops meanwhile. */
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (stopSignal.signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        stopSignal.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stopSignal.signal.addEventListener("abort", done, { once: true });
    });
  }

  function scheduleHeartbeat(r: Running, delayMs: number): void {
    if (r.finished) return;
    r.heartbeatTimer = setTimeout(() => void heartbeat(r), delayMs);
  }

  async function heartbeat(r: Running): Promise<void> {
    const interval = Math.max(50, r.lease.task.leaseMs / 3);
    const { taskId, leaseId } = r.lease;
    try {
      const outcome = await transport.heartbeat(taskId, leaseId, r.progress);
      if (r.finished) return;
      transportOk();
      if (outcome.ok) {
        scheduleHeartbeat(r, interval);
      } else {
        log?.info(`task ${outcome.reason}: stopping it`, { taskId, type: r.lease.task.type });
        r.controller.abort(outcome.reason satisfies AbortReason);
      }
    } catch (e) {
      if (r.finished) return;
      transportFailed(`heartbeat of ${taskId}`, e);
      // The lease still has two thirds of its time: try again sooner.
      scheduleHeartbeat(r, interval / 2);
    }
  }

  function start(lease: Lease): void {
    const r: Running = {
      lease,
      controller: new AbortController(),
      started: null,
      progress: undefined,
      finished: false,
      timeoutTimer: undefined,
      heartbeatTimer: undefined,
    };
    // Keyed by lease: replicas of one task (quorum verification) may come to the same worker.
    running.set(lease.leaseId, r);
    emit({ type: "claimed", lease });
    log?.debug("claimed", { taskId: lease.taskId, type: lease.task.type, attempt: lease.attempt });
    const untilExpiry = lease.expiresAt - Date.now();
    const leaseMs = untilExpiry > 0
      ? Math.min(lease.task.leaseMs, untilExpiry)
      : lease.task.leaseMs;
    // Heartbeats from now: a staged lease must not expire while it waits for its thread.
    scheduleHeartbeat(r, Math.max(50, leaseMs / 3));
    // The timeout, the run time and the donor's credit count from the start, not the staging.
    const began = () => {
      if (r.started !== null || r.finished) return;
      r.started = performance.now();
      r.timeoutTimer = setTimeout(
        () => r.controller.abort("timeout" satisfies AbortReason),
        Math.min(lease.task.timeoutMs, 2 ** 31 - 1),
      );
      transport.started?.(lease.taskId, lease.leaseId);
    };
    const staged = executor.stages === true;
    let outcome: Promise<TaskOutcome>;
    try {
      if (!staged) began();
      outcome = executor.run(lease, {
        signal: r.controller.signal,
        onProgress: (fraction) => (r.progress = fraction),
        ...(staged ? { onStart: began } : {}),
      });
    } catch (e) {
      outcome = Promise.reject(e);
    }
    track(
      outcome
        .catch((e): TaskOutcome => ({
          ok: false,
          error: { code: "internal", message: `executor failed: ${String(e)}`, retryable: true },
        }))
        .then((o) => finish(r, o)),
    );
  }

  async function finish(r: Running, outcome: TaskOutcome): Promise<void> {
    r.finished = true;
    clearTimeout(r.timeoutTimer);
    clearTimeout(r.heartbeatTimer);
    running.delete(r.lease.leaseId);
    // Never begun: stopped while staged.
    const runMs = r.started === null ? 0 : performance.now() - r.started;
    if (r.started !== null) {
      busyMs += runMs;
      counts.runs++;
    }
    wake();

    const { taskId, leaseId, task } = r.lease;
    const reason = r.controller.signal.aborted ? (r.controller.signal.reason as AbortReason) : null;
    if (reason === "cancelled" || reason === "stale") {
      counts.abandoned++;
      emit({ type: "abandoned", taskId, taskType: task.type, reason });
      return;
    }
    if (reason === "shutdown" && !outcome.ok) {
      try {
        const released = await transport.release(taskId, leaseId);
        if (released.ok) counts.released++;
        else log?.warn("release refused", { taskId, reason: released.reason });
        emit({ type: "released", taskId, taskType: task.type });
      } catch (e) {
        transportFailed(`release of ${taskId}`, e);
      }
      return;
    }
    let error: TaskError | null = null;
    if (reason === "timeout") {
      error = { code: "timeout", message: `timed out after ${task.timeoutMs} ms`, retryable: true };
    } else if (!outcome.ok) {
      error = outcome.error;
    } else if (jsonBytes(outcome.result) > LIMITS.resultBytes) {
      error = {
        code: "validation",
        message: `result is larger than ${LIMITS.resultBytes} bytes of JSON`,
        retryable: false,
      };
    }
    await report(r, runMs, error, outcome.ok ? outcome.result : undefined);
  }

  async function report(r: Running, runMs: number, error: TaskError | null, result: unknown) {
    const { taskId, leaseId, task } = r.lease;
    try {
      let sent = error === null
        ? await transport.complete(taskId, leaseId, result, runMs)
        : await transport.fail(taskId, leaseId, error);
      if (!sent.ok && sent.reason === "rejected" && error === null) {
        // The coordinator refused the result itself: the attempt failed, say so.
        error = { code: "validation", message: sent.message, retryable: false };
        sent = await transport.fail(taskId, leaseId, error);
      }
      transportOk();
      if (!sent.ok) {
        counts.abandoned++;
        log?.warn("report refused", { taskId, reason: sent.reason, detail: sent.message });
        return;
      }
    } catch (e) {
      transportFailed(`report of ${taskId}`, e);
      return;
    }
    if (error === null) {
      counts.completed++;
      emit({ type: "completed", taskId, taskType: task.type, runMs });
      log?.debug("completed", { taskId, type: task.type, runMs: Math.round(runMs) });
    } else {
      counts.failed++;
      emit({ type: "failed", taskId, taskType: task.type, runMs, error });
      log?.info("task failed", {
        taskId,
        type: task.type,
        code: error.code,
        detail: error.message,
      });
    }
  }

  /** Attempts the executor may hold now: one more per thread while short tasks are staged. */
  function slots(): number {
    const short = counts.runs > 0 && busyMs / counts.runs < STAGE_BELOW_MS;
    return executor.stages === true && short ? 2 * concurrency : concurrency;
  }

  /** Slots covered by claim requests in flight, and how many such requests there are. */
  let claiming = 0;
  let claimsInFlight = 0;
  /** The last claim found work: more may be queued, so freed slots claim at once. */
  let busy = false;

  /**
   * Claims for the free slots not yet covered by a claim in flight. While work flows, a slot
   * that frees claims at once even if another claim is still on its way; when idle or after an
   * error, one claim at a time, so idle costs one long-poll per `waitMs` and errors back off.
   */
  async function claimLoop(): Promise<void> {
    while (!stopping) {
      if (maxTasks > 0 && counts.claimed + claiming >= maxTasks) {
        if (claimsInFlight === 0 && counts.claimed >= maxTasks) {
          requestStop("max_tasks", `claimed ${counts.claimed} tasks (max ${maxTasks})`, Infinity);
          break;
        }
        await changed();
        continue;
      }
      let free = slots() - running.size - claiming;
      if (maxTasks > 0) free = Math.min(free, maxTasks - counts.claimed - claiming);
      if (free <= 0 || (claimsInFlight > 0 && (!busy || transportErrors > 0))) {
        await changed();
        continue;
      }
      claiming += free;
      claimsInFlight++;
      void claim(free).finally(() => {
        claiming -= free;
        claimsInFlight--;
        wake();
      });
    }
    while (claimsInFlight > 0) await changed();
  }

  /** One claim request for `max` slots; holds them while it backs off or idles. */
  async function claim(max: number): Promise<void> {
    const asked = Date.now();
    let leases: Lease[];
    try {
      leases = await transport.claim({ max, waitMs, signal: claimAbort.signal });
      transportOk();
    } catch (e) {
      if (stopping) return;
      busy = false;
      transportFailed("claim", e);
      if (stopping) return;
      await pause(backoffDelay(transportErrors, backoff));
      return;
    }
    counts.claimed += leases.length;
    busy = leases.length > 0;
    if (stopping) {
      // Arrived after the stop: hand them straight back.
      for (const lease of leases) {
        track(
          transport.release(lease.taskId, lease.leaseId).then((o) => {
            if (o.ok) counts.released++;
          }, (e) => transportFailed(`release of ${lease.taskId}`, e)),
        );
      }
      return;
    }
    for (const lease of leases) start(lease);
    const elapsed = Date.now() - asked;
    if (leases.length === 0 && elapsed < MIN_IDLE_MS) await pause(MIN_IDLE_MS - elapsed);
  }

  async function run(): Promise<WorkerResult> {
    try {
      await claimLoop();
    } catch (e) {
      log?.error("worker loop failed", { error: String(e) });
      requestStop("internal", `internal error: ${String(e)}`, options.graceMs ?? 30_000);
    }
    while (running.size > 0 || reports.size > 0) {
      await Promise.race([changed(), ...reports]);
    }
    clearTimeout(graceTimer);
    const s = stopping ?? { reason: "stopped" as const, message: "stopped" };
    return { reason: s.reason, message: s.message, stats: stats() };
  }

  const done = run();
  return {
    done,
    stop(stopOptions = {}) {
      requestStop("stopped", "stop requested", stopOptions.graceMs ?? 30_000);
      return done;
    },
    stats,
    cancel(leaseId, reason = "cancelled") {
      const r = running.get(leaseId);
      if (!r || r.finished) return;
      log?.info(`task ${reason}: stopping it`, { taskId: r.lease.taskId, type: r.lease.task.type });
      r.controller.abort(reason satisfies AbortReason);
    },
  };
}

function jsonBytes(value: unknown): number {
  const text = JSON.stringify(value) ?? "";
  // Cheap bound first: UTF-8 needs at most 3 bytes per UTF-16 unit.
  if (text.length * 3 <= LIMITS.resultBytes) return text.length;
  return new TextEncoder().encode(text).length;
}
