/**
 * The few API calls the dashboard makes, relative to the page's origin (`/api`), so the same
 * build works behind the coordinator and behind Vite's dev proxy.
 *
 * @module
 */
import type {
  ApiError,
  AwaitResponse,
  CreateJob,
  Donor,
  DonorsResponse,
  Job,
  JobActionResponse,
  JobPage,
  JobStatus,
  PublicStats,
  SubmitTask,
  Task,
  TaskPage,
  WhoAmI,
  WorkerInfo,
  WorkerKind,
} from "../../shared/protocol.ts";
import { authHeaders } from "./admin_key.ts";

export const API = "/api";

export class ApiCallError extends Error {
  override name = "ApiCallError";
  constructor(readonly status: number, message: string, readonly code: string | null = null) {
    super(message);
  }
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`${API}${path}`, {
    ...init,
    headers: { ...authHeaders(), ...(init?.body ? { "content-type": "application/json" } : {}) },
  });
  const text = await res.text();
  // Read defensively: an error body may not be an ApiError (a proxy's page, say).
  let body: Partial<ApiError> | null = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    throw new ApiCallError(
      res.status,
      body?.error?.message ?? `${res.status} ${res.statusText}`,
      body?.error?.code ?? null,
    );
  }
  return body as unknown as T;
}

/** One task, or null when there is no such task. */
export async function getTask(id: string): Promise<Task | null> {
  try {
    return await call<Task>(`/tasks/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e instanceof ApiCallError && e.status === 404) return null;
    throw e;
  }
}

/** Many tasks at once, in order (null for unknown ids), without waiting. */
export async function getTasks(ids: string[]): Promise<Array<Task | null>> {
  const out: Array<Task | null> = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const { tasks } = await call<AwaitResponse>("/tasks/await", {
      method: "POST",
      body: JSON.stringify({ ids: chunk, waitMs: 0 }),
    });
    out.push(...tasks);
  }
  return out;
}

export async function submitTasks(tasks: SubmitTask[]): Promise<Task[]> {
  const body = await call<{ tasks: Task[] }>("/tasks", {
    method: "POST",
    body: JSON.stringify({ tasks }),
  });
  return body.tasks;
}

const kinds = new Map<string, Promise<WorkerKind | null>>();

/** A worker's kind, asked once per worker. */
export function workerKind(id: string): Promise<WorkerKind | null> {
  let kind = kinds.get(id);
  if (!kind) {
    kind = call<Pick<WorkerInfo, "kind">>(`/workers/${encodeURIComponent(id)}/stats`)
      .then((w) => w.kind, () => null);
    kinds.set(id, kind);
  }
  return kind;
}

/** The donors' totals, or null when this coordinator has no donors endpoint. */
export async function getDonors(): Promise<Donor[] | null> {
  try {
    const body = await call<Partial<DonorsResponse> | Donor[]>("/donors");
    return Array.isArray(body) ? body : body?.donors ?? [];
  } catch (e) {
    if (e instanceof ApiCallError && e.status === 404) return null;
    throw e;
  }
}

/**
 * Who the console's key makes us: the role and what the console may do, or `refused` when the
 * coordinator turned the key down (401).
 */
export async function whoAmI(): Promise<WhoAmI | "refused"> {
  try {
    return await call<WhoAmI>("/whoami");
  } catch (e) {
    if (e instanceof ApiCallError && e.status === 401) return "refused";
    throw e;
  }
}

export interface TaskFilter {
  status?: string;
  type?: string;
  queue?: string;
  worker?: string;
  limit?: number;
  cursor?: string;
}

/** One page of `GET /api/tasks`. */
export function listTasks(filter: TaskFilter): Promise<TaskPage> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v !== undefined && v !== "") q.set(k, String(v));
  return call<TaskPage>(`/tasks?${q}`);
}

export const retryTask = (id: string): Promise<Task> =>
  call<Task>(`/tasks/${encodeURIComponent(id)}/retry`, { method: "POST" });

export const cancelTask = (id: string): Promise<Task> =>
  call<Task>(`/tasks/${encodeURIComponent(id)}/cancel`, { method: "POST" });

/**
 * Runs `fn` on every id, a few at a time; the ids it failed for, with why.
 */
export async function forEachTask(
  ids: string[],
  fn: (id: string) => Promise<unknown>,
): Promise<Array<{ id: string; message: string }>> {
  const failed: Array<{ id: string; message: string }> = [];
  let next = 0;
  const lane = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      try {
        await fn(id);
      } catch (e) {
        failed.push({ id, message: (e as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, ids.length) }, lane));
  return failed;
}

/** The public view of the grid (no key needed). */
export const getPublic = (): Promise<PublicStats> => call<PublicStats>("/public");

/** One page of `GET /api/jobs`, newest first. */
export function listJobs(filter: { status?: JobStatus; limit?: number } = {}): Promise<JobPage> {
  const q = new URLSearchParams();
  if (filter.status) q.set("status", filter.status);
  if (filter.limit) q.set("limit", String(filter.limit));
  return call<JobPage>(`/jobs?${q}`);
}

export const getJob = (id: string): Promise<Job> => call<Job>(`/jobs/${encodeURIComponent(id)}`);

export const createJob = (job: CreateJob): Promise<Job> =>
  call<Job>("/jobs", { method: "POST", body: JSON.stringify(job) });

export const cancelJob = (id: string): Promise<JobActionResponse> =>
  call<JobActionResponse>(`/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" });
