/**
 * The client SDK: submit tasks and jobs and get their results. Universal (only `fetch`), so it
 * runs in Deno, browsers and Node; the coordinator serves it bundled at `/client.js` and as an
 * npm package at `/client.tgz`.
 *
 * @example
 * ```ts
 * const tessera = createClient({ baseUrl: "http://127.0.0.1:8787/api" });
 * const task = await tessera.submit("primes.count", { from: 0, to: 1_000_000 });
 * const { count } = await tessera.wait<{ count: number }>(task.id);
 * const job = await tessera.createJob("primes.count", [{ from: 0, to: 100 }, { from: 100, to: 200 }]);
 * for await (const line of job.results({ follow: true, order: "input" })) console.log(line.result);
 * const counts = await tessera.map("primes.count", [{ from: 0, to: 100 }, { from: 100, to: 200 }]);
 * ```
 *
 * @module
 */
import {
  ApiError,
  type CreateJob,
  Job,
  JobPage,
  type JobStatus,
  LIMITS,
  type Stats,
  type SubmitTask,
  Task,
  type TaskStatus,
} from "./protocol.ts";
import { ApiRequestError, TaskFailedError, UNAVAILABLE } from "./client/errors.ts";
import { type JobHandle, jobHandle, type JobTransport } from "./client/job_handle.ts";
import { chunkInputs } from "./client/chunk_inputs.ts";

export { ApiRequestError, TaskFailedError };
export type { JobHandle, ResultsOptions, WaitOptions } from "./client/job_handle.ts";
export type {
  AppendJobResponse,
  Job,
  JobActionResponse,
  JobCounts,
  JobDeleteResponse,
  JobPage,
  JobResultLine,
  JobStatus,
  Task,
  TaskError,
  TaskStatus,
} from "./protocol.ts";

export interface ClientOptions {
  /**
   * The API base, e.g. `http://127.0.0.1:8787/api`; or several coordinators on one store (an
   * array, or comma-separated), tried in turn when one cannot be reached.
   */
  baseUrl: string | string[];
  /** Bearer token (client API key). */
  token?: string;
  fetch?: typeof fetch;
}

/** Per-task options of a submission. */
export type SubmitOptions = Omit<SubmitTask, "type" | "params">;

/** Options of a job: everything of `CreateJob` but its type and inputs. */
export type JobOptions = Omit<CreateJob, "type" | "inputs">;

export interface MapProgress {
  total: number;
  /** Tasks completed. */
  done: number;
  /** Tasks failed or cancelled. */
  failed: number;
  /** The job's progress in [0, 1], running tasks' reported fractions included. */
  fraction: number;
}

export interface MapOptions extends JobOptions {
  /** Told the job's progress every `progressEveryMs` while it runs, and once at the end. */
  onProgress?: (progress: MapProgress) => void;
  /** @default {500} */
  progressEveryMs?: number;
  /** Cancel the job's unfinished tasks when one fails. @default true */
  cancelOnError?: boolean;
}

export interface JobListFilter {
  status?: JobStatus;
  limit?: number;
  cursor?: string;
}

export interface ListFilter {
  status?: TaskStatus;
  type?: string;
  queue?: string;
  limit?: number;
  cursor?: string;
}

const FINAL = new Set(["completed", "failed", "cancelled"]);

