/**
 * expire_leases: finds leases past their expiry through the expiry index (no scan of tasks) and
 * ends their attempts as expired: back to pending with backoff, or failed for good after
 * `maxAttempts`.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import { type Ctx, getMany } from "../context.ts";
import { announce, endLease } from "./end_lease.ts";
import { decodeLeaseExpiryKey, leaseExpiryPrefix, leaseKey, taskKey } from "../store/keys.ts";
import type { LeaseRecord } from "../store/task_view.ts";
import { failUnverified } from "./verify_deadline.ts";

const BATCH = 200;

/**
 * Expires what is due now; returns how many attempts it ended. Quorum tasks past their
 * verification deadline are failed on the same timer: both walk a due-time index.
 */
export async function expireLeases(ctx: Ctx): Promise<number> {
  const [ended] = await Promise.all([expireDue(ctx), failUnverified(ctx)]);
  return ended;
}

async function expireDue(ctx: Ctx): Promise<number> {
  const now = ctx.now();
  const due: Array<{ key: Deno.KvKey; taskId: string; leaseId: string; expiresAt: number }> = [];
  const iter = ctx.kv.list({ start: leaseExpiryPrefix(), end: [...leaseExpiryPrefix(), now] }, {
    limit: BATCH,
  });
  for await (const e of iter) {
    const { taskId, leaseId, expiresAt } = decodeLeaseExpiryKey(e.key);
    due.push({ key: e.key, taskId, leaseId, expiresAt });
  }
  if (due.length === 0) return 0;
  const [leases, tasks] = await Promise.all([
    getMany<LeaseRecord>(ctx.kv, due.map((d) => leaseKey(d.taskId, d.leaseId))),
    getMany<Task>(ctx.kv, due.map((d) => taskKey(d.taskId))),
  ]);
  const results = await Promise.all(due.map(async (d, i) => {
    const lease = leases[i];
    const task = tasks[i].value;
    if (!lease.value || !task || lease.value.expiresAt > now) {
      // The expiry entry outlived its lease (or was moved by a heartbeat meanwhile).
      if (!lease.value || lease.value.expiresAt !== d.expiresAt) {
        await ctx.committer.commit({
          checks: [{ key: lease.key, versionstamp: lease.versionstamp }],
          mutations: [{ type: "delete", key: d.key }],
        });
      }
      return false;
    }
    const ended = await endLease(
      ctx,
      tasks[i] as Deno.KvEntry<Task>,
      lease as { value: LeaseRecord; versionstamp: string },
      { kind: "expired" },
      now,
    );
    if (!await ctx.committer.commit(ended.intent)) return false;
    announce(ctx, ended);
    ctx.log.warn("lease expired", {
      taskId: task.id,
      workerId: lease.value.workerId,
      attempt: lease.value.attempt,
      next: ended.next.status,
    });
    return true;
  }));
  return results.filter(Boolean).length;
}
