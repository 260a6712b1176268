/**
 * The HTTP app: the API under `/api` (also answered at the root for seed-protocol workers whose
 * base URL has no `/api`), the OpenAPI document, and the one place errors become responses.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { ApiFailure } from "./errors.ts";
import { leaseRoutes } from "./routes/leases.ts";
import { metaRoutes, VERSION } from "./routes/meta.ts";
import { taskRoutes } from "./routes/tasks.ts";
import { roleOf, workerAuth } from "./worker_auth.ts";
import type { Deps } from "./routes/deps.ts";
import { wsRoutes } from "./routes/ws.ts";
import type { WsHub } from "./ws_hub.ts";

export function createApp(deps: Deps, hub: WsHub): OpenAPIHono {
  const api = new OpenAPIHono();
  api.route("/", wsRoutes(deps, hub));
  api.route("/", metaRoutes(deps));
  api.route("/", taskRoutes(deps));
  api.route("/", leaseRoutes(deps));
  api.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Tessera coordinator API",
      version: VERSION,
      description:
        "Durable tasks, claim leases and results for the Tessera volunteer compute grid.",
    },
  });

  const app = new OpenAPIHono();
  app.use(
    "*",
    bodyLimit({
      maxSize: deps.ctx.config.maxBodyBytes,
      onError: () => {
        throw new ApiFailure(
          "payload_too_large",
          `request body is larger than ${deps.ctx.config.maxBodyBytes} bytes`,
          "body",
        );
      },
    }),
  );
  app.use("*", workerAuth(deps.ctx.config.workerToken));
  app.get("/api/whoami", (c) => {
    const role = roleOf(deps.ctx.config.workerToken, c.req.header("authorization"));
    if (role === null) {
      throw new ApiFailure("unauthorized", "the token was refused", "authorization");
    }
    return c.json({ role });
  });
  app.route("/api", api);

  app.onError((err, c) => {
    if (err instanceof ApiFailure) return c.json(err.toJSON(), err.status);
    if (err instanceof HTTPException) {
      const invalidJson = /json/i.test(err.message);
      const failure = invalidJson
        ? new ApiFailure("invalid_json", "request body is not valid JSON", "body")
        : new ApiFailure("bad_request", err.message || "bad request");
      return c.json(failure.toJSON(), err.status === 413 ? 413 : failure.status);
    }
    deps.ctx.log.error("unhandled error", {
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
