/**
 * The SDK's errors: a refused request, and a task that did not complete.
 *
 * @module
 */
import type { Task, TaskError } from "../protocol.ts";

/** The API refused a request. */
export class ApiRequestError extends Error {
  override name = "ApiRequestError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A task ended failed or cancelled; `task.error` says why. */
export class TaskFailedError extends Error {
  override name = "TaskFailedError";
  readonly error: TaskError | null;
  constructor(readonly task: Task) {
    super(`task ${task.id} (${task.type}) ${task.status}: ${task.error?.message ?? "no error"}`);
    this.error = task.error;
  }
}

/** Answers that mean "this coordinator cannot serve now; another one (or this one soon) may". */
export const UNAVAILABLE: ReadonlySet<number> = new Set([502, 503, 504]);
