/**
 * deleteJob: retires a finished job and purges its tasks (records, result parts, list and failed
 * index entries, counters), its completion index and its own keys, in bounded commits. The job
 * record is marked `deleting` first and goes last, so a purge cut short is resumed by the next
 * DELETE.
 *
 * @module
 */
import type { JobDeleteResponse } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { ApiFailure } from "../http/errors.ts";
import type { Intent } from "../store/committer.ts";
import {
  countKey,
  failedKey,
  jobCountKey,
  jobDonePrefix,
  jobIdempotencyKey,
  jobKey,
  jobOwnerKey,
  jobSideKeys,
  ownerIndexKey,
  resultPartKey,
  statusIndexKey,
  taskKey,
} from "../store/keys.ts";
import { bucketOf } from "../store/list_index.ts";
import type { StoredTask } from "../store/task_view.ts";
import { jobTaskPages } from "./job_tasks.ts";
import { readCounts, statusOf, visibleJob } from "./job_view.ts";
import { inTurn } from "./append_job.ts";

/** Mutations per purge commit (the KV takes 1,000). */
const PER_COMMIT = 800;

async function commitAll(ctx: Ctx, mutations: Deno.KvMutation[], sums: Intent["sums"] = []) {
  for (let i = 0; i < mutations.length; i += PER_COMMIT) {
    const ok = await ctx.committer.commit({
      checks: [],
      mutations: mutations.slice(i, i + PER_COMMIT),
      sums: i === 0 ? sums : [],
    });
    if (!ok) throw new ApiFailure("conflict", "the job changed during its purge; try again");
  }
}

/** The deletes of one ended task and its entries, and the counter it leaves. */
function taskPurge(t: StoredTask): { mutations: Deno.KvMutation[]; sum: [Deno.KvKey, bigint] } {
  const mutations: Deno.KvMutation[] = [
    { type: "delete", key: taskKey(t.id) },
    { type: "delete", key: statusIndexKey(bucketOf(t.status), t.queue, t.id) },
  ];
  if (t.owner) mutations.push({ type: "delete", key: ownerIndexKey(t.owner, t.id) });
  if (t.status === "failed") mutations.push({ type: "delete", key: failedKey(t.id) });
  for (let p = 0; p < (t.resultParts ?? 0); p++) {
    mutations.push({ type: "delete", key: resultPartKey(t.id, p) });
  }
  return { mutations, sum: [countKey(t.type, t.queue, t.status), -1n] };
}

export async function deleteJob(
  ctx: Ctx,
  id: string,
  scope: string | undefined,
): Promise<JobDeleteResponse> {
  const job = await inTurn(id, async () => {
    const entry = await visibleJob(ctx, id, scope);
    const j = entry.value;
    if (!j.deleting) {
      if (statusOf(j, await readCounts(ctx, j)) === "running") {
        throw new ApiFailure(
          "conflict",
          `job ${id} is still running: cancel it (POST /api/jobs/${id}/cancel) or let it finish`,
          "status",
        );
      }
      const marked = await ctx.committer.commit({
        checks: [{ key: entry.key, versionstamp: entry.versionstamp }],
        mutations: [{ type: "set", key: entry.key, value: { ...j, deleting: true } }],
      });
      if (!marked) throw new ApiFailure("conflict", `job ${id} changed meanwhile; try again`);
    }
    return j;
  });
  let purged = 0;
  for await (const page of jobTaskPages(ctx, id)) {
    const mutations: Deno.KvMutation[] = [];
    const sums = new Map<string, [Deno.KvKey, bigint]>();
    for (const e of page) {
      const p = taskPurge(e.value);
      mutations.push(...p.mutations);
      const k = p.sum[0].join("\u0001");
      sums.set(k, [p.sum[0], (sums.get(k)?.[1] ?? 0n) + p.sum[1]]);
    }
    await commitAll(ctx, mutations, [...sums.values()]);
    purged += page.length;
  }
  for (;;) {
    const done = await Array.fromAsync(
      ctx.kv.list({ prefix: jobDonePrefix(id) }, { limit: PER_COMMIT, batchSize: PER_COMMIT }),
    );
    await commitAll(ctx, done.map((e) => ({ type: "delete" as const, key: e.key })));
    if (done.length < PER_COMMIT) break;
  }
  const own: Deno.KvKey[] = [
    ...(["processing", "completed", "failed", "cancelled"] as const).map((b) => jobCountKey(id, b)),
    ...jobSideKeys(id),
  ];
  if (job.owner) own.push(jobOwnerKey(job.owner, id));
  if (job.idempotencyKey) own.push(jobIdempotencyKey(job.owner, job.idempotencyKey));
  own.push(jobKey(id));
  await commitAll(ctx, own.map((key) => ({ type: "delete" as const, key })));
  return { id, purged };
}
