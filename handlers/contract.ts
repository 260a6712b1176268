/**
 * The handler contract: what one task type is. Pure TypeScript, no `Deno.*`, no DOM, so the same
 * handler file runs in a browser Web Worker, a Deno Web Worker and the coordinator (which only
 * uses the schemas, to refuse bad params at submit time).
 *
 * @module
 */
import type { z } from "zod";

/** The `maxTimeoutMs` of a handler that declares none: 10 minutes. */
export const DEFAULT_MAX_TIMEOUT_MS = 600_000;

/** How results of a task type are checked before they are accepted. */
export type Verification =
  | { mode: "none" }
  | {
    mode: "quorum";
    replicas: number;
    agree: number;
    maxReplicas: number;
    /**
     * How long a task may wait for a voter with a record before it fails `unverified`.
     * @default {600_000}
     */
    deadlineMs?: number;
  };

/** A minimal structured logger handed to handlers. */
export interface HandlerLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What a handler gets besides its params. */
export interface HandlerContext {
  /** Aborts on timeout, cancellation or worker shutdown; long loops should check it. */
  signal: AbortSignal;
  /** Report progress as a fraction in [0, 1]; cheap, may be called often. */
  progress(fraction: number): void;
  log: HandlerLogger;
  taskId: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** One task type: its name, its params and result schemas, and the function that runs it. */
export interface Handler<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  /** Namespaced type name, e.g. `primes.count`. */
  type: string;
  description: string;
  params: P;
  result: R;
  /** Default result verification for this type; deterministic handlers can use quorum. */
  verification?: Verification;
  /** Default timeout for tasks of this type, in ms. */
  timeoutMs?: number;
  /**
   * The largest `timeoutMs` a client may ask for, in ms: a task runs on a volunteer's CPU, so
   * a type says how long one task of it may reasonably take. Submits above it are refused.
   * @default {DEFAULT_MAX_TIMEOUT_MS}
   */
  maxTimeoutMs?: number;
  /**
   * Known-answer samples for spot checks (`coordinator/verify/spot_checks.ts`): a new untrusted
   * worker is given one of them, and its answer compared with the known one. Either a list of
   * samples, or a function that makes a fresh one from a random source (better: nothing to
   * memorise). A sample without `result` has its answer computed by the coordinator, which runs
   * `run` itself. Without samples a type gets no spot checks. Keep them small and quick.
   */
  samples?: readonly HandlerSample<P, R>[] | ((random: () => number) => HandlerSample<P, R>);
  run(params: z.infer<P>, ctx: HandlerContext): Promise<z.infer<R>> | z.infer<R>;
}

/** One known-answer sample: params, and the result they must give (computed when absent). */
export interface HandlerSample<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  params: z.input<P>;
  result?: z.infer<R>;
}

/**
 * Declares a handler with its types inferred from the schemas.
 *
 * @example
 * ```ts
 * export default defineHandler({
 *   type: "demo.echo",
 *   description: "Returns its params",
 *   params: z.object({ message: z.string() }),
 *   result: z.object({ message: z.string() }),
 *   run: (params) => params,
 * });
 * ```
 */
export function defineHandler<P extends z.ZodType, R extends z.ZodType>(
  handler: Handler<P, R>,
): Handler<P, R> {
  return handler;
}

/** Error codes a task attempt can end with; data, so they survive `postMessage`. */
export type TaskErrorCode =
  | "validation"
  | "timeout"
  | "handler"
  | "cancelled"
  | "expired"
  | "internal";

/**
 * Thrown by a handler to say precisely how an attempt failed. Any other thrown value becomes a
 * retryable `handler` error.
 *
 * @example
 * ```ts
 * throw new TaskFailure("handler", "upstream busy", { retryable: true });
 * ```
 */
export class TaskFailure extends Error {
  override name = "TaskFailure";
  readonly code: TaskErrorCode;
  readonly retryable: boolean;
  constructor(
    code: TaskErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? code !== "validation";
  }
}
