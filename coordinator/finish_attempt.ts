/**
 * complete / fail / release: a worker ends its attempt. Exactly-once acceptance: the intent
 * checks the lease, so of two reports for one lease only the first is accepted; a repeat of an
 * accepted report is answered with the task as it is (idempotent), and a report from a holder
 * whose lease is gone is refused with 409.
 *
 * @module
 */
import type { Task } from "../shared/protocol.ts";
import { type Ctx, getMany } from "./context.ts";
import type { Outcome } from "./end_attempt.ts";
import { announce, endLease, isReplicated } from "./end_lease.ts";
import { ApiFailure } from "./errors.ts";
import { leaseKey, taskKey } from "./keys.ts";
import { readTaskState } from "./read_task.ts";
import { presentTasks } from "./task_record.ts";
import { type LeaseRecord, taskView } from "./task_view.ts";

export interface FinishRequest {
  taskId: string;
  /** Absent for seed-protocol workers: the task's current lease (of `workerId`, if given). */
  leaseId?: string | undefined;
  workerId?: string | undefined;
  outcome: Outcome;
}

export interface Finished {
  task: Task;
  /** The same report was already accepted; nothing changed. */
  duplicate: boolean;
}

export async function finishAttempt(ctx: Ctx, req: FinishRequest): Promise<Finished> {
  for (let round = 0; round < 8; round++) {
    const { task, leases } = await readTaskState(ctx, req.taskId);
    if (!task.value) throw new ApiFailure("not_found", `no task ${req.taskId}`);
    const lease = req.leaseId !== undefined
      ? leases.find((l) => l.value.leaseId === req.leaseId)
      : leases.find((l) => req.workerId === undefined || l.value.workerId === req.workerId);
    if (!lease) {
      const ended = task.value.history.findLast((a) =>
        req.leaseId !== undefined
          ? a.leaseId === req.leaseId
          : req.workerId === undefined || a.workerId === req.workerId
      );
      if (ended && ended.outcome === req.outcome.kind) {
        const [shown] = await presentTasks(ctx, [task.value]);
        return { task: taskView(shown ?? task.value, leases.map((l) => l.value)), duplicate: true };
      }
      if (task.value.status === "cancelled") {
        throw new ApiFailure("cancelled", `task ${req.taskId} was cancelled`);
      }
      throw new ApiFailure(
        "stale_lease",
        req.leaseId !== undefined
          ? `lease ${req.leaseId} is not current for task ${req.taskId}: its result is discarded`
          : `task ${req.taskId} has no lease${req.workerId ? ` held by ${req.workerId}` : ""}`,
        "leaseId",
      );
    }
    const ended = await endLease(ctx, task as Deno.KvEntry<Task>, lease, req.outcome, ctx.now());
    if (!await ctx.committer.commit(ended.intent)) continue;
    announce(ctx, ended);
    const others = leases.filter((l) => !ended.leaseIds.includes(l.value.leaseId)).map((l) =>
      l.value
    );
    return { task: taskView(ended.next, others), duplicate: false };
  }
  throw new ApiFailure("conflict", `task ${req.taskId} is changing too fast; try again`);
}

export interface FinishManyItem {
  taskId: string;
  leaseId: string;
  outcome: Outcome;
}

/**
 * Ends many attempts at once (a worker's batch report). The leases and tasks are read ten keys
 * per read instead of two reads per task, and a task read at claim in this process is not read
 * again; anything unusual (a missing lease: a repeat, a stale holder, a cancel; a conflict) goes
 * through `finishAttempt` for its precise answer.
 */
export async function finishMany(
  ctx: Ctx,
  items: FinishManyItem[],
): Promise<Array<{ ok: true; task: Task } | { ok: false; error: ApiFailure }>> {
  const cached = items.map((i) => ctx.leasedTasks.take(i.leaseId));
  const uncached = items.flatMap((item, i) => (cached[i] ? [] : [item]));
  const [leases, read] = await Promise.all([
    getMany<LeaseRecord>(ctx.kv, items.map((i) => leaseKey(i.taskId, i.leaseId))),
    getMany<Task>(ctx.kv, uncached.map((i) => taskKey(i.taskId))),
  ]);
  let r = 0;
  const tasks = cached.map((t, i) =>
    t ? { key: taskKey(items[i]!.taskId), value: t, versionstamp: null } : read[r++]!
  );
  const now = ctx.now();
  return await Promise.all(items.map(async (item, i) => {
    const lease = leases[i]!;
    const task = tasks[i]!;
    // A replicated task read from the cache has no versionstamp: take the careful path.
    if (lease.value && task.value && !(isReplicated(task.value) && task.versionstamp === null)) {
      const ended = await endLease(
        ctx,
        task as { key: Deno.KvKey; value: Task; versionstamp: string | null },
        lease as { value: LeaseRecord; versionstamp: string },
        item.outcome,
        now,
      );
      if (await ctx.committer.commit(ended.intent)) {
        announce(ctx, ended);
        return { ok: true as const, task: ended.next };
      }
    }
    try {
      return { ok: true as const, task: (await finishAttempt(ctx, item)).task };
    } catch (e) {
      if (e instanceof ApiFailure) return { ok: false as const, error: e };
      throw e;
    }
  }));
}
