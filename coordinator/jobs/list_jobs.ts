/**
 * listJobs: newest first (job ids are ULIDs, so reverse key order), with a cursor (the last id of
 * the page before); a client's list reads its own index `["job_owner", owner, id]`. A status
 * filter is applied to each job's view; a request reads at most `SCAN_BUDGET` jobs and answers
 * with a cursor when it stops short.
 *
 * @module
 */
import type { Job, JobPage, JobStatus } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import {
  decodeJobKey,
  decodeJobOwnerKey,
  jobKey,
  jobOwnerKey,
  jobOwnerPrefix,
  jobPrefix,
} from "../store/keys.ts";
import type { JobRecord } from "./job_record.ts";
import { jobView } from "./job_view.ts";

const SCAN_BUDGET = 2000;

export async function listJobs(
  ctx: Ctx,
  f: { status?: JobStatus | undefined; limit: number; cursor?: string | undefined },
  scope: string | undefined,
): Promise<JobPage> {
  const jobs: Job[] = [];
  let last: string | null = null;
  let scanned = 0;
  const selector: Deno.KvListSelector = scope === undefined
    ? { prefix: jobPrefix(), ...(f.cursor ? { end: jobKey(f.cursor) } : {}) }
    : { prefix: jobOwnerPrefix(scope), ...(f.cursor ? { end: jobOwnerKey(scope, f.cursor) } : {}) };
  for await (const e of ctx.kv.list(selector, { reverse: true, batchSize: 100 })) {
    scanned++;
    let record: JobRecord | null;
    if (scope === undefined) {
      last = decodeJobKey(e.key).id;
      record = e.value as JobRecord;
    } else {
      last = decodeJobOwnerKey(e.key).id;
      record = (await ctx.kv.get<JobRecord>(jobKey(last))).value;
    }
    if (record && !record.deleting) {
      const view = await jobView(ctx, record);
      if (!f.status || view.status === f.status) jobs.push(view);
    }
    if (jobs.length >= f.limit || scanned >= SCAN_BUDGET) return { jobs, cursor: last };
  }
  return { jobs, cursor: null };
}
