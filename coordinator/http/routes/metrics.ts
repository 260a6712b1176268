/**
 * `GET /metrics`: the Prometheus text format. Auth is the dashboard's (see `auth.ts`): an admin
 * key, or no token from this machine (read-only), or anyone while the coordinator is open.
 *
 * @module
 */
import { Hono } from "hono";
import type { Metrics } from "../../fleet/metrics.ts";

/**
 * The metrics route, to mount at the root.
 *
 * @example
 * ```ts
 * app.route("/", metricsRoutes(createMetrics(ctx, { workers, hub })));
 * ```
 */
export function metricsRoutes(metrics: Metrics): Hono {
  const app = new Hono();
  app.get("/metrics", async function metricsText(c) {
    return c.body(await metrics.text(), 200, { "content-type": metrics.contentType });
  });
  return app;
}
