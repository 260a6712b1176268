/**
 * expire_leases: finds leases past their expiry through the expiry index (no scan of tasks) and
 * ends their attempts as expired: back to pending with backoff, or failed for good after
 * `maxAttempts`.
 *
 * @module
 */
import type { Task } from "../shared/protocol.ts";
import { type Ctx, getMany } from "./context.ts";
import { endAttempt } from "./end_attempt.ts";
import { leaseExpiryPrefix, leaseKey, taskKey } from "./keys.ts";
import type { LeaseRecord } from "./task_view.ts";

const BATCH = 200;

/** Expires what is due now; returns how many attempts it ended. */
export async function expireLeases(ctx: Ctx): Promise<number> {
  const now = ctx.now();
  const due: Array<{ key: Deno.KvKey; taskId: string; leaseId: string }> = [];
  const iter = ctx.kv.list({ start: leaseExpiryPrefix(), end: [...leaseExpiryPrefix(), now] }, {
    limit: BATCH,
  });
  for await (const e of iter) {
    due.push({ key: e.key, taskId: e.key[2] as string, leaseId: e.key[3] as string });
  }
  if (due.length === 0) return 0;
  const [leases, tasks] = await Promise.all([
    getMany<LeaseRecord>(ctx.kv, due.map((d) => leaseKey(d.taskId, d.leaseId))),
    getMany<Task>(ctx.kv, due.map((d) => taskKey(d.taskId))),
  ]);
  const results = await Promise.all(due.map(async (d, i) => {
    const lease = leases[i]!;
    const task = tasks[i]!.value;
    if (!lease.value || !task || lease.value.expiresAt > now) {
      // The expiry entry outlived its lease (or was moved by a heartbeat meanwhile).
      if (!lease.value || lease.value.expiresAt !== d.key[1]) {
        await ctx.committer.commit({
          checks: [{ key: lease.key, versionstamp: lease.versionstamp }],
          mutations: [{ type: "delete", key: d.key }],
        });
      }
      return false;
    }
    const ended = endAttempt(task, lease.value, lease.versionstamp, { kind: "expired" }, now);
    if (!await ctx.committer.commit(ended.intent)) return false;
    ctx.leasedTasks.take(lease.value.leaseId);
    ctx.signals.leaseEnded(lease.value.leaseId, ended.next);
    ctx.log.warn("lease expired", {
      taskId: task.id,
      workerId: lease.value.workerId,
      attempt: lease.value.attempt,
      next: ended.next.status,
    });
    if (ended.final) ctx.signals.taskEnded(ended.next);
    return ended.next.status === "pending" && ended.next.runAt <= now ? ended.next : true;
  }));
  const requeued = results.filter((r): r is Task => typeof r === "object");
  if (requeued.length > 0) ctx.signals.readyArrived(requeued);
  return results.filter(Boolean).length;
}
