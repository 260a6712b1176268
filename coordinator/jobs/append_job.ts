/**
 * appendJob and closeJob: more inputs for an open job, and the word that no more will come.
 * Each checks the job record it read, so an append never lands on a closed job; appends to one
 * job in this process take turns (their indexes come from the record).
 *
 * @module
 */
import { pinnedHandler } from "../packs/pinned_handler.ts";
import type { KeyQuota } from "../auth/api_keys.ts";
import type { AppendJobResponse, Job } from "../../shared/protocol.ts";
import { JOB_LIMITS } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { ApiFailure } from "../http/errors.ts";
import { enqueue } from "../tasks/enqueue.ts";
import { sizeBound } from "../store/encoded_size.ts";
import { transact } from "../store/transact.ts";
import type { JobRecord } from "./job_record.ts";
import { jobView, visibleJob } from "./job_view.ts";
import { jobInputs } from "./create_job.ts";

/** Per job id, the tail of the chain of appends and closes running in this process. */
const turns = new Map<string, Promise<unknown>>();

/** Runs `fn` after the job's earlier appends and closes in this process. */
export async function inTurn<T>(jobId: string, fn: () => Promise<T>): Promise<T> {
  const before = turns.get(jobId) ?? Promise.resolve();
  const mine = before.catch(() => {}).then(fn);
  turns.set(jobId, mine);
  try {
    return await mine;
  } finally {
    if (turns.get(jobId) === mine) turns.delete(jobId);
  }
}

const refuseClosed = (job: JobRecord) =>
  new ApiFailure(
    "conflict",
    `job ${job.id} is closed: no more inputs can be appended`,
    "open",
  );

export async function appendJob(
  ctx: Ctx,
  id: string,
  inputs: unknown[],
  scope: string | undefined,
  quota?: KeyQuota,
): Promise<AppendJobResponse> {
  return await inTurn(id, async () => {
    for (let round = 0;; round++) {
      const entry = await visibleJob(ctx, id, scope);
      const job = entry.value;
      if (!job.open || job.deleting) throw refuseClosed(job);
      if (job.nextIndex + inputs.length > JOB_LIMITS.tasks) {
        throw new ApiFailure(
          "payload_too_large",
          `a job holds at most ${JOB_LIMITS.tasks} tasks`,
          "inputs",
        );
      }
      const next: JobRecord = { ...job, nextIndex: job.nextIndex + inputs.length };
      const handler = await pinnedHandler(ctx, { type: job.type, handler: job.handler ?? null });
      try {
        await enqueue(ctx, jobInputs(job, inputs), {
          batch: true,
          owner: job.owner,
          quota,
          job: {
            jobId: id,
            firstIndex: job.nextIndex,
            checks: [{ key: entry.key, versionstamp: entry.versionstamp }],
            mutations: [{ type: "set", key: entry.key, value: next }],
            bytes: sizeBound(next) + 200,
            handler,
          },
        });
      } catch (e) {
        // Another coordinator changed the job meanwhile: read it again (a close refuses).
        if (e instanceof ApiFailure && e.code === "conflict" && e.field === "job" && round < 4) {
          continue;
        }
        throw e;
      }
      return { job: await jobView(ctx, next), firstIndex: job.nextIndex, count: inputs.length };
    }
  });
}

export async function closeJob(ctx: Ctx, id: string, scope: string | undefined): Promise<Job> {
  const view = await inTurn(id, () =>
    transact<Promise<Job>>(ctx, `job ${id}`, async () => {
      const entry = await visibleJob(ctx, id, scope);
      if (!entry.value.open) return { value: jobView(ctx, entry.value) };
      const next: JobRecord = { ...entry.value, open: false, closedAt: ctx.now() };
      return {
        intent: {
          checks: [{ key: entry.key, versionstamp: entry.versionstamp }],
          mutations: [{ type: "set", key: entry.key, value: next }],
          bytes: sizeBound(next) + 200,
        },
        after: () => jobView(ctx, next),
      };
    }));
  return await view;
}