/** Creates a client for one coordinator, or for several that share a store (failover). */
export function createClient(options: ClientOptions) {
  const bases = (Array.isArray(options.baseUrl) ? options.baseUrl : options.baseUrl.split(","))
    .map((u) => u.trim().replace(/\/+$/, "")).filter(Boolean);
  if (bases.length === 0) throw new Error("createClient: baseUrl names no coordinator");
  let current = 0;
  const doFetch = options.fetch ?? fetch;

  /**
   * One request, answered 2xx. With several coordinators, a network error or a 502/503/504
   * moves on to the next one; only requests that are safe to repeat are repeated (`retry`),
   * which is why submissions carry an idempotency key when there is more than one coordinator.
   */
  async function send(
    method: string,
    path: string,
    body?: unknown,
    retry = method === "GET",
    signal?: AbortSignal,
  ): Promise<Response> {
    for (let tried = 0;; tried++) {
      const base = bases[current];
      let res: Response;
      try {
        res = await doFetch(`${base}${path}`, {
          method,
          headers: {
            ...(body !== undefined ? { "content-type": "application/json" } : {}),
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        });
      } catch (e) {
        if (!retry || signal?.aborted || tried + 1 >= bases.length * 2) throw e;
        current = (current + 1) % bases.length;
        await new Promise((r) => setTimeout(r, tried < bases.length ? 0 : 200));
        continue;
      }
      if (UNAVAILABLE.has(res.status) && retry && tried + 1 < bases.length * 2) {
        await res.body?.cancel();
        current = (current + 1) % bases.length;
        continue;
      }
      if (res.ok) return res;
      const text = await res.text();
      const parsed = ApiError.safeParse(text ? safeJson(text) : null);
      const e = parsed.success
        ? parsed.data.error
        : { code: "http", message: text || res.statusText };
      throw new ApiRequestError(res.status, e.code, e.message, "field" in e ? e.field : undefined);
    }
  }

  async function call(method: string, path: string, body?: unknown, retry = method === "GET") {
    const text = await (await send(method, path, body, retry)).text();
    return text ? JSON.parse(text) : null;
  }

  const transport: JobTransport = {
    call,
    stream: async (path, signal) => (await send("GET", path, undefined, true, signal)).body!,
  };
  const failover = bases.length > 1;
  /** With failover, every submission gets a key, so a repeat on another coordinator is safe. */
  const keyed = <T extends { idempotencyKey?: string | undefined }>(t: T): T =>
    failover && t.idempotencyKey === undefined ? { ...t, idempotencyKey: crypto.randomUUID() } : t;

  const parseTask = (v: unknown) => Task.parse(v);

  const client = {
    /** Submits one task. */
    async submit(type: string, params: unknown, opts: SubmitOptions = {}): Promise<Task> {
      return parseTask(await call("POST", "/tasks", keyed({ ...opts, type, params }), failover));
    },

    /** Submits many tasks (any number; sent in batches of 1,000); tasks come back in order. */
    async submitMany(tasks: SubmitTask[]): Promise<Task[]> {
      const out: Task[] = [];
      for (let i = 0; i < tasks.length; i += LIMITS.batchTasks) {
        const batch = tasks.slice(i, i + LIMITS.batchTasks).map(keyed);
        const res = await call("POST", "/tasks", { tasks: batch }, failover);
        out.push(...(res as { tasks: unknown[] }).tasks.map(parseTask));
      }
      return out;
    },

    /** Reads a task; with `waitMs`, waits up to that long for it to end. */
    async get(id: string, opts: { waitMs?: number } = {}): Promise<Task> {
      const q = opts.waitMs ? `?wait=${Math.min(opts.waitMs, LIMITS.waitMs)}` : "";
      return parseTask(await call("GET", `/tasks/${encodeURIComponent(id)}${q}`));
    },

    /** Waits for a task to end; resolves with its result or rejects with `TaskFailedError`. */
    async wait<R = unknown>(id: string, opts: { timeoutMs?: number } = {}): Promise<R> {
      const deadline = Date.now() + (opts.timeoutMs ?? Infinity);
      while (true) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`task ${id} did not end within ${opts.timeoutMs} ms`);
        const task = await client.get(id, { waitMs: Math.min(left, LIMITS.waitMs) });
        if (task.status === "completed") return task.result as R;
        if (FINAL.has(task.status)) throw new TaskFailedError(task);
      }
    },

    async cancel(id: string): Promise<Task> {
      return parseTask(await call("POST", `/tasks/${encodeURIComponent(id)}/cancel`));
    },

    async retry(id: string): Promise<Task> {
      return parseTask(await call("POST", `/tasks/${encodeURIComponent(id)}/retry`));
    },

    async list(filter: ListFilter = {}): Promise<{ tasks: Task[]; cursor: string | null }> {
      const q = new URLSearchParams(
        Object.entries(filter).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]),
      );
      const res = await call("GET", `/tasks?${q}`) as { tasks: unknown[]; cursor: string | null };
      return { tasks: res.tasks.map(parseTask), cursor: res.cursor };
    },

    async stats(): Promise<Stats> {
      return await call("GET", "/stats") as Stats;
    },

    /**
     * Creates a job: one task of `type` per input, in order. Inputs of any number and size are
     * sent in request-sized pieces: the job is created open with the first and closed after the
     * last (unless `open` is asked), so it never finishes early.
     */
    async createJob(
      type: string,
      inputs: readonly unknown[],
      opts: JobOptions = {},
    ): Promise<JobHandle> {
      const [first = [], ...rest] = chunkInputs(inputs);
      const body = keyed({ ...opts, type, inputs: first, open: opts.open || rest.length > 0 });
      const job = Job.parse(await call("POST", "/jobs", body, failover));
      const handle = jobHandle(job.id, transport);
      if (rest.length > 0) {
        await handle.append(rest.flat());
        if (!opts.open) await handle.close();
      }
      return handle;
    },

    /** The handle of an existing job. */
    job(id: string): JobHandle {
      return jobHandle(id, transport);
    },

    /** One page of jobs, newest first (a client key sees only its own). */
    async jobs(filter: JobListFilter = {}): Promise<JobPage> {
      const q = new URLSearchParams(
        Object.entries(filter).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]),
      );
      return JobPage.parse(await call("GET", `/jobs?${q}`));
    },

    /**
     * Runs `type` over every input as one job and resolves with the results in input order.
     * Rejects with `TaskFailedError` as soon as one task fails (cancelling the job's other tasks
     * unless told not to).
     */
    async map<R = unknown>(
      type: string,
      inputs: readonly unknown[],
      opts: MapOptions = {},
    ): Promise<R[]> {
      const { onProgress, progressEveryMs = 500, cancelOnError = true, ...jobOpts } = opts;
      const job = await client.createJob(type, inputs, jobOpts);
      const results = new Array<R>(inputs.length);
      let completed = 0;
      const progressOf = (j: Job): MapProgress => ({
        total: j.counts.total,
        // The stream may be ahead of the counters read a moment earlier.
        done: Math.max(j.counts.completed, completed),
        failed: j.counts.failed + j.counts.cancelled,
        fraction: j.progress.fraction,
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      let inflight: Promise<void> = Promise.resolve();
      let polling = onProgress !== undefined;
      const poll = async () => {
        try {
          const j = await job.status();
          if (polling) onProgress?.(progressOf(j));
        } catch { /* the next poll, or the stream, will tell */ }
        if (polling) timer = setTimeout(() => inflight = poll(), progressEveryMs);
      };
      if (polling) await (inflight = poll());
      try {
        for await (const line of job.results({ follow: true })) {
          if (line.status !== "completed") {
            throw new TaskFailedError(parseTask(await call("GET", `/tasks/${line.id}`)));
          }
          results[line.index] = line.result as R;
          completed++;
        }
        polling = false;
        clearTimeout(timer);
        await inflight;
        if (onProgress) onProgress(progressOf(await job.status()));
        return results;
      } catch (e) {
        if (e instanceof TaskFailedError && cancelOnError) await job.cancel().catch(() => {});
        throw e;
      } finally {
        polling = false;
        clearTimeout(timer);
        await inflight;
      }
    },
  };
  return client;
}

export type Client = ReturnType<typeof createClient>;

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
