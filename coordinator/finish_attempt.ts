/**
 * complete / fail / release: a worker ends its attempt. Exactly-once acceptance: the intent
 * checks the lease, so of two reports for one lease only the first is accepted; a repeat of an
 * accepted report is answered with the task as it is (idempotent), and a report from a holder
 * whose lease is gone is refused with 409.
 *
 * @module
 */
import type { Task } from "../shared/protocol.ts";
import type { Ctx } from "./context.ts";
import { endAttempt, type Outcome } from "./end_attempt.ts";
import { ApiFailure } from "./errors.ts";
import { readTaskState } from "./read_task.ts";
import { taskView } from "./task_view.ts";

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

const SAME: Record<Outcome["kind"], string> = {
  completed: "completed",
  failed: "failed",
  expired: "expired",
  released: "released",
  cancelled: "cancelled",
};

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
      if (ended && ended.outcome === SAME[req.outcome.kind]) {
        return { task: taskView(task.value, leases.map((l) => l.value)), duplicate: true };
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
    const ended = endAttempt(task.value, lease.value, lease.versionstamp, req.outcome, ctx.now());
    if (!await ctx.committer.commit(ended.intent)) continue;
    if (ended.final) ctx.signals.taskEnded(ended.next);
    if (ended.next.status === "pending" && ended.next.runAt <= ctx.now()) {
      ctx.signals.readyArrived();
    }
    const others = leases.filter((l) => l !== lease).map((l) => l.value);
    return { task: taskView(ended.next, others), duplicate: false };
  }
  throw new ApiFailure("conflict", `task ${req.taskId} is changing too fast; try again`);
}
