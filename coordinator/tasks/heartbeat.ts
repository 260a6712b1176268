/**
 * heartbeat: the holder of a lease extends it by the task's lease length. A holder whose lease
 * is gone learns why: cancelled, or stale (it expired and went to someone else).
 *
 * @module
 */
import type { Ctx } from "../context.ts";
import { ApiFailure } from "../http/errors.ts";
import { transact } from "../store/transact.ts";
import { leaseKey, taskKey } from "../store/keys.ts";
import type { Task } from "../../shared/protocol.ts";
import type { LeaseRecord } from "../store/task_view.ts";

export async function heartbeat(
  ctx: Ctx,
  taskId: string,
  leaseId: string,
  progress?: number,
): Promise<{ expiresAt: number }> {
  return await transact(ctx, `lease ${leaseId}`, async () => {
    const lease = await ctx.kv.get<LeaseRecord>(leaseKey(taskId, leaseId));
    if (!lease.value) {
      const task = await ctx.kv.get<Task>(taskKey(taskId));
      if (!task.value) throw new ApiFailure("not_found", `no task ${taskId}`);
      if (task.value.status === "cancelled") {
        throw new ApiFailure("cancelled", `task ${taskId} was cancelled: stop working on it`);
      }
      throw new ApiFailure("stale_lease", `lease ${leaseId} is no longer held`, "leaseId");
    }
    const old = lease.value;
    const next: LeaseRecord = {
      ...old,
      expiresAt: Math.max(old.expiresAt, ctx.now() + old.leaseMs),
      ...(progress !== undefined ? { progress } : {}),
    };
    return {
      intent: {
        checks: [{ key: lease.key, versionstamp: lease.versionstamp }],
        mutations: [{ type: "set", key: lease.key, value: next }],
        bytes: 300,
      },
      after: () => {
        ctx.leasedTasks.extended(leaseId, next.expiresAt);
        return { expiresAt: next.expiresAt };
      },
    };
  });
}
