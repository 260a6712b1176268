/**
 * Native lease routes for workers that take several tasks at a time: claim many, report many.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import {
  ClaimRequest,
  ClaimResponse,
  ReportRequest,
  ReportResponse,
} from "../../../shared/protocol.ts";
import { operatorWorker } from "../../auth/auth.ts";
import { finishMany } from "../../tasks/report.ts";
import { type Deps, jsonBody, jsonResponse, refusals, router } from "./deps.ts";

export function leaseRoutes({ ctx, dispatcher, workers }: Deps) {
  const app = router();

  app.openapi(
    createRoute({
      method: "post",
      path: "/leases",
      summary: "Claim up to `max` tasks, long-polling up to `waitMs` for the first",
      request: { body: jsonBody(ClaimRequest) },
      responses: {
        200: jsonResponse(ClaimResponse, "the leases (possibly none)"),
        ...refusals,
      },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const operator = operatorWorker(c.get("auth"), b.kind);
      workers.seen(b.workerId, {
        kind: b.kind,
        operator,
        ...(b.types ? { types: b.types } : {}),
        ...(b.concurrency ? { concurrency: b.concurrency } : {}),
      });
      const leases = await dispatcher.claim({
        workerId: b.workerId,
        max: b.max,
        waitMs: b.waitMs,
        types: b.types,
        queues: b.queues,
        kind: b.kind,
        operator,
        signal: c.req.raw.signal,
      });
      return c.json({ leases }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/leases/report",
      summary: "Report many outcomes at once; each is accepted or refused on its own",
      request: { body: jsonBody(ReportRequest) },
      responses: {
        200: jsonResponse(ReportResponse, "one outcome per item"),
        ...refusals,
      },
    }),
    async (c) => {
      const { items } = c.req.valid("json");
      const done = await finishMany(
        ctx,
        items.map((item) => ({
          taskId: item.taskId,
          leaseId: item.leaseId,
          outcome: "result" in item
            ? { kind: "completed" as const, result: item.result ?? null }
            : { kind: "failed" as const, error: item.error },
        })),
      );
      const outcomes = done.map((d, i) =>
        d.ok
          ? { taskId: items[i].taskId, ok: true }
          : { taskId: items[i].taskId, ok: false, code: d.error.code }
      );
      return c.json({ outcomes }, 200);
    },
  );

  return app;
}
