/**
 * A job as clients see it: its record, its counters (sums, no scan of its tasks), the progress
 * its running tasks reported (a range read of its leases, which share its prefix) and the
 * figures derived from them.
 *
 * @module
 */
import { type Job, JOB_LIMITS, type JobCounts, type JobStatus } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { counterValue } from "../store/committer.ts";
import {
  decodeJobCountKey,
  decodeJobDoneKey,
  decodeJobTaskId,
  decodeLeaseKey,
  jobCountPrefix,
  jobDonePrefix,
  jobHookKey,
  jobKey,
  jobTaskRange,
} from "../store/keys.ts";
import type { LeaseRecord } from "../store/task_view.ts";
import { ApiFailure } from "../http/errors.ts";
import type { JobRecord, WebhookState } from "./job_record.ts";

/** The job's counts from its sums; `pending` is what the others leave of its tasks. */
export async function readCounts(ctx: Ctx, job: JobRecord): Promise<JobCounts> {
  const c = { processing: 0, completed: 0, failed: 0, cancelled: 0 };
  for await (const e of ctx.kv.list({ prefix: jobCountPrefix(job.id) })) {
    c[decodeJobCountKey(e.key).bucket] = Math.max(0, counterValue(e.value));
  }
  const total = job.nextIndex;
  const pending = Math.max(0, total - c.processing - c.completed - c.failed - c.cancelled);
  return { total, pending, ...c };
}

/** Every task ended and no more can come. */
export const isFinished = (job: JobRecord, counts: JobCounts): boolean =>
  !job.open && counts.completed + counts.failed + counts.cancelled >= job.nextIndex;

/** The status a job has by its counts, whether or not its finish is recorded yet. */
export function statusOf(job: JobRecord, counts: JobCounts): JobStatus {
  if (job.status !== "running") return job.status;
  if (!isFinished(job, counts)) return "running";
  if (job.cancelledAt !== null) return "cancelled";
  return counts.failed + counts.cancelled > 0 ? "failed" : "completed";
}

/** When the last task of a job ended (the newest completion entry); null for none. */
export async function lastEndedAt(ctx: Ctx, jobId: string): Promise<number | null> {
  for await (
    const e of ctx.kv.list({ prefix: jobDonePrefix(jobId) }, { reverse: true, limit: 1 })
  ) {
    return decodeJobDoneKey(e.key).at;
  }
  return null;
}

export async function readJobEntry(ctx: Ctx, id: string): Promise<Deno.KvEntryMaybe<JobRecord>> {
  return await ctx.kv.get<JobRecord>(jobKey(id));
}

/** The job's record, or 404 when there is none or the caller may not see it. */
export async function visibleJob(
  ctx: Ctx,
  id: string,
  scope: string | undefined,
): Promise<Deno.KvEntry<JobRecord>> {
  const entry = await readJobEntry(ctx, id);
  if (!entry.value || (scope !== undefined && entry.value.owner !== scope)) {
    throw new ApiFailure("not_found", `no job ${id}`, "id");
  }
  return entry as Deno.KvEntry<JobRecord>;
}

/** The client's view of a job record. */
export async function jobView(ctx: Ctx, job: JobRecord): Promise<Job> {
  const [counts, hook] = await Promise.all([
    readCounts(ctx, job),
    job.callbackUrl ? ctx.kv.get<WebhookState>(jobHookKey(job.id)) : null,
  ]);
  const status = statusOf(job, counts);
  const finishedCount = counts.completed + counts.failed + counts.cancelled;
  const running: Job["progress"]["running"] = [];
  if (status === "running" && counts.processing > 0) {
    const range = jobTaskRange("lease", job.id);
    const leases = ctx.kv.list<LeaseRecord>(range, { limit: JOB_LIMITS.progressSamples });
    for await (const e of leases) {
      if (e.value.progress === undefined) continue;
      const { taskId } = decodeLeaseKey(e.key);
      running.push({
        taskId,
        index: decodeJobTaskId(taskId)?.index ?? 0,
        progress: e.value.progress,
      });
    }
  }
  const now = ctx.now();
  const finishedAt = status === "running"
    ? null
    : job.finishedAt ?? await lastEndedAt(ctx, job.id) ?? job.closedAt ?? now;
  const total = job.nextIndex;
  const partial = running.reduce((n, r) => n + r.progress, 0);
  const fraction = total === 0 ? (status === "running" ? 0 : 1) : Math.min(
    1,
    status === "running" ? (finishedCount + partial) / total : 1,
  );
  const elapsedS = Math.max(0.001, ((finishedAt ?? now) - job.createdAt) / 1000);
  const throughput = finishedCount / elapsedS;
  const etaMs = status !== "running" || job.open
    ? null
    : fraction > 0
    ? Math.round(elapsedS * 1000 * (1 - fraction) / fraction)
    : null;
  return {
    id: job.id,
    name: job.name,
    type: job.type,
    queue: job.queue,
    priority: job.priority,
    maxAttempts: job.maxAttempts,
    timeoutMs: job.timeoutMs,
    verification: job.verification,
    status,
    open: job.open,
    counts,
    progress: { finished: finishedCount, total, fraction, running },
    throughput,
    etaMs,
    createdAt: job.createdAt,
    closedAt: job.closedAt,
    finishedAt,
    cancelledAt: job.cancelledAt,
    idempotencyKey: job.idempotencyKey,
    owner: job.owner,
    callbackUrl: job.callbackUrl,
    webhook: job.callbackUrl
      ? {
        deliveredAt: hook?.value?.deliveredAt ?? null,
        attempts: hook?.value?.attempts ?? 0,
        lastError: hook?.value?.lastError ?? null,
      }
      : null,
  };
}
