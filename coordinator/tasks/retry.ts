/**
 * retry: puts a failed or cancelled task back in its queue with a fresh attempt budget. Its
 * history is kept; a replicated task's votes start again (who voted still may not take a slot).
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { ApiFailure } from "../http/errors.ts";
import { replicaKey, taskKey } from "../store/keys.ts";
import { transact } from "../store/transact.ts";
import { applyTransition } from "../store/transition.ts";

export async function retryTask(ctx: Ctx, id: string): Promise<Task> {
  return await transact(ctx, `task ${id}`, async () => {
    const entry = await ctx.kv.get<Task>(taskKey(id));
    const t = entry.value;
    if (!t) throw new ApiFailure("not_found", `no task ${id}`);
    if (t.status !== "failed" && t.status !== "cancelled") {
      throw new ApiFailure(
        "conflict",
        `task ${id} is ${t.status}: only failed or cancelled tasks can be retried`,
        "status",
      );
    }
    const now = ctx.now();
    const next: Task = {
      ...t,
      status: "pending",
      attempts: 0,
      runAt: now,
      completedAt: null,
      result: null,
      live: 0,
      votes: [],
      agreement: null,
      waiting: null,
      verifyBy: null,
      replicas: t.verification.mode === "quorum" ? t.verification.replicas : 1,
    };
    const intent = applyTransition({
      from: t,
      counted: t.status,
      next,
      checks: [{ key: entry.key, versionstamp: entry.versionstamp }],
      enqueue: Array.from({ length: next.replicas }, (_, slot) => slot),
      // The votes start again: their kept results would be left to no purge.
      extra: t.votes.map((v) => ({ type: "delete", key: replicaKey(t.id, v.leaseId) })),
    }, now);
    return {
      intent,
      after: () => {
        ctx.signals.readyArrived([next]);
        return next;
      },
    };
  });
}
