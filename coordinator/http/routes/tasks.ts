/**
 * Task routes: submit, read, list, wait, cancel, retry, and the lease-holder's calls on one task
 * (heartbeat, complete, fail, release, plus the seed protocol's claim).
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  ApiError,
  AwaitRequest,
  AwaitResponse,
  CompleteRequest,
  FailRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  ListQuery,
  ReleaseRequest,
  SeedClaimRequest,
  SubmitBatch,
  SubmitResponse,
  SubmitTask,
  Task,
  TaskPage,
} from "../../../shared/protocol.ts";
import { awaitTasks, isFinal } from "../../tasks/await_tasks.ts";
import { canSee, operatorWorker, ownerOf, type RequestAuth, taskScope } from "../../auth/auth.ts";
import type { Ctx } from "../../context.ts";
import { cancelTask } from "../../tasks/cancel.ts";
import { enqueue } from "../../tasks/enqueue.ts";
import { ApiFailure } from "../errors.ts";
import { finishAttempt } from "../../tasks/report.ts";
import { heartbeat } from "../../tasks/heartbeat.ts";
import { listTasks } from "../../tasks/list_tasks.ts";
import { readTask } from "../../store/read_task.ts";
import { retryTask } from "../../tasks/retry.ts";
import { type Deps, jsonBody, jsonResponse, refusals, router } from "./deps.ts";

const IdParam = z.object({ id: z.string().min(1).max(100) });
const errors = {
  ...refusals,
  404: jsonResponse(ApiError, "`not_found`: no such task (or another client's)"),
};

/** A task the caller may see; another client's task is answered exactly like a missing one. */
async function visibleTask(ctx: Ctx, auth: RequestAuth, id: string): Promise<Task> {
  const task = await readTask(ctx, id);
  if (!task || !canSee(auth, task)) throw new ApiFailure("not_found", `no task ${id}`);
  return task;
}

