/**
 * `GET /api/ws`: the WebSocket lease endpoint (protocol in shared/protocol.ts), and the donors'
 * totals kept from socket completions.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { upgradeWebSocket } from "hono/deno";
import { counterValue } from "../committer.ts";
import { donorPrefix } from "../keys.ts";
import type { WsHub } from "../ws_hub.ts";
import { type Deps, jsonResponse, router } from "./deps.ts";

export const Donor = z.object({ id: z.string(), completed: z.number(), computeMs: z.number() });

export function wsRoutes({ ctx }: Deps, hub: WsHub) {
  const app = router();

  app.get(
    "/ws",
    upgradeWebSocket(() => {
      let conn: ReturnType<WsHub["open"]> | null = null;
      return {
        onOpen: (_evt, ws) => {
          conn = hub.open({
            send: (d) => ws.send(d),
            close: (code, reason) => ws.close(code, reason),
          });
        },
        onMessage: (evt) => conn?.message(evt.data),
        onClose: () => conn?.close(),
        onError: () => conn?.close(),
      };
    }),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/donors",
      summary: "Browser volunteers' totals: tasks completed and compute time donated",
      responses: {
        200: jsonResponse(z.object({ donors: z.array(Donor) }), "donors, most tasks first"),
      },
    }),
    async (c) => {
      const byId = new Map<string, { id: string; completed: number; computeMs: number }>();
      for await (const e of ctx.kv.list({ prefix: donorPrefix() })) {
        const [, id, stat] = e.key as [string, string, "completed" | "computeMs"];
        const d = byId.get(id) ?? byId.set(id, { id, completed: 0, computeMs: 0 }).get(id)!;
        d[stat] = counterValue(e.value);
      }
      const donors = [...byId.values()].sort((a, b) => b.completed - a.completed);
      return c.json({ donors }, 200);
    },
  );

  return app;
}
