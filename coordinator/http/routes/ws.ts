/**
 * `GET /api/ws`: the WebSocket lease endpoint (protocol in shared/protocol.ts), and the donors'
 * totals kept from socket completions (`/donors`, and one donor's checked and pending credit).
 *
 * The token (a worker token or an admin key) comes as `?token=` or a bearer header; without one a
 * socket may only say hello as `kind: "browser"` (an anonymous volunteer) unless workers are
 * open (no worker token configured and no enforced keys), and then it is trusted only from this
 * machine (auth.ts). A refused token closes the socket with 4001.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { upgradeWebSocket } from "hono/deno";
import { ApiError, CLOSE, DonorCredit, DonorsResponse } from "../../../shared/protocol.ts";
import { listDonors, readDonorCredit } from "../../fleet/donors.ts";
import { ApiFailure } from "../errors.ts";
import type { WsHub } from "../../ws/ws_hub.ts";
import { type Deps, jsonResponse, router } from "./deps.ts";

/**
 * Runs `upgrade` after the handshake checks `Deno.upgradeWebSocket` would throw on, as 400s
 * naming the header; any other refusal of the upgrade is a 400 too, never a 500.
 */
const handshake = (upgrade: MiddlewareHandler): MiddlewareHandler =>
  async function handshake(c, next) {
    const refuse = (field: string, message: string): never => {
      throw new ApiFailure("bad_request", message, field);
    };
    if (c.req.header("upgrade")?.trim().toLowerCase() !== "websocket") {
      refuse("upgrade", "GET /api/ws is a WebSocket endpoint: send Upgrade: websocket");
    }
    if (!/(^|,)\s*upgrade\s*(,|$)/i.test(c.req.header("connection") ?? "")) {
      refuse("connection", "a WebSocket handshake needs Connection: Upgrade");
    }
    if (!/^[A-Za-z0-9+/]{22}==$/.test(c.req.header("sec-websocket-key")?.trim() ?? "")) {
      refuse("sec-websocket-key", "Sec-WebSocket-Key must be 16 bytes in base64");
    }
    if (c.req.header("sec-websocket-version")?.trim() !== "13") {
      refuse("sec-websocket-version", "only Sec-WebSocket-Version: 13 is spoken");
    }
    try {
      return await upgrade(c, next);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      return refuse("upgrade", `the WebSocket handshake was refused: ${e.message}`);
    }
  };

export function wsRoutes({ ctx }: Deps, hub: WsHub) {
  const app = router();

  app.get(
    "/ws",
    handshake(upgradeWebSocket((c) => {
      const auth = c.get("auth");
      const refused = auth.refused && (auth.enforced || auth.workerTokens);
      const trusted = auth.role === "worker" || auth.role === "admin";
      const open = !auth.enforced && !auth.workerTokens && auth.role === "anonymous";
      let conn: ReturnType<WsHub["open"]> | null = null;
      return {
        onOpen: (_evt, ws) => {
          if (refused) return ws.close(CLOSE.unauthorized, "the token was refused");
          conn = hub.open({
            send: (d) => ws.send(d),
            close: (code, reason) => ws.close(code, reason),
          }, { address: auth.address, worker: trusted || open, trusted, operator: auth.operator });
        },
        onMessage: (evt) => conn?.message(evt.data),
        onClose: (evt) => conn?.close(evt.code),
        onError: () => conn?.close(1006),
      };
    }, { protocol: undefined })), // the protocol has no subprotocols: none is chosen
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/donors",
      summary: "Browser volunteers' totals: tasks completed and compute time donated",
      security: [],
      responses: {
        200: jsonResponse(DonorsResponse, "donors, most tasks first"),
      },
    }),
    async (c) => {
      const donors = await listDonors(ctx);
      return c.json({ donors }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/donors/{id}",
      summary: "One donor's credit: checked (accepted results) and pending (votes not yet decided)",
      security: [],
      request: {
        params: z.object({ id: z.string().min(1).max(100) }),
      },
      responses: {
        200: jsonResponse(DonorCredit, "the donor's credit (zeros for a donor never seen)"),
        400: jsonResponse(ApiError, "`validation`: not a donor id"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await readDonorCredit(ctx, id), 200);
    },
  );

  return app;
}