export function taskRoutes({ ctx, dispatcher, workers }: Deps) {
  const app = router();

  app.openapi(
    createRoute({
      method: "post",
      path: "/tasks",
      summary: "Submit one task, or up to 1,000 as { tasks: [...] }",
      request: { body: jsonBody(z.union([SubmitBatch, SubmitTask])) },
      responses: {
        201: jsonResponse(SubmitResponse, "created"),
        200: jsonResponse(SubmitResponse, "already known (idempotency key)"),
        ...errors,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const owner = ownerOf(c.get("auth"));
      const quota = c.get("auth").quota;
      if ("tasks" in body) {
        const { tasks, created } = await enqueue(ctx, body.tasks, { batch: true, owner, quota });
        return c.json({ tasks }, created.some(Boolean) ? 201 : 200);
      }
      const { tasks, created } = await enqueue(ctx, [body], { batch: false, owner, quota });
      return c.json(tasks[0], created[0] ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/tasks",
      summary: "List tasks by status, type and queue, oldest first, with a cursor",
      request: { query: ListQuery },
      responses: {
        200: jsonResponse(TaskPage, "a page"),
        ...errors,
      },
    }),
    async (c) =>
      c.json(
        await listTasks(ctx, { ...c.req.valid("query"), owner: taskScope(c.get("auth")) }),
        200,
      ),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tasks/await",
      summary: "Long-poll several tasks: returns once one of them is final, or after waitMs",
      request: { body: jsonBody(AwaitRequest) },
      responses: {
        200: jsonResponse(AwaitResponse, "the tasks, in order; null for unknown ids"),
        ...errors,
      },
    }),
    async (c) => {
      const { ids, waitMs } = c.req.valid("json");
      const auth = c.get("auth");
      if (taskScope(auth) !== undefined) {
        // A client: others' tasks are unknown ids (null), which answer at once, as for any
        // unknown id, so waiting reveals nothing about them.
        const seen = (await Promise.all(ids.map((id) => readTask(ctx, id))))
          .map((t) => t && canSee(auth, t) ? t : null);
        if (waitMs === 0 || seen.some((t) => t === null || isFinal(t))) {
          return c.json({ tasks: seen }, 200);
        }
      }
      return c.json({ tasks: await awaitTasks(ctx, ids, waitMs, c.req.raw.signal, 50) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tasks/claim",
      summary: "Seed protocol: claim one task for worker_id; the task (with its leaseId) or null",
      request: { body: jsonBody(SeedClaimRequest) },
      responses: {
        200: jsonResponse(Task.extend({ leaseId: z.string() }).nullable(), "a task or null"),
        ...errors,
      },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const workerId = (b.worker_id ?? b.workerId)!;
      const types = b.task_types ?? b.types;
      const operator = operatorWorker(c.get("auth"), "other");
      workers.seen(workerId, types ? { types, operator } : { operator });
      const [lease] = await dispatcher.claim({
        workerId,
        max: 1,
        waitMs: b.waitMs ?? 0,
        types,
        queues: b.queues,
        via: "seed",
        operator,
        signal: c.req.raw.signal,
      });
      return c.json(
        lease ? { ...lease.task, leaseId: lease.leaseId, leaseExpiresAt: lease.expiresAt } : null,
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/tasks/{id}",
      summary: "Read one task; ?wait=ms long-polls until it is final",
      request: {
        params: IdParam,
        query: z.object({ wait: z.coerce.number().int().min(0).max(30_000).optional() }),
      },
      responses: { 200: jsonResponse(Task, "the task"), ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const wait = c.req.valid("query").wait ?? 0;
      const task = await visibleTask(ctx, c.get("auth"), id);
      if (wait === 0 || isFinal(task)) return c.json(task, 200);
      const [ended] = await awaitTasks(ctx, [id], wait, c.req.raw.signal);
      return c.json(ended ?? task, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tasks/{id}/cancel",
      summary: "Cancel a pending or processing task",
      request: { params: IdParam },
      responses: { 200: jsonResponse(Task, "cancelled"), ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await visibleTask(ctx, c.get("auth"), id);
      return c.json(await cancelTask(ctx, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tasks/{id}/retry",
      summary: "Requeue a failed or cancelled task with a fresh attempt budget",
      request: { params: IdParam },
      responses: { 200: jsonResponse(Task, "pending again"), ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await visibleTask(ctx, c.get("auth"), id);
      return c.json(await retryTask(ctx, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tasks/{id}/heartbeat",
      summary: "Extend a lease; 409 when it is stale or the task was cancelled",
      request: { params: IdParam, body: jsonBody(HeartbeatRequest) },
      responses: { 200: jsonResponse(HeartbeatResponse, "extended"), ...errors },
    }),
    async (c) => {
      const { leaseId, progress } = c.req.valid("json");
      return c.json(await heartbeat(ctx, c.req.valid("param").id, leaseId, progress), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tasks/{id}/complete",
      summary: "Report a result; idempotent per lease, 409 for a stale lease",
      request: { params: IdParam, body: jsonBody(CompleteRequest) },
      responses: { 200: jsonResponse(Task, "accepted (or already accepted)"), ...errors },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const { task } = await finishAttempt(ctx, {
        taskId: c.req.valid("param").id,
        leaseId: b.leaseId ?? b.lease_id,
        workerId: b.worker_id,
        outcome: { kind: "completed", result: b.result ?? null },
      });
      return c.json(task, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tasks/{id}/fail",
      summary: "Report a failure; retryable errors are retried with backoff",
      request: { params: IdParam, body: jsonBody(FailRequest) },
      responses: { 200: jsonResponse(Task, "recorded"), ...errors },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const error = typeof b.error === "string"
        ? { code: "handler" as const, message: b.error, retryable: true }
        : b.error;
      const { task } = await finishAttempt(ctx, {
        taskId: c.req.valid("param").id,
        leaseId: b.leaseId ?? b.lease_id,
        workerId: b.worker_id,
        outcome: { kind: "failed", error },
      });
      return c.json(task, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tasks/{id}/release",
      summary:
        "Hand a lease back unfinished (shutdown, pause): requeued at once, attempt not counted",
      request: { params: IdParam, body: jsonBody(ReleaseRequest) },
      responses: { 200: jsonResponse(Task, "requeued"), ...errors },
    }),
    async (c) => {
      const { task } = await finishAttempt(ctx, {
        taskId: c.req.valid("param").id,
        leaseId: c.req.valid("json").leaseId,
        outcome: { kind: "released" },
      });
      return c.json(task, 200);
    },
  );

  return app;
}
