/**
 * The HTTP app, all of it: the API under `/api`, its live feed, the OpenAPI document, the pages
 * (dashboard, donate page, `/metrics`), authentication and limits in front of every route, and
 * the one place errors become responses.
 *
 * @module
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { authenticate, createAuthenticator, requireRole } from "../auth/auth.ts";
import { ApiFailure, storageFailure } from "./errors.ts";
import { rateLimit } from "../auth/rate_limit.ts";
import { leaseRoutes } from "./routes/leases.ts";
import { metaRoutes, VERSION } from "./routes/meta.ts";
import { taskRoutes } from "./routes/tasks.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { type Deps, jsonResponse } from "./routes/deps.ts";
import { ApiError } from "../../shared/protocol.ts";
import { wsRoutes } from "./routes/ws.ts";
import type { WsHub } from "../ws/ws_hub.ts";
import { dashboardRoutes } from "./assets.ts";
import { donateRoutes } from "./donate_assets.ts";
import { clientRoutes } from "./client_assets.ts";
import type { LiveFeed } from "../fleet/live.ts";
import type { Metrics } from "../fleet/metrics.ts";
import { liveRoutes } from "./routes/live.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { bundleRoutes, handlerRoutes } from "./routes/handlers.ts";
import { workerBundleRoutes } from "./routes/worker_bundle.ts";

/** What the app serves besides the API routes proper. */
export interface AppParts {
  hub: WsHub;
  live: LiveFeed;
  metrics: Metrics;
}

export function createApp(deps: Deps, { hub, live, metrics }: AppParts): OpenAPIHono {
  const { config, log } = deps.ctx;
  const api = new OpenAPIHono();
  api.route("/", wsRoutes(deps, hub));
  api.route("/", metaRoutes(deps));
  api.route("/", taskRoutes(deps));
  api.route("/", jobRoutes(deps));
  api.route("/", leaseRoutes(deps));
  api.route("/", handlerRoutes(deps));
  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API key (`deno task keys create`, role client, admin or worker) or, for " +
      "the worker routes, the worker token. Required when the coordinator enforces keys (`--auth " +
      "on`, or `auto` once a client or admin key exists); before that, only this machine may " +
      "submit or administer (403 from elsewhere). Over the request rate limit: 429 with " +
      "Retry-After.",
  });
  api.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Tessera coordinator API",
      version: VERSION,
      description:
        "Durable tasks, claim leases and results for the Tessera volunteer compute grid.",
    },
    servers: [{ url: "/api", description: "this coordinator" }],
    security: [{ bearer: [] }],
  });
  documentStreams(api);

  const authn = createAuthenticator(deps.ctx.kv, config, {
    onEnforced: () => log.info("auth enforced: a client or admin API key exists (--auth auto)"),
  });
  log.info("auth", {
    mode: config.auth,
    workerToken: config.workerToken !== undefined,
    rateLimit: config.rateLimit,
  });
  if (config.auth === "auto") {
    log.info(
      "until a client or admin key exists (deno task keys create), only this machine may submit " +
        "or administer; other addresses may donate (protected mode)",
    );
  }
  if (config.auth === "on" && config.workerToken === undefined) {
    log.warn("auth is on and no --worker-token is set: only worker or admin keys can claim work");
  }

  const app = new OpenAPIHono();
  app.use("*", authenticate(authn));
  app.use(
    "*",
    rateLimit({
      perSecond: config.rateLimit,
      keyOf: (c) => {
        const auth = c.get("auth");
        return auth.keyId !== null ? `key:${auth.keyId}` : `addr:${auth.address}`;
      },
    }),
  );
  app.use("*", requireRole());
  app.use("*", bufferedBody(config.maxBodyBytes));
  // The worker run from a URL (`/worker.js`, `/api/worker`, `/worker/<sha>.js`).
  app.route("/", workerBundleRoutes(log));
  app.route("/api", api);
  // The dashboard's SSE feed, then the pages: the dashboard, /metrics, the client SDK
  // (/client.js, /client.tgz), the donate page at `/` (built by `deno task build`, files under
  // /assets/).
  app.route("/api", liveRoutes(live));
  app.route("/dashboard", dashboardRoutes(log));
  app.route("/", metricsRoutes(metrics));
  app.route("/", clientRoutes(log));
  app.route("/", bundleRoutes(() => deps.ctx.registry));
  app.route("/", donateRoutes(log));

  app.onError((err, c) => {
    if (err instanceof ApiFailure) return c.json(err.toJSON(), err.status, err.headers);
    const full = storageFailure(err);
    if (full) {
      log.error("storage full", { path: c.req.path, error: String(err) });
      return c.json(full.toJSON(), full.status, full.headers);
    }
    if (err instanceof HTTPException) {
      const failure = err.status === 415
        ? new ApiFailure(
          "unsupported_media_type",
          "the body must be JSON, sent as content-type: application/json",
          "content-type",
        )
        : /json/i.test(err.message)
        ? new ApiFailure("invalid_json", "request body is not valid JSON", "body")
        : new ApiFailure("bad_request", err.message || "bad request");
      return c.json(failure.toJSON(), failure.status);
    }
    log.error("unhandled error", {
      path: c.req.path,
      error: String(err),
      stack: (err as Error)?.stack,
    });
    return c.json({ error: { code: "internal", message: "internal error" } }, 500);
  });
  app.notFound((c) =>
    c.json(new ApiFailure("not_found", `no route ${c.req.method} ${c.req.path}`).toJSON(), 404)
  );
  return app;
}

