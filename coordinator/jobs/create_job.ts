/**
 * createJob: a job record and its tasks, all or nothing (enqueue.ts carries the job's writes
 * with its tasks: in one intent, or in the acceptance of a batch over several commits). An
 * idempotency key returns the job it made.
 *
 * @module
 */
import type { KeyQuota } from "../auth/api_keys.ts";
import { monotonicFactory } from "ulid";
import type { CreateJobParsed, Job, SubmitTaskParsed } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { ApiFailure } from "../http/errors.ts";
import { enqueue } from "../tasks/enqueue.ts";
import { sizeBound } from "../store/encoded_size.ts";
import { jobActiveKey, jobIdempotencyKey, jobKey, jobOwnerKey } from "../store/keys.ts";
import type { JobRecord } from "./job_record.ts";
import { jobView, readJobEntry } from "./job_view.ts";

const ulid = monotonicFactory();

/** One task submission per input, with the job's task options. */
export function jobInputs(job: JobRecord, inputs: unknown[]): SubmitTaskParsed[] {
  return inputs.map((params) => ({
    type: job.type,
    params: params ?? {},
    queue: job.queue,
    priority: job.priority,
    maxAttempts: job.maxAttempts,
    ...(job.timeoutMs !== null ? { timeoutMs: job.timeoutMs } : {}),
    leaseMs: job.leaseMs,
    backoffMs: job.backoffMs,
    ...(job.verification ? { verification: job.verification } : {}),
  }));
}

export async function createJob(
  ctx: Ctx,
  body: CreateJobParsed,
  owner: string | null,
  quota?: KeyQuota,
): Promise<{ job: Job; created: boolean }> {
  // Every task of the job, appended ones too, runs the version current now.
  const handler = ctx.handlers.get(body.type);
  if (!handler) {
    throw new ApiFailure("unknown_type", `unknown task type "${body.type}"`, "type");
  }
  const idem = body.idempotencyKey !== undefined
    ? jobIdempotencyKey(owner, body.idempotencyKey)
    : null;
  const known = async () => {
    if (!idem) return null;
    const ref = await ctx.kv.get<string>(idem);
    const entry = ref.value ? await readJobEntry(ctx, ref.value) : null;
    return entry?.value ? { job: await jobView(ctx, entry.value), created: false } : null;
  };
  const existing = await known();
  if (existing) return existing;
  const now = ctx.now();
  const record: JobRecord = {
    id: ulid(now),
    name: body.name ?? null,
    type: body.type,
    queue: body.queue,
    priority: body.priority,
    maxAttempts: body.maxAttempts,
    timeoutMs: body.timeoutMs ?? null,
    leaseMs: body.leaseMs,
    backoffMs: body.backoffMs,
    verification: body.verification ?? null,
    open: body.open,
    nextIndex: body.inputs.length,
    createdAt: now,
    closedAt: body.open ? null : now,
    status: "running",
    finishedAt: null,
    cancelledAt: null,
    idempotencyKey: body.idempotencyKey ?? null,
    owner,
    callbackUrl: body.callbackUrl ?? null,
    ...(body.retentionMs !== undefined ? { retentionMs: body.retentionMs } : {}),
    handler: ctx.registry?.versionOf(handler) ?? null,
  };
  const checks: Deno.AtomicCheck[] = [{ key: jobKey(record.id), versionstamp: null }];
  const mutations: Deno.KvMutation[] = [
    { type: "set", key: jobKey(record.id), value: record },
    { type: "set", key: jobActiveKey(record.id), value: 1 },
  ];
  if (owner !== null) {
    mutations.push({ type: "set", key: jobOwnerKey(owner, record.id), value: 1 });
  }
  if (idem) {
    checks.push({ key: idem, versionstamp: null });
    mutations.push({ type: "set", key: idem, value: record.id });
  }
  try {
    await enqueue(ctx, jobInputs(record, body.inputs), {
      batch: true,
      owner,
      quota,
      job: {
        jobId: record.id,
        firstIndex: 0,
        checks,
        mutations,
        bytes: sizeBound(record) + 400,
        handler,
      },
    });
  } catch (e) {
    // Another request with the same key made its job first.
    if (e instanceof ApiFailure && e.code === "conflict" && idem) {
      const made = await known();
      if (made) return made;
    }
    throw e;
  }
  return { job: await jobView(ctx, record), created: true };
}
