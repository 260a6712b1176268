/**
 * verify_deadline: a quorum task whose replicas agree only among workers without a record waits
 * for a voter with one (`quorum.ts`), but not forever: at its `verifyBy` time it fails with an
 * `unverified` error, so every task, and every job made of tasks, ends. The `["verify_by", …]`
 * index is walked in time order up to now: no scan of tasks.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { announce } from "./end_lease.ts";
import {
  decodeVerifyByKey,
  leasesOfTask,
  rateKey,
  readySlotsPrefix,
  taskKey,
  verifyByKey,
  verifyByPrefix,
} from "../store/keys.ts";
import { applyTransition } from "../store/transition.ts";
import { withoutHolders } from "./claim.ts";
import type { LeaseRecord } from "../store/task_view.ts";

const BATCH = 100;

/** Fails the waiting tasks whose deadline has passed; returns how many. */
export async function failUnverified(ctx: Ctx): Promise<number> {
  const now = ctx.now();
  const due: Array<{ at: number; taskId: string }> = [];
  const iter = ctx.kv.list({ start: verifyByPrefix(), end: [...verifyByPrefix(), now] }, {
    limit: BATCH,
  });
  for await (const e of iter) due.push(decodeVerifyByKey(e.key));
  let failed = 0;
  for (const d of due) if (await failOne(ctx, d.at, d.taskId, now)) failed++;
  return failed;
}

async function failOne(ctx: Ctx, at: number, taskId: string, now: number): Promise<boolean> {
  const task = await ctx.kv.get<Task>(taskKey(taskId));
  const t = task.value;
  const open = t && (t.status === "pending" || t.status === "processing");
  if (!t || !open || !t.waiting || t.verifyBy !== at) {
    // Decided, cancelled or no longer waiting meanwhile: the entry is debris.
    await ctx.committer.commit({
      checks: [],
      mutations: [{ type: "delete", key: verifyByKey(at, taskId) }],
    });
    return false;
  }
  const leases = await Array.fromAsync(ctx.kv.list<LeaseRecord>({ prefix: leasesOfTask(t.id) }));
  const slots = await Array.fromAsync(
    ctx.kv.list({ prefix: readySlotsPrefix(t) }),
  );
  const sizes = new Map<string, number>();
  for (const v of t.votes) sizes.set(v.hash, (sizes.get(v.hash) ?? 0) + 1);
  const best = Math.max(0, ...sizes.values());
  // Its live replicas end unanswered: they bar nobody (a retry may give them again).
  const next: Task = {
    ...withoutHolders(t, leases.map((l) => l.value)),
    status: "failed",
    live: 0,
    completedAt: now,
    waiting: null,
    verifyBy: null,
    error: {
      code: "unverified",
      message: `no voter with a record confirmed the result before the verification deadline` +
        (best > 0 ? `: ${best} matching results, none from a worker with a record` : ""),
      retryable: false,
    },
    agreement: { agreed: 0, of: t.votes.length },
  };
  const intent = applyTransition({
    from: t,
    counted: t.status,
    next,
    checks: [
      { key: task.key, versionstamp: task.versionstamp },
      ...leases.map((l) => ({ key: l.key, versionstamp: l.versionstamp })),
    ],
    endsLeases: leases.map((l) => l.value),
    dequeue: slots.map((e) => e.key),
    extra: [
      { type: "delete", key: verifyByKey(at, taskId) },
    ],
    sums: [[rateKey("failed", Math.floor(now / 1000)), 1n]],
  }, now);
  // A lost race means the task changed (a vote came in): the next round looks again.
  if (!await ctx.committer.commit(intent)) return false;
  announce(ctx, {
    intent,
    next,
    final: true,
    leaseIds: leases.map((l) => l.value.leaseId),
    voters: [],
  });
  ctx.log.warn("task unverified", { taskId: t.id, votes: t.votes.length });
  return true;
}