/** `/ws` and `/live` are not zod routes (an upgrade, a stream): documented by hand. */
function documentStreams(api: OpenAPIHono): void {
  api.openAPIRegistry.registerPath({
    method: "get",
    path: "/ws",
    summary: "The WebSocket lease protocol (messages: ClientMessage, ServerMessage)",
    description: "Upgrade to a WebSocket; say hello, announce free slots, receive leases, " +
      "report on them. Without a token only `kind: browser` volunteers are accepted. Close " +
      "codes: 4000 bad hello, 4001 token refused, 4002 too many sockets, 4003 rate limited, " +
      "4004 too many invalid messages.",
    security: [{ bearer: [] }, {}],
    request: { query: z.object({ token: z.string().optional() }) },
    responses: {
      101: { description: "switching protocols" },
      400: jsonResponse(ApiError, "`bad_request`: a broken handshake; `field` names the header"),
      401: jsonResponse(ApiError, "`unauthorized`"),
      429: jsonResponse(ApiError, "`rate_limited`"),
    },
  });
  api.openAPIRegistry.registerPath({
    method: "get",
    path: "/live",
    summary: "The dashboard's Server-Sent Events: `stats` every second, `task` as tasks end",
    request: { query: z.object({ types: z.string().optional(), token: z.string().optional() }) },
    responses: {
      200: {
        description: "an event stream",
        content: { "text/event-stream": { schema: z.string() } },
      },
      401: jsonResponse(ApiError, "`unauthorized`"),
      403: jsonResponse(ApiError, "`forbidden`: admin keys only (or read-only from this machine)"),
      429: jsonResponse(ApiError, "`rate_limited`"),
    },
  });
}

/**
 * Reads the whole request body once, within `maxBytes`, before any route sees it, so that a
 * body that is too large is a 413 and one that breaks off (shorter than its Content-Length, a
 * chunked body cut short, a reset connection) is a 400 on field `body`, wherever it is read
 * later.
 */
function bufferedBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = () =>
    new ApiFailure("payload_too_large", `request body is larger than ${maxBytes} bytes`, "body");
  return async function bufferedBody(c, next) {
    const body = c.req.raw.body;
    if (body === null) return await next();
    if (Number(c.req.header("content-length")) > maxBytes) throw tooLarge();
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxBytes) {
          reader.cancel().catch(() => {});
          throw tooLarge();
        }
        chunks.push(value);
      }
    } catch (e) {
      if (e instanceof ApiFailure) throw e;
      throw new ApiFailure(
        "bad_request",
        "the request body could not be read: the connection ended before it was complete",
        "body",
        { cause: e },
      );
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    // As hono's bodyLimit does; the new request keeps following the old one's abort signal.
    c.req.raw = new Request(c.req.raw, { body: bytes });
    await next();
  };
}
