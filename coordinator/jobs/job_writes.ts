/**
 * What a transition of a job's task adds to its intent: the job's counters move with the task's
 * status, and a task that ends gets its result line in the completion index (a retry takes it
 * back out). One set (or delete) per end, plus sums the committer merges per key and commit.
 *
 * @module
 */
import type { Task, TaskStatus } from "../../shared/protocol.ts";
import { type JobBucket, jobCountKey, jobDoneKey } from "../store/keys.ts";
import { sizeBound } from "../store/encoded_size.ts";
import type { JobDoneEntry } from "./job_record.ts";

/** Results up to this many bytes of JSON are copied into the completion index. */
const INLINE_RESULT_BYTES = 4096;

const isFinal = (s: TaskStatus) => s === "completed" || s === "failed" || s === "cancelled";

/** The job counter a status counts in; pending is derived, so it has none. */
export const jobBucket = (s: TaskStatus): JobBucket | null => s === "pending" ? null : s;

export interface JobWrites {
  mutations: Deno.KvMutation[];
  sums: Array<[Deno.KvKey, bigint]>;
  bytes: number;
}

/** The job's part of `from` (counted as `counted`) becoming `next`; nothing for a task of no job. */
export function jobTransitionWrites(
  from: Task,
  counted: TaskStatus,
  next: Task,
  now: number,
): JobWrites | null {
  const job = from.job;
  if (!job) return null;
  const out: JobWrites = { mutations: [], sums: [], bytes: 0 };
  if (counted !== next.status) {
    const was = jobBucket(counted), is = jobBucket(next.status);
    if (was) out.sums.push([jobCountKey(job.id, was), -1n]);
    if (is) out.sums.push([jobCountKey(job.id, is), 1n]);
  }
  if (isFinal(from.status) && !isFinal(next.status)) {
    out.mutations.push({ type: "delete", key: jobDoneKey(job.id, from.completedAt ?? 0, from.id) });
  }
  if (!isFinal(counted) && isFinal(next.status)) {
    const entry = doneEntry(next);
    out.mutations.push({
      type: "set",
      key: jobDoneKey(job.id, next.completedAt ?? now, from.id),
      value: entry,
    });
    out.bytes += (entry instanceof Uint8Array ? entry.length : sizeBound(entry)) + 100;
  }
  return out;
}

const encoder = new TextEncoder();

/** The error line of a task cancelled before any attempt (it has no error of its own). */
export const CANCELLED_ERROR = Object.freeze({
  code: "cancelled" as const,
  message: "the task was cancelled",
  retryable: false,
});

/**
 * The completion entry: the result line as UTF-8 JSON without its closing brace (a reader adds
 * `,"cursor":…}` and writes it out as it is: no decoding, no re-encoding), or, for a result
 * too large to copy, where to read it.
 */
function doneEntry(t: Task): Uint8Array | JobDoneEntry {
  const status = t.status as JobDoneEntry["status"];
  const index = t.job!.index;
  const line = status === "completed"
    ? { index, id: t.id, status, result: t.result ?? null }
    : { index, id: t.id, status, error: t.error ?? CANCELLED_ERROR };
  const json = JSON.stringify(line);
  if (json.length > INLINE_RESULT_BYTES) return { index, status, apart: true };
  return encoder.encode(json.slice(0, -1));
}
