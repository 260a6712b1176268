/**
 * cancelJob and retryJob. A cancel closes the job and marks it cancelled first (so nothing is
 * appended after it), then cancels every unfinished task through `cancelTask`, which tells a
 * socket holder at once and other coordinators through the bus. A retry requeues the job's
 * failed tasks through `retryTask` and makes a finished job running again.
 *
 * @module
 */
import type { JobActionResponse } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { ApiFailure } from "../http/errors.ts";
import { cancelTask } from "../tasks/cancel.ts";
import { retryTask } from "../tasks/retry.ts";
import { sizeBound } from "../store/encoded_size.ts";
import { jobActiveKey } from "../store/keys.ts";
import { type Round, transact } from "../store/transact.ts";
import type { JobRecord } from "./job_record.ts";
import { jobView, visibleJob } from "./job_view.ts";
import { eachLimited, jobFailedPages, jobTaskPages } from "./job_tasks.ts";
import { inTurn } from "./append_job.ts";

/** Tasks cancelled or retried at once: enough to fill the committer's commits. */
const WIDTH = 32;

/** A task that ended (or moved) between our read and our change is not an error here. */
const ignoreRaced = (e: unknown) => {
  if (e instanceof ApiFailure && (e.code === "conflict" || e.code === "not_found")) return;
  throw e;
};

/** Sets fields of the job record, checked against the one read. */
async function updateJob(
  ctx: Ctx,
  id: string,
  scope: string | undefined,
  change: (job: JobRecord) => JobRecord | null,
  extra: (job: JobRecord) => Deno.KvMutation[] = () => [],
): Promise<JobRecord> {
  return await inTurn(
    id,
    () =>
      transact<JobRecord>(ctx, `job ${id}`, async (): Promise<Round<JobRecord>> => {
        const entry = await visibleJob(ctx, id, scope);
        const next = change(entry.value);
        if (next === null) return { value: entry.value };
        return {
          intent: {
            checks: [{ key: entry.key, versionstamp: entry.versionstamp }],
            mutations: [{ type: "set", key: entry.key, value: next }, ...extra(next)],
            bytes: sizeBound(next) + 200,
          },
          after: () => next,
        };
      }),
  );
}

export async function cancelJob(
  ctx: Ctx,
  id: string,
  scope: string | undefined,
): Promise<JobActionResponse> {
  const now = ctx.now();
  const job = await updateJob(
    ctx,
    id,
    scope,
    (j) =>
      j.status !== "running" || (j.cancelledAt !== null && !j.open) ? null : {
        ...j,
        open: false,
        closedAt: j.closedAt ?? now,
        cancelledAt: j.cancelledAt ?? now,
      },
  );
  let affected = 0;
  for await (const page of jobTaskPages(ctx, id)) {
    const open = page.filter((e) =>
      e.value.status === "pending" || e.value.status === "processing"
    );
    await eachLimited(open, WIDTH, async (e) => {
      try {
        await cancelTask(ctx, e.value.id);
        affected++;
      } catch (err) {
        ignoreRaced(err);
      }
    });
  }
  return { job: await jobView(ctx, job), affected };
}

export async function retryJob(
  ctx: Ctx,
  id: string,
  scope: string | undefined,
): Promise<JobActionResponse> {
  let job = (await visibleJob(ctx, id, scope)).value;
  let affected = 0;
  for await (const ids of jobFailedPages(ctx, id)) {
    await eachLimited(ids, WIDTH, async (taskId) => {
      try {
        await retryTask(ctx, taskId);
        affected++;
      } catch (err) {
        ignoreRaced(err);
      }
    });
  }
  if (affected > 0 && job.status !== "running") {
    // Finished once: running again, and watched for its (new) finish.
    job = await updateJob(
      ctx,
      id,
      scope,
      (j) => j.status === "running" ? null : { ...j, status: "running", finishedAt: null },
      (j) => [{ type: "set", key: jobActiveKey(j.id), value: 1 }],
    );
  }
  return { job: await jobView(ctx, job), affected };
}
