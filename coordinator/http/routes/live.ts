/**
 * `GET /api/live`: the dashboard's Server-Sent Events stream. A `stats` event every second and a
 * `task` event for each task that ends in this process (`?types=a.b,c.d` keeps only those types).
 *
 * @module
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { LiveFeed } from "../../fleet/live.ts";

/** Writes waiting on a slow client beyond which new chunks are dropped, not queued. */
const MAX_BACKLOG = 16;

/**
 * The live routes, to mount under `/api`.
 *
 * @example
 * ```ts
 * app.route("/api", liveRoutes(new LiveFeed(ctx, workers)));
 * ```
 */
export function liveRoutes(feed: LiveFeed): Hono {
  const app = new Hono();
  app.get("/live", (c) => {
    const typesParam = c.req.query("types");
    const types = typesParam ? new Set(typesParam.split(",").filter(Boolean)) : undefined;
    c.header("X-Accel-Buffering", "no");
    return streamSSE(c, async function live(stream) {
      const { promise: ended, resolve: end } = Promise.withResolvers<void>();
      let backlog = 0;
      // Reconnect quickly after a coordinator restart.
      await stream.write("retry: 2000\n\n");
      const unsubscribe = feed.subscribe({
        types,
        end,
        send(chunk) {
          if (backlog >= MAX_BACKLOG || stream.aborted || stream.closed) return;
          backlog++;
          stream.write(chunk).finally(() => backlog--);
        },
      });
      stream.onAbort(end);
      await ended;
      unsubscribe();
    });
  });
  return app;
}
