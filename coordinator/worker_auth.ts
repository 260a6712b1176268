/**
 * Worker authentication middleware: when a worker token is configured, the calls only a worker
 * makes need `Authorization: Bearer <token>`. (Client keys and roles come with the trust work.)
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { ApiFailure } from "./errors.ts";

const WORKER_ONLY =
  /^\/api\/(leases(\/.*)?|tasks\/claim|tasks\/[^/]+\/(heartbeat|complete|fail|release))$/;

/** Refuses worker calls without the configured token; lets everything else through. */
export function workerAuth(token: string | undefined): MiddlewareHandler {
  return async function workerAuth(c, next) {
    if (token !== undefined && c.req.method === "POST" && WORKER_ONLY.test(c.req.path)) {
      const given = c.req.header("authorization")?.replace(/^Bearer\s+/i, "");
      if (!given) {
        throw new ApiFailure("unauthorized", "a worker token is required", "authorization");
      }
      if (given !== token) {
        throw new ApiFailure("unauthorized", "the worker token was refused", "authorization");
      }
    }
    await next();
  };
}

/** The role a request's bearer token grants, for `GET /api/whoami`. */
export function roleOf(
  token: string | undefined,
  header: string | undefined,
): "worker" | "anonymous" | null {
  const given = header?.replace(/^Bearer\s+/i, "");
  if (!given) return "anonymous";
  if (token !== undefined && given === token) return "worker";
  return token === undefined ? "worker" : null;
}
