/**
 * The coordinator's one error type. Every refusal is an `ApiFailure` with a code and an HTTP
 * status; `app.onError` is the one place where errors become responses.
 *
 * @module
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ApiErrorCode } from "../../shared/protocol.ts";

export type { ApiErrorCode };

const STATUS: Record<ApiErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  invalid_json: 400,
  validation: 400,
  unknown_type: 400,
  not_found: 404,
  stale_lease: 409,
  cancelled: 409,
  conflict: 409,
  idempotency_conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
  quota_exceeded: 429,
  internal: 500,
  unavailable: 503,
  storage_full: 507,
  invalid_pack: 422,
};

/** A refusal with a code, a message, and the input field it is about. */
export class ApiFailure extends Error {
  override name = "ApiFailure";
  readonly code: ApiErrorCode;
  readonly field: string | undefined;
  /** Response headers that go with the refusal (`Retry-After` on a 429). */
  readonly headers: Readonly<Record<string, string>>;
  constructor(
    code: ApiErrorCode,
    message: string,
    field?: string,
    options: { headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.field = field;
    this.headers = options.headers ?? {};
  }
  get status(): ContentfulStatusCode {
    return STATUS[this.code];
  }
  toJSON(): { error: { code: string; message: string; field?: string } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field !== undefined ? { field: this.field } : {}),
      },
    };
  }
}

/** Turns a zod issue path into the dotted field name clients see: `tasks.3.params.width`. */
export function fieldName(path: ReadonlyArray<PropertyKey>): string {
  return path.map(String).join(".");
}

/**
 * KV's refusal when SQLite cannot grow its file (ENOSPC; Deno 2.9 throws a TypeError
 * "database or disk is full"), as the refusal clients get. Nothing the failed commit held was
 * written; a batch over one commit is undone (enqueue.ts).
 */
export function storageFailure(error: unknown): ApiFailure | null {
  if (error instanceof ApiFailure) return error.code === "storage_full" ? error : null;
  if (!(error instanceof Error) || !/disk is full|no space left/i.test(error.message)) return null;
  return new ApiFailure(
    "storage_full",
    "the coordinator's storage is full: nothing was written; try again later",
    undefined,
    { headers: { "retry-after": "30" }, cause: error },
  );
}
