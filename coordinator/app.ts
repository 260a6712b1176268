/**
 * The HTTP app: the API under `/api`, the OpenAPI document, authentication and limits in front of
 * every route, and the one place errors become responses.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { authenticate, createAuthenticator, requireRole } from "./auth.ts";
import { ApiFailure } from "./errors.ts";
import { rateLimit } from "./rate_limit.ts";
import { leaseRoutes } from "./routes/leases.ts";
import { metaRoutes, VERSION } from "./routes/meta.ts";
import { taskRoutes } from "./routes/tasks.ts";
import type { Deps } from "./routes/deps.ts";
import { wsRoutes } from "./routes/ws.ts";
import type { WsHub } from "./ws_hub.ts";

export function createApp(deps: Deps, hub: WsHub): OpenAPIHono {
  const { config, log } = deps.ctx;
  const api = new OpenAPIHono();
  api.route("/", wsRoutes(deps, hub));
  api.route("/", metaRoutes(deps));
  api.route("/", taskRoutes(deps));
  api.route("/", leaseRoutes(deps));
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
    security: [{ bearer: [] }],
  });

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
  app.use(
    "*",
    bodyLimit({
      maxSize: config.maxBodyBytes,
      onError: () => {
        throw new ApiFailure(
          "payload_too_large",
          `request body is larger than ${config.maxBodyBytes} bytes`,
          "body",
        );
      },
    }),
  );
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
  app.route("/api", api);

  app.onError((err, c) => {
    if (err instanceof ApiFailure) return c.json(err.toJSON(), err.status, err.headers);
    if (err instanceof HTTPException) {
      const invalidJson = /json/i.test(err.message);
      const failure = invalidJson
        ? new ApiFailure("invalid_json", "request body is not valid JSON", "body")
        : new ApiFailure("bad_request", err.message || "bad request");
      return c.json(failure.toJSON(), err.status === 413 ? 413 : failure.status);
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
