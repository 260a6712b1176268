/**
 * complete / fail / release: a worker ends its attempt. Exactly-once acceptance: the intent
 * checks the lease, so of two reports for one lease only the first is accepted; a repeat of an
 * accepted report is answered with the task as it is (idempotent), and a report from a holder
 * whose lease is gone is refused with 409.
 *
 * @module
 */
import { canonicalHash } from "../../shared/canonical_hash.ts";
import type { Task } from "../../shared/protocol.ts";
import { type Ctx, getUnknown } from "../context.ts";
import type { Outcome } from "./ordinary_outcome.ts";
import { announce, endLease, isReplicated } from "./end_lease.ts";
import { ApiFailure } from "../http/errors.ts";
import { leaseKey, taskKey } from "../store/keys.ts";
import { readTaskState } from "../store/read_task.ts";
import { type Round, transact } from "../store/transact.ts";
import { presentTasks } from "../store/task_record.ts";
import { type LeaseRecord, taskView } from "../store/task_view.ts";

export interface FinishRequest {
  taskId: string;
  /** Absent for seed-protocol workers: the task's seed lease (of `workerId`, if given). */
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
  return await transact(ctx, `task ${req.taskId}`, async (): Promise<Round<Finished>> => {
    const { task, leases } = await readTaskState(ctx, req.taskId);
    if (!task.value) throw new ApiFailure("not_found", `no task ${req.taskId}`);
    const lease = req.leaseId !== undefined
      ? leases.find((l) => l.value.leaseId === req.leaseId)
      : leases.find((l) => seedMatch(l.value, req.workerId));
    if (!lease) {
      const ended = task.value.history.findLast((a) =>
        req.leaseId !== undefined ? a.leaseId === req.leaseId : seedMatch(a, req.workerId)
      );
      if (ended && ended.outcome === req.outcome.kind) {
        // The record may keep its result apart (task_record.ts): compare with the whole task.
        const [shown] = await presentTasks(ctx, [task.value]);
        refuseOtherResult(shown ?? task.value, ended.leaseId, req.outcome);
        return {
          value: {
            task: taskView(shown ?? task.value, leases.map((l) => l.value)),
            duplicate: true,
          },
        };
      }
      if (task.value.status === "cancelled") {
        throw new ApiFailure("cancelled", `task ${req.taskId} was cancelled`);
      }
      throw new ApiFailure(
        "stale_lease",
        req.leaseId !== undefined
          ? `lease ${req.leaseId} is not current for task ${req.taskId}: its result is discarded`
          : `task ${req.taskId} has no lease from POST /tasks/claim${
            req.workerId ? ` held by ${req.workerId}` : ""
          }: a report without leaseId ends only such a lease`,
        "leaseId",
      );
    }
    const ended = await endLease(ctx, task as Deno.KvEntry<Task>, lease, req.outcome, ctx.now());
    return {
      intent: ended.intent,
      after: () => {
        announce(ctx, ended);
        if (ended.refused) throw ended.refused;
        const others = leases.filter((l) => !ended.leaseIds.includes(l.value.leaseId));
        return { task: taskView(ended.next, others.map((l) => l.value)), duplicate: false };
      },
    };
  });
}

/**
 * Which lease (or ended attempt) a report without a lease id may mean: only one handed out by
 * the seed protocol's claim, whose workers never learn to send lease ids, and only that worker's
 * when the report names it. Any other lease is fenced: a stale seed worker whose lease expired
 * must not end the lease a native worker holds now.
 */
function seedMatch(
  l: { via?: "seed" | undefined; workerId: string },
  workerId: string | undefined,
): boolean {
  return l.via === "seed" && (workerId === undefined || l.workerId === workerId);
}

/**
 * A repeated completion is idempotent only with the result that was accepted: with another one
 * the worker must hear that its second answer was not taken (409 `conflict`).
 */
function refuseOtherResult(task: Task, leaseId: string, outcome: Outcome): void {
  if (outcome.kind !== "completed") return;
  const vote = task.votes.find((v) => v.leaseId === leaseId);
  const accepted = vote
    ? vote.hash
    : task.status === "completed" && task.leaseId === leaseId
    ? canonicalHash(task.result)
    : null;
  if (accepted !== null && accepted !== canonicalHash(outcome.result)) {
    throw new ApiFailure(
      "conflict",
      `lease ${leaseId} of task ${task.id} already reported another result; the first one stands`,
      "result",
    );
  }
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
  // Remembered by lease id: only for the task the report names (a wrong one is refused below).
  const cached = items.map((i) => {
    const c = ctx.leasedTasks.take(i.leaseId);
    return c?.task.id === i.taskId ? c : undefined;
  });
  // A lease this process granted and nobody moved since needs no read: the intent checks it.
  const [leases, tasks] = await Promise.all([
    getUnknown<LeaseRecord>(
      ctx.kv,
      items.map((i) => leaseKey(i.taskId, i.leaseId)),
      cached.map((c) => c?.lease),
    ),
    // A replicated task's record is checked by its outcome: only one this process wrote, with
    // the versionstamp it wrote it at, stands in for a read.
    getUnknown<Task>(
      ctx.kv,
      items.map((i) => taskKey(i.taskId)),
      cached.map((c, i) => {
        const replica = ctx.readyTasks.replica(items[i].taskId);
        if (replica) return { value: replica.task, versionstamp: replica.versionstamp };
        return c && !isReplicated(c.task) ? { value: c.task, versionstamp: null } : undefined;
      }),
    ),
  ]);
  const now = ctx.now();
  type Answer = { ok: true; task: Task } | { ok: false; error: ApiFailure };
  return await Promise.all(items.map(async (item, i): Promise<Answer> => {
    const lease = leases[i] as { value: LeaseRecord | null; versionstamp: string };
    const task = tasks[i];
    /** Ends the lease from `current`; null if a check failed. */
    const fast = async (
      current: { key: Deno.KvKey; value: Task; versionstamp: string | null },
    ): Promise<Answer | null> => {
      const l = lease as { value: LeaseRecord; versionstamp: string };
      const ended = await endLease(ctx, current, l, item.outcome, now);
      const versionstamp = await ctx.committer.commitAt(ended.intent);
      if (versionstamp === null) return null;
      announce(ctx, ended, versionstamp);
      if (ended.refused) return { ok: false, error: ended.refused };
      return { ok: true, task: ended.next };
    };
    if (lease.value && task.value && !isReplicated(task.value)) {
      const done = await fast(
        task as { key: Deno.KvKey; value: Task; versionstamp: string | null },
      );
      if (done) return done;
    } else if (lease.value && task.value && task.versionstamp !== null) {
      // One write of a replicated record at a time here, each from the last one's record.
      const done = await ctx.readyTasks.serially(item.taskId, () => {
        const latest = ctx.readyTasks.replica(item.taskId);
        return fast(
          latest
            ? { key: task.key, value: latest.task, versionstamp: latest.versionstamp }
            : task as Deno.KvEntry<Task>,
        );
      });
      if (done) return done;
    }
    try {
      return { ok: true as const, task: (await finishAttempt(ctx, item)).task };
    } catch (e) {
      if (e instanceof ApiFailure) return { ok: false as const, error: e };
      throw e;
    }
  }));
}
