/**
 * What the route files share: the transition context, the dispatcher and the worker registry,
 * and the OpenAPIHono factory whose validation hook turns zod issues into our error shape.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { ApiError } from "../../../shared/protocol.ts";
import type { Ctx } from "../../context.ts";
import type { Dispatcher } from "../../dispatch/dispatcher.ts";
import { ApiFailure, fieldName } from "../errors.ts";
import type { WorkerRegistry } from "../../fleet/workers.ts";

export interface Deps {
  ctx: Ctx;
  dispatcher: Dispatcher;
  workers: WorkerRegistry;
  /** Aborted when the coordinator stops: long streams (job results that follow) end then. */
  stopping?: AbortSignal;
}

/** A router whose invalid inputs become `400 { error: { code: "validation", field } }`. */
export function router(): OpenAPIHono {
  return new OpenAPIHono({
    defaultHook: (result) => {
      if (result.success) return;
      const issue = firstIssue(result.error.issues);
      const field = fieldName(issue.path);
      // A body that is not an object at all (`null`, `[]`) is about the body, not a field.
      const where = field || (result.target === "json" ? "body" : result.target);
      throw new ApiFailure(
        "validation",
        field ? `${field}: ${issue.message}` : issue.message,
        where,
      );
    },
  });
}

type Issue = { code: string; path: PropertyKey[]; message: string; errors?: Issue[][] };

/**
 * The issue worth reporting. For a union (one task or a batch), the branch that got furthest:
 * one whose first issue is not a missing top-level field, else the last branch.
 */
function firstIssue(issues: ReadonlyArray<Issue>): Issue {
  const issue = issues[0];
  if (issue.code !== "invalid_union" || !issue.errors?.length) return issue;
  const missing = (i: Issue | undefined) =>
    !i ||
    (i.code === "invalid_type" && i.path.length === 1 && /received undefined/.test(i.message));
  const branch = issue.errors.find((b) => !missing(b[0])) ?? issue.errors.at(-1)!;
  const inner = firstIssue(branch);
  return { ...inner, path: [...issue.path, ...inner.path] };
}

export const jsonBody = <T>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

export const jsonResponse = <T>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** The refusals every authenticated route with a JSON body can answer (see ApiErrorCode). */
export const refusals = {
  400: jsonResponse(ApiError, "invalid input (`validation`, `invalid_json`, …); `field` names it"),
  401: jsonResponse(ApiError, "`unauthorized`: no token, or the token was refused"),
  403: jsonResponse(ApiError, "`forbidden`: the token's role may not use this route"),
  409: jsonResponse(
    ApiError,
    "`stale_lease`, `cancelled`, `conflict` or `idempotency_conflict`: the state changed",
  ),
  413: jsonResponse(ApiError, "`payload_too_large`: the body is over --max-body-bytes"),
  415: jsonResponse(ApiError, "`unsupported_media_type`: the body is not application/json"),
  429: jsonResponse(ApiError, "`rate_limited`: over the request rate limit; see Retry-After"),
};
