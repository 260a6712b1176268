/**
 * What the route files share: the transition context, the dispatcher and the worker registry,
 * and the OpenAPIHono factory whose validation hook turns zod issues into our error shape.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Ctx } from "../context.ts";
import type { Dispatcher } from "../dispatcher.ts";
import { ApiFailure, fieldName } from "../errors.ts";
import type { WorkerRegistry } from "../workers.ts";

export interface Deps {
  ctx: Ctx;
  dispatcher: Dispatcher;
  workers: WorkerRegistry;
}

/** A router whose invalid inputs become `400 { error: { code: "validation", field } }`. */
export function router(): OpenAPIHono {
  return new OpenAPIHono({
    defaultHook: (result) => {
      if (result.success) return;
      const issue = result.error.issues[0]!;
      const field = fieldName(issue.path);
      throw new ApiFailure(
        "validation",
        field ? `${field}: ${issue.message}` : issue.message,
        field || result.target,
      );
    },
  });
}

export const jsonBody = <T>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

export const jsonResponse = <T>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
