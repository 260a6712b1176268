/**
 * finishJobs: on a timer, records the finish of every active job whose tasks have all ended
 * (status, finishedAt = its last task's end), drops it from the active index, and arms its
 * webhook. Reading the counters of active jobs costs a few reads per job per pass, never a scan
 * of their tasks; until the pass, `GET /jobs/{id}` already derives the finish from the counters.
 *
 * @module
 */
import type { Ctx } from "../context.ts";
import { sizeBound } from "../store/encoded_size.ts";
import {
  decodeJobActiveKey,
  jobActiveKey,
  jobActivePrefix,
  jobHookDueKey,
  jobHookKey,
} from "../store/keys.ts";
import type { JobRecord, WebhookState } from "./job_record.ts";
import { lastEndedAt, readCounts, readJobEntry, statusOf } from "./job_view.ts";

/** Active jobs looked at per pass. */
const PER_PASS = 1000;

/** Returns how many jobs it recorded as finished. */
export async function finishJobs(ctx: Ctx): Promise<number> {
  let finished = 0;
  const active = ctx.kv.list({ prefix: jobActivePrefix() }, { limit: PER_PASS });
  for await (const a of active) {
    const { id } = decodeJobActiveKey(a.key);
    const entry = await readJobEntry(ctx, id);
    const job = entry.value;
    if (!job || job.deleting) continue;
    const status = statusOf(job, await readCounts(ctx, job));
    if (status === "running") continue;
    const next: JobRecord = {
      ...job,
      status,
      finishedAt: await lastEndedAt(ctx, id) ?? job.closedAt ?? ctx.now(),
    };
    const mutations: Deno.KvMutation[] = [
      { type: "set", key: entry.key, value: next },
      { type: "delete", key: jobActiveKey(id) },
    ];
    const checks: Deno.AtomicCheck[] = [{ key: entry.key, versionstamp: entry.versionstamp }];
    if (job.callbackUrl) {
      // Once per job: a job retried and finished again keeps its first delivery.
      const hook = await ctx.kv.get(jobHookKey(id));
      if (hook.versionstamp === null) {
        const state: WebhookState = {
          deliveryId: crypto.randomUUID(),
          attempts: 0,
          nextAt: ctx.now(),
          deliveredAt: null,
          lastError: null,
        };
        checks.push({ key: jobHookKey(id), versionstamp: null });
        mutations.push(
          { type: "set", key: jobHookKey(id), value: state },
          { type: "set", key: jobHookDueKey(id), value: 1 },
        );
      }
    }
    if (await ctx.committer.commit({ checks, mutations, bytes: sizeBound(next) + 400 })) {
      finished++;
    }
  }
  return finished;
}
