/**
 * The client SDK: submit tasks and get their results. Universal (only `fetch`), so it runs in
 * Deno, browsers and Node.
 *
 * @example
 * ```ts
 * const tessera = createClient({ baseUrl: "http://127.0.0.1:8787/api" });
 * const task = await tessera.submit("primes.count", { from: 0, to: 1_000_000 });
 * const { count } = await tessera.wait<{ count: number }>(task.id);
 * const counts = await tessera.map("primes.count", [{ from: 0, to: 100 }, { from: 100, to: 200 }]);
 * ```
 *
 * @module
 */
import {
  ApiError,
  LIMITS,
  type Stats,
  type SubmitTask,
  Task,
  type TaskError,
  type TaskStatus,
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

/** The API refused a request. */
export class ApiRequestError extends Error {
  override name = "ApiRequestError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A task ended failed or cancelled; `task.error` says why. */
export class TaskFailedError extends Error {
  override name = "TaskFailedError";
  readonly error: TaskError | null;
  constructor(readonly task: Task) {
    super(`task ${task.id} (${task.type}) ${task.status}: ${task.error?.message ?? "no error"}`);
    this.error = task.error;
  }
}

export interface MapProgress {
  total: number;
  done: number;
  failed: number;
}

export interface MapOptions extends SubmitOptions {
  onProgress?: (progress: MapProgress) => void;
  /** Cancel the unfinished tasks when one fails. @default true */
  cancelOnError?: boolean;
}

export interface ListFilter {
  status?: TaskStatus;
  type?: string;
  queue?: string;
  limit?: number;
  cursor?: string;
}

const FINAL = new Set(["completed", "failed", "cancelled"]);

/** Answers that mean "this coordinator cannot serve now; another one may". */
const UNAVAILABLE = new Set([502, 503, 504]);

/** Creates a client for one coordinator, or for several that share a store (failover). */
export function createClient(options: ClientOptions) {
  const bases = (Array.isArray(options.baseUrl) ? options.baseUrl : options.baseUrl.split(","))
    .map((u) => u.trim().replace(/\/+$/, "")).filter(Boolean);
  if (bases.length === 0) throw new Error("createClient: baseUrl names no coordinator");
  let current = 0;
  const doFetch = options.fetch ?? fetch;

  /**
   * One request. With several coordinators, a network error or a 502/503/504 moves on to the
   * next one; only requests that are safe to repeat are repeated (`retry`), which is why
   * submissions carry an idempotency key when there is more than one coordinator.
   */
  async function call(method: string, path: string, body?: unknown, retry = method === "GET") {
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
        });
      } catch (e) {
        if (!retry || tried + 1 >= bases.length * 2) throw e;
        current = (current + 1) % bases.length;
        await new Promise((r) => setTimeout(r, tried < bases.length ? 0 : 200));
        continue;
      }
      if (UNAVAILABLE.has(res.status) && retry && tried + 1 < bases.length * 2) {
        await res.body?.cancel();
        current = (current + 1) % bases.length;
        continue;
      }
      const text = await res.text();
      const json = text ? JSON.parse(text) : null;
      if (!res.ok) {
        const parsed = ApiError.safeParse(json);
        const e = parsed.success
          ? parsed.data.error
          : { code: "http", message: text || res.statusText };
        throw new ApiRequestError(
          res.status,
          e.code,
          e.message,
          "field" in e ? e.field : undefined,
        );
      }
      return json;
    }
  }
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
     * Runs `type` over every input and resolves with the results in input order. Rejects with
     * `TaskFailedError` as soon as one task fails (cancelling the rest unless told not to).
     */
    async map<R = unknown>(type: string, inputs: unknown[], opts: MapOptions = {}): Promise<R[]> {
      const { onProgress, cancelOnError = true, ...submitOpts } = opts;
      const tasks = await client.submitMany(
        inputs.map((params) => ({ ...submitOpts, type, params })),
      );
      const results = new Array<R>(inputs.length);
      const index = new Map(tasks.map((t, i) => [t.id, i]));
      const open = new Set(tasks.map((t) => t.id));
      const progress = { total: inputs.length, done: 0, failed: 0 };
      const settle = (t: Task) => {
        if (!open.has(t.id) || !FINAL.has(t.status)) return;
        open.delete(t.id);
        if (t.status !== "completed") {
          progress.failed++;
          throw new TaskFailedError(t);
        }
        results[index.get(t.id)!] = t.result as R;
        progress.done++;
      };
      try {
        for (const t of tasks) settle(t);
        onProgress?.({ ...progress });
        while (open.size > 0) {
          const ids = [...open];
          const groups: string[][] = [];
          for (let i = 0; i < ids.length; i += LIMITS.batchTasks) {
            groups.push(ids.slice(i, i + LIMITS.batchTasks));
          }
          // One long-poll per group; each returns as soon as one of its tasks ends.
          const answers = await Promise.all(
            groups.map((g) =>
              call("POST", "/tasks/await", { ids: g, waitMs: LIMITS.waitMs }, true) as Promise<
                { tasks: unknown[] }
              >
            ),
          );
          const before = progress.done;
          for (const a of answers) {
            for (const t of a.tasks) if (t) settle(parseTask(t));
          }
          if (progress.done !== before) onProgress?.({ ...progress });
        }
        return results;
      } catch (e) {
        if (e instanceof TaskFailedError && cancelOnError) {
          await Promise.allSettled([...open].map((id) => client.cancel(id)));
        }
        throw e;
      }
    },
  };
  return client;
}

export type Client = ReturnType<typeof createClient>;
