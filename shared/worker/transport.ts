/**
 * How a worker talks to the coordinator, whatever carries the bytes: the worker core only sees
 * this interface, so HTTP today and a WebSocket later are interchangeable. Universal: types only.
 *
 * Refusals that are part of the protocol (a cancelled task, a lost lease) are returned as data;
 * a failure of the transport itself (network down, coordinator error, refused token) is thrown as
 * a {@link TransportError}, because the caller's answer to it is always the same: back off.
 *
 * @module
 */
import type { Lease, TaskError } from "../protocol.ts";

/** What the coordinator says about itself. */
export interface CoordinatorHealth {
  version: string;
  /** The task types it accepts. */
  types: string[];
}

export interface ClaimOptions {
  /** Leases wanted at most (the worker's free slots). */
  max: number;
  /** How long the coordinator may hold the request open waiting for the first task. */
  waitMs: number;
  /** Aborts a long-poll, for a prompt shutdown. */
  signal?: AbortSignal;
}

/** Heartbeat: the lease was extended, or the work must stop (and must not be reported). */
export type HeartbeatOutcome =
  | { ok: true; expiresAt: number }
  | { ok: false; reason: "cancelled" | "stale" };

/**
 * Report (complete, fail, release): accepted, or refused for good. `rejected` means the
 * coordinator refused the body itself (say, a result over the size limit), so a corrected report
 * may still be sent.
 */
export type ReportOutcome =
  | { ok: true }
  | { ok: false; reason: "cancelled" | "stale" | "not_found" | "rejected"; message: string };

/** Why a transport call failed; `unauthorized` is final, the others are worth a retry. */
export type TransportErrorKind = "network" | "unauthorized" | "server" | "protocol";

/** A failure of the transport itself; the caller backs off and tries again. */
export class TransportError extends Error {
  override name = "TransportError";
  readonly kind: TransportErrorKind;
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
  constructor(kind: TransportErrorKind, message: string, options: {
    status?: number;
    cause?: unknown;
  } = {}) {
    super(message, { cause: options.cause });
    this.kind = kind;
    this.status = options.status;
  }
}

/** The calls a worker makes. Implementations must be safe to call concurrently. */
export interface Transport {
  /** Liveness and the accepted types; throws a {@link TransportError} when unreachable. */
  health(): Promise<CoordinatorHealth>;
  /** False when the coordinator refuses this worker: its token, or no token where one is required. */
  checkToken(): Promise<boolean>;
  /** Up to `max` leases; an empty list when none arrived within `waitMs`. */
  claim(options: ClaimOptions): Promise<Lease[]>;
  heartbeat(taskId: string, leaseId: string, progress?: number): Promise<HeartbeatOutcome>;
  /**
   * Delivered at least once: transient failures are retried before anything is thrown. `runMs`,
   * the attempt's run time from its start, bounds the donor's credit where the wire carries it.
   */
  complete(
    taskId: string,
    leaseId: string,
    result: unknown,
    runMs?: number,
  ): Promise<ReportOutcome>;
  /** Delivered at least once, like {@link Transport.complete}. */
  fail(taskId: string, leaseId: string, error: TaskError): Promise<ReportOutcome>;
  /** Hands the lease back unfinished: requeued at once, the attempt not counted. */
  release(taskId: string, leaseId: string): Promise<ReportOutcome>;
  /**
   * The attempt starts running now (a prefetched lease may have waited): the coordinator times
   * donor credit from this notice. Best effort, no reply; transports without it omit it.
   */
  started?(taskId: string, leaseId: string): void;
}
