/**
 * Job routes: create, append, close, read, list, results (NDJSON or SSE), cancel, retry, delete.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  ApiError,
  AppendJob,
  AppendJobResponse,
  CreateJob,
  Job,
  JobActionResponse,
  JobDeleteResponse,
  JobListQuery,
  JobPage,
  JobResultsQuery,
} from "../../../shared/protocol.ts";
import { ownerOf, taskScope } from "../../auth/auth.ts";
import { createJob } from "../../jobs/create_job.ts";
import { appendJob, closeJob } from "../../jobs/append_job.ts";
import { cancelJob, retryJob } from "../../jobs/cancel_job.ts";
import { deleteJob } from "../../jobs/delete_job.ts";
import { jobResults, type Line } from "../../jobs/job_results.ts";
import { jobView, visibleJob } from "../../jobs/job_view.ts";
import { listJobs } from "../../jobs/list_jobs.ts";
import { ApiFailure } from "../errors.ts";
import { type Deps, jsonBody, jsonResponse, refusals, router } from "./deps.ts";

const IdParam = z.object({ id: z.string().min(1).max(100) });
const errors = {
  ...refusals,
  404: jsonResponse(ApiError, "`not_found`: no such job (or another client's)"),
};

/** Lines per chunk written to the response (a chunk is also cut at ~64 KiB). */
const LINES_PER_CHUNK = 512;
const CHUNK_CHARS = 64 * 1024;

export function jobRoutes({ ctx, stopping }: Deps) {
  const app = router();

  app.openapi(
    createRoute({
      method: "post",
      path: "/jobs",
      summary: "Create a job: one task per input, all or nothing",
      request: { body: jsonBody(CreateJob) },
      responses: {
        201: jsonResponse(Job, "created"),
        200: jsonResponse(Job, "already known (idempotency key)"),
        ...errors,
      },
    }),
    async (c) => {
      const { job, created } = await createJob(ctx, c.req.valid("json"), ownerOf(c.get("auth")));
      return c.json(job, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/jobs",
      summary: "List jobs, newest first, with a cursor; ?status= filters",
      request: { query: JobListQuery },
      responses: { 200: jsonResponse(JobPage, "a page"), ...errors },
    }),
    async (c) => c.json(await listJobs(ctx, c.req.valid("query"), taskScope(c.get("auth"))), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/jobs/{id}",
      summary: "A job's counts, progress, throughput, ETA and times",
      request: { params: IdParam },
      responses: { 200: jsonResponse(Job, "the job"), ...errors },
    }),
    async (c) => {
      const entry = await visibleJob(ctx, c.req.valid("param").id, taskScope(c.get("auth")));
      return c.json(await jobView(ctx, entry.value), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/jobs/{id}/tasks",
      summary: "Append inputs to an open job (409 once it is closed)",
      request: { params: IdParam, body: jsonBody(AppendJob) },
      responses: { 201: jsonResponse(AppendJobResponse, "appended"), ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { inputs } = c.req.valid("json");
      return c.json(await appendJob(ctx, id, inputs, taskScope(c.get("auth"))), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/jobs/{id}/close",
      summary: "No more inputs will come: the job finishes when its last task ends",
      request: { params: IdParam },
      responses: { 200: jsonResponse(Job, "closed"), ...errors },
    }),
    async (c) =>
      c.json(await closeJob(ctx, c.req.valid("param").id, taskScope(c.get("auth"))), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/jobs/{id}/cancel",
      summary: "Cancel every unfinished task of the job (holders are told at once)",
      request: { params: IdParam },
      responses: { 200: jsonResponse(JobActionResponse, "cancelled"), ...errors },
    }),
    async (c) =>
      c.json(await cancelJob(ctx, c.req.valid("param").id, taskScope(c.get("auth"))), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/jobs/{id}/retry",
      summary: "Requeue the job's failed tasks with a fresh attempt budget",
      request: { params: IdParam },
      responses: { 200: jsonResponse(JobActionResponse, "requeued"), ...errors },
    }),
    async (c) =>
      c.json(await retryJob(ctx, c.req.valid("param").id, taskScope(c.get("auth"))), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/jobs/{id}",
      summary: "Retire a finished job: purge its tasks, results and indexes (409 while running)",
      request: { params: IdParam },
      responses: { 200: jsonResponse(JobDeleteResponse, "purged"), ...errors },
    }),
    async (c) =>
      c.json(await deleteJob(ctx, c.req.valid("param").id, taskScope(c.get("auth"))), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/jobs/{id}/results",
      summary: "The job's results: NDJSON lines (JobResultLine), or SSE with Accept: " +
        "text/event-stream; ?order=input, ?follow=1 until finished, ?after=CURSOR resumes",
      request: { params: IdParam, query: JobResultsQuery },
      responses: {
        200: {
          description: "a stream of JobResultLine",
          content: {
            "application/x-ndjson": { schema: z.string() },
            "text/event-stream": { schema: z.string() },
          },
        },
        ...errors,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const q = c.req.valid("query");
      const sse = (c.req.header("accept") ?? "").includes("text/event-stream");
      const after = q.after ?? (sse ? c.req.header("last-event-id") : undefined);
      const order = q.order;
      if (after !== undefined && !(order === "input" ? /^i\d+$/ : /^c\d+\..+$/).test(after)) {
        throw new ApiFailure("validation", `after: not a cursor of ${order} order`, "after");
      }
      const entry = await visibleJob(ctx, id, taskScope(c.get("auth")));
      const abort = new AbortController();
      const stop = () => abort.abort();
      c.req.raw.signal.addEventListener("abort", stop, { once: true });
      stopping?.addEventListener("abort", stop, { once: true });
      const lines = jobResults(ctx, entry.value, {
        order,
        follow: q.follow === "1" || q.follow === "true",
        ...(after !== undefined ? { after } : {}),
        signal: abort.signal,
      });
      const format = sse
        ? (l: Line) => `id: ${l.cursor}\nevent: result\ndata: ${l.json}\n\n`
        : (l: Line) => l.json + "\n";
      const enc = new TextEncoder();
      const finish = () => {
        c.req.raw.signal.removeEventListener("abort", stop);
        stopping?.removeEventListener("abort", stop);
      };
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          let chunk = "";
          try {
            for (let n = 0; n < LINES_PER_CHUNK && chunk.length < CHUNK_CHARS; n++) {
              const next = await lines.next();
              if (next.done) {
                if (sse) chunk += "event: end\ndata: {}\n\n";
                if (chunk) controller.enqueue(enc.encode(chunk));
                controller.close();
                finish();
                return;
              }
              if (next.value === null) {
                // The stream waits for more: send what it has.
                if (chunk) break;
                continue;
              }
              chunk += format(next.value);
            }
          } catch (e) {
            ctx.log.warn("job results stream failed", { job: id, error: String(e) });
            if (chunk) controller.enqueue(enc.encode(chunk));
            controller.error(e);
            finish();
            return;
          }
          controller.enqueue(enc.encode(chunk));
        },
        async cancel() {
          abort.abort();
          finish();
          await lines.return(undefined);
        },
      });
      return new Response(body, {
        status: 200,
        headers: {
          "content-type": sse ? "text/event-stream" : "application/x-ndjson",
          "cache-control": "no-cache",
        },
      }) as never;
    },
  );

  return app;
}
