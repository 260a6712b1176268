/**
 * retention: a grid that runs for months must not fill its disk. On a timer, finished tasks
 * older than `--retention` (7 days by default) are purged with their results and index entries,
 * and finished jobs whose retention (their own `retentionMs`, else `--retention`) has passed are
 * deleted whole, the way `DELETE /api/jobs/{id}` does. Each pass does a bounded amount of work.
 *
 * Plain tasks are found through the list index of each final status, read oldest first: ids are
 * time-sortable and a task ends after it is made, so the walk stops at the first id made after
 * the cut-off. Tasks of a job are left to their job: its results stay downloadable until then.
 *
 * @module
 */
import type { Ctx } from "../context.ts";
import { getMany } from "../context.ts";
import { deleteJob } from "../jobs/delete_job.ts";
import type { JobRecord } from "../jobs/job_record.ts";
import { purgeAt } from "../jobs/job_view.ts";
import { jobPrefix, statusIndexPrefix, taskIdOf, taskKey } from "../store/keys.ts";
import type { StoredTask } from "../store/task_view.ts";
import { endedAt, taskPurge } from "./purge.ts";
import { decodeTime } from "ulid";

/** Tasks looked at per status and queue per pass; about 6 mutations each, in commits of ≤ 800. */
const TASKS_PER_PASS = 500;
/** Jobs looked at per pass (the walk goes on where it stopped, round the whole list). */
const JOBS_PER_PASS = 200;
const PER_COMMIT = 800;

/** Returns how many tasks and jobs it purged. */
export async function purgeExpired(
  ctx: Ctx,
  state: RetentionState = { cursors: new Map() },
): Promise<{ tasks: number; jobs: number }> {
  const keep = ctx.config.retentionMs;
  const now = ctx.now();
  let tasks = 0, jobs = 0;
  if (keep > 0) {
    for (const bucket of ["completed", "failed", "cancelled"] as const) {
      for (const queue of ctx.queues) {
        tasks += await purgeBucket(ctx, bucket, queue, now - keep, state.cursors);
      }
    }
  }
  const list = ctx.kv.list<JobRecord>({ prefix: jobPrefix() }, {
    limit: JOBS_PER_PASS,
    ...(state.jobCursor ? { cursor: state.jobCursor } : {}),
  });
  let seen = 0;
  for await (const e of list) {
    seen++;
    const job = e.value;
    if (job.finishedAt === null) continue;
    const at = purgeAt(job, job.finishedAt, keep);
    if (at === null || at > now) continue;
    const { purged } = await deleteJob(ctx, job.id, undefined);
    tasks += purged;
    jobs++;
  }
  state.jobCursor = seen < JOBS_PER_PASS ? undefined : list.cursor;
  if (tasks + jobs > 0) ctx.log.info("purged expired work", { tasks, jobs });
  return { tasks, jobs };
}

/** Where each walk goes on: past entries it keeps (a job's tasks), so they never block it. */
export interface RetentionState {
  cursors: Map<string, string>;
  jobCursor?: string;
}

async function purgeBucket(
  ctx: Ctx,
  bucket: "completed" | "failed" | "cancelled",
  queue: string,
  cutoff: number,
  cursors: Map<string, string>,
): Promise<number> {
  const ids: string[] = [];
  const walk = `${bucket}\u0000${queue}`;
  const cursor = cursors.get(walk);
  const list = ctx.kv.list({ prefix: statusIndexPrefix(bucket, queue) }, {
    limit: TASKS_PER_PASS,
    ...(cursor ? { cursor } : {}),
  });
  let seen = 0, young = false;
  for await (const e of list) {
    seen++;
    const id = taskIdOf(e.key);
    // Made after the cut-off, so ended after it too: so is everything after it in the index.
    if (madeAt(id) > cutoff) {
      young = true;
      break;
    }
    ids.push(id);
  }
  // From the head again once the walk reached young tasks or the end; else on from here.
  if (young || seen < TASKS_PER_PASS) cursors.delete(walk);
  else cursors.set(walk, list.cursor);
  if (ids.length === 0) return 0;
  const entries = await getMany<StoredTask>(ctx.kv, ids.map(taskKey));
  const expired = entries.flatMap((e) =>
    e.value && !e.value.job && e.value.status === bucket && endedAt(e.value) <= cutoff ? [e] : []
  );
  let mutations: Deno.KvMutation[] = [];
  let checks: Deno.AtomicCheck[] = [];
  let sums: Array<[Deno.KvKey, bigint]> = [];
  let purged = 0, pending = 0;
  const flush = async () => {
    // A task that changed meanwhile (retried, say) fails the check: it is left for a later pass.
    if (mutations.length > 0 && await ctx.committer.commit({ checks, mutations, sums })) {
      purged += pending;
    }
    mutations = [];
    checks = [];
    sums = [];
    pending = 0;
  };
  for (const e of expired) {
    const p = taskPurge(e.value!);
    if (mutations.length + p.mutations.length > PER_COMMIT || checks.length >= 90) await flush();
    checks.push({ key: e.key, versionstamp: e.versionstamp });
    mutations.push(...p.mutations);
    sums.push(p.sum);
    pending++;
  }
  await flush();
  return purged;
}

/** The creation time of a ULID task id (0 for ids that are not ULIDs: they are purged early). */
function madeAt(id: string): number {
  try {
    return decodeTime(id.slice(0, 26));
  } catch {
    return 0;
  }
}
