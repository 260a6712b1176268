/**
 * expire_leases: ends the attempts of leases past their expiry: back to pending with backoff, or
 * failed for good after `maxAttempts`.
 *
 * The store keeps no expiry index (it cost two of a task's eleven mutations). The coordinator
 * that granted a lease remembers its expiry (`LeasedTasks`), so {@link expireLeases} finds its
 * own expired leases without a read; {@link scanLeases} reads every lease, less often, for those
 * no live process remembers: granted before a restart, or by a coordinator that stopped. Both
 * end an attempt with the same checked intent, so two coordinators may find one lease.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import { type Ctx, type DueLease, getMany, getUnknown, type KnownLease } from "../context.ts";
import { announce, endLease } from "./end_lease.ts";
import { leaseKey, leasePrefix, taskKey } from "../store/keys.ts";
import type { LeaseRecord } from "../store/task_view.ts";
import { failUnverified } from "./verify_deadline.ts";

const BATCH = 200;

/**
 * Expires what this process granted and is due now; returns how many attempts it ended. Quorum
 * tasks past their verification deadline are failed on the same timer.
 */
export async function expireLeases(ctx: Ctx): Promise<number> {
  const now = ctx.now();
  const [ended] = await Promise.all([
    expire(ctx, ctx.leasedTasks.due(now, BATCH), [], now),
    failUnverified(ctx),
  ]);
  return ended;
}

/** Reads every lease in the store and expires those past due; returns how many it ended. */
export async function scanLeases(ctx: Ctx): Promise<number> {
  const now = ctx.now();
  let ended = 0;
  let due: DueLease[] = [];
  let read: KnownLease[] = [];
  for await (const e of ctx.kv.list<LeaseRecord>({ prefix: leasePrefix() }, { batchSize: 500 })) {
    if (e.value.expiresAt > now) continue;
    due.push({ taskId: e.value.taskId, leaseId: e.value.leaseId, expiresAt: e.value.expiresAt });
    read.push({ value: e.value, versionstamp: e.versionstamp });
    if (due.length < BATCH) continue;
    ended += await expire(ctx, due, read, now);
    due = [];
    read = [];
  }
  return ended + await expire(ctx, due, read, now);
}

/** Ends the attempts of `due` leases still expired in the store (`read`: those already read). */
async function expire(ctx: Ctx, due: DueLease[], read: KnownLease[], now: number): Promise<number> {
  if (due.length === 0) return 0;
  const [leases, tasks] = await Promise.all([
    getUnknown<LeaseRecord>(ctx.kv, due.map((d) => leaseKey(d.taskId, d.leaseId)), read),
    getMany<Task>(ctx.kv, due.map((d) => taskKey(d.taskId))),
  ]);
  const results = await Promise.all(due.map(async (d, i) => {
    const lease = leases[i];
    const task = tasks[i];
    if (!lease.value || !task.value) {
      // It ended meanwhile (elsewhere, or here with its report still on the way).
      ctx.leasedTasks.take(d.leaseId);
      return false;
    }
    if (lease.value.expiresAt > now) {
      // Extended through another coordinator: due later.
      ctx.leasedTasks.extended(d.leaseId, lease.value.expiresAt);
      return false;
    }
    const ended = await endLease(
      ctx,
      task as Deno.KvEntry<Task>,
      lease as { value: LeaseRecord; versionstamp: string },
      { kind: "expired" },
      now,
    );
    if (!await ctx.committer.commit(ended.intent)) return false;
    announce(ctx, ended);
    ctx.log.warn("lease expired", {
      taskId: d.taskId,
      workerId: lease.value.workerId,
      attempt: lease.value.attempt,
      next: ended.next.status,
    });
    return true;
  }));
  return results.filter(Boolean).length;
}
