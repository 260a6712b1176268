/**
 * Health, about, whoami, stats and workers.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  About,
  ApiError,
  Health,
  PublicStats,
  Stats,
  WhoAmI,
  WorkerInfo,
  WorkersResponse,
} from "../../../shared/protocol.ts";
import { ApiFailure } from "../errors.ts";
import { readStats } from "../../fleet/stats.ts";
import { publicStatsReader } from "../../fleet/public_stats.ts";
import { authorize, routeClass } from "../../auth/auth.ts";
import { type Deps, jsonResponse, router } from "./deps.ts";

export const VERSION = "0.1.0";

export function metaRoutes({ ctx, workers }: Deps) {
  const app = router();
  const started = ctx.now();
  const publicStats = publicStatsReader(ctx, workers);

  app.openapi(
    createRoute({
      method: "get",
      path: "/public",
      summary: "The grid as anyone may see it: totals, task types, throughput, donors' sums",
      security: [],
      responses: { 200: jsonResponse(PublicStats, "the public view") },
    }),
    async (c) => c.json(await publicStats(), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/health",
      summary: "Liveness, and the task types this coordinator accepts",
      security: [],
      responses: { 200: jsonResponse(Health, "healthy") },
    }),
    (c) =>
      c.json({
        status: "ok" as const,
        version: VERSION,
        uptimeMs: ctx.now() - started,
        types: [...ctx.handlers.keys()],
      }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/about",
      summary: "Who runs this grid and why (--project-* options), and its task types in words",
      security: [],
      responses: { 200: jsonResponse(About, "the project and its task types") },
    }),
    (c) => {
      const { config } = ctx;
      return c.json({
        project: {
          name: config.projectName ?? null,
          description: config.projectDescription ?? null,
          owner: config.projectOwner ?? null,
          url: config.projectUrl ?? null,
        },
        types: [...ctx.handlers.values()].map((h) => ({
          type: h.type,
          description: h.description,
        })),
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/whoami",
      summary: "The role the request's token grants, and whether API keys are required",
      security: [],
      responses: {
        200: jsonResponse(WhoAmI, "the caller"),
        401: jsonResponse(ApiError, "the token was refused"),
      },
    }),
    (c) => {
      const auth = c.get("auth");
      // Without enforcement an unknown token is simply anonymous, unless it was meant to be the
      // worker token: a worker checks its token here before it starts.
      if (auth.refused && (auth.enforced || auth.workerTokens)) {
        throw new ApiFailure("unauthorized", "the token was refused", "authorization");
      }
      return c.json({
        role: auth.role,
        ...(auth.keyId !== null ? { keyId: auth.keyId } : {}),
        ...(auth.keyName !== null ? { name: auth.keyName } : {}),
        enforced: auth.enforced,
        ...(auth.enforced && auth.role === "anonymous" ? { localReadOnly: auth.local } : {}),
        trustedWorker: auth.operator,
        console: {
          read: authorize(routeClass("GET", "/api/live"), auth, {
            method: "GET",
            path: "/api/live",
          }) === null,
          write: authorize(routeClass("POST", "/api/tasks/x/retry"), auth, {
            method: "POST",
            path: "/api/tasks/x/retry",
          }) === null,
        },
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/stats",
      summary: "Counts per status, type and queue; per-second rates over the last 10 minutes",
      responses: { 200: jsonResponse(Stats, "stats") },
    }),
    async (c) => c.json(await readStats(ctx, workers.onlineCount()), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/workers",
      summary: "Every worker seen, most recent first",
      responses: { 200: jsonResponse(WorkersResponse, "workers") },
    }),
    async (c) => c.json({ workers: await workers.list() }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/workers/{id}/stats",
      summary: "One worker's stats",
      request: { params: z.object({ id: z.string().min(1).max(200) }) },
      responses: {
        200: jsonResponse(WorkerInfo, "the worker"),
        404: jsonResponse(ApiError, "never seen"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const info = await workers.get(id);
      if (!info) throw new ApiFailure("not_found", `no worker ${id}`);
      return c.json(info, 200);
    },
  );

  return app;
}
