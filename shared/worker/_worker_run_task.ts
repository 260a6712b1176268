/**
 * One task attempt inside a task thread: check params, run with a signal that aborts on timeout
 * or on request, check the result. Every way it can end is returned as data
 * ({@link ThreadOutcome}), because it crosses `postMessage` or a pipe. Universal: no `Deno.*`,
 * no DOM, and no npm import at run time (a no-permission Deno thread cannot load npm packages).
 *
 * @module
 */
import type { z } from "zod";
import type { Handler, HandlerLogger } from "../../handlers/contract.ts";
import type { TaskError } from "../protocol.ts";

/** `LIMITS.errorMessageChars` (protocol.ts imports zod at run time; this file must not). */
export const ERROR_MESSAGE_CHARS = 2000;

/** How an attempt ended, as plain data. */
export type ThreadOutcome =
  | { ok: true; result: unknown }
  | { ok: false; error: TaskError };

/** Why the worker stopped an attempt; a timeout becomes a `timeout` error, the rest `cancelled`. */
export type AbortReason = "timeout" | "cancelled" | "stale" | "shutdown";

export interface RunTaskRequest {
  /** The handler, or a promise of it (a failed load fails the attempt as `internal`). */
  handler: Handler | Promise<Handler>;
  taskId: string;
  type: string;
  params: unknown;
  attempt: number;
  timeoutMs: number;
  /** Aborted by the worker (cancel, lost lease, shutdown, its own timeout). */
  signal: AbortSignal;
  onProgress(fraction: number): void;
  log: HandlerLogger;
}

const CODES = new Set(["validation", "timeout", "handler", "cancelled", "expired", "internal"]);

function failure(code: TaskError["code"], message: string, retryable: boolean): ThreadOutcome {
  return {
    ok: false,
    error: { code, message: message.slice(0, ERROR_MESSAGE_CHARS), retryable },
  };
}

function issueText(prefix: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return `${prefix}: invalid`;
  return `${[prefix, ...issue.path.map(String)].join(".")}: ${issue.message}`;
}

/** A thrown value as a task error: `TaskFailure` keeps its code, anything else is `handler`. */
function thrownError(e: unknown): ThreadOutcome {
  // Checked by shape, not `instanceof`: a handler may bundle its own copy of the contract.
  if (e instanceof Error && e.name === "TaskFailure") {
    const { code, retryable } = e as Error & { code?: unknown; retryable?: unknown };
    if (typeof code === "string" && CODES.has(code)) {
      return failure(code as TaskError["code"], e.message, retryable !== false);
    }
  }
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return failure("handler", message, true);
}

/** Runs one attempt; never throws. */
export async function runTask(req: RunTaskRequest): Promise<ThreadOutcome> {
  let handler: Handler;
  try {
    handler = await req.handler;
  } catch (e) {
    // Another worker (or a later try) may have this handler: worth a retry.
    return failure("internal", `cannot load handler ${req.type}: ${(e as Error).message}`, true);
  }
  const params = handler.params.safeParse(req.params);
  if (!params.success) return failure("validation", issueText("params", params.error), false);

  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new DOMException(`timed out after ${req.timeoutMs} ms`, "TimeoutError")),
    req.timeoutMs,
  );
  const signal = AbortSignal.any([req.signal, timeout.signal]);
  let result: unknown;
  try {
    result = await handler.run(params.data, {
      signal,
      progress: req.onProgress,
      log: req.log,
      taskId: req.taskId,
      attempt: req.attempt,
    });
  } catch (e) {
    if (timeout.signal.aborted) {
      return failure("timeout", `timed out after ${req.timeoutMs} ms`, true);
    }
    if (req.signal.aborted) {
      return failure("cancelled", `stopped by the worker: ${String(req.signal.reason)}`, true);
    }
    return thrownError(e);
  } finally {
    clearTimeout(timer);
  }
  const checked = handler.result.safeParse(result);
  if (!checked.success) return failure("validation", issueText("result", checked.error), false);
  return { ok: true, result: checked.data };
}
