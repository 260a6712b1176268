/**
 * retry: puts a failed or cancelled task back in its queue with a fresh attempt budget. Its
 * history is kept.
 *
 * @module
 */
import type { Task } from "../shared/protocol.ts";
import type { Ctx } from "./context.ts";
import { ApiFailure } from "./errors.ts";
import { countKey, failedKey, readyKey, readySignalKey, taskKey } from "./keys.ts";
import { listIndexMoves } from "./list_index.ts";

export async function retryTask(ctx: Ctx, id: string): Promise<Task> {
  for (let round = 0; round < 8; round++) {
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
    const ok = await ctx.committer.commit({
      checks: [{ key: entry.key, versionstamp: entry.versionstamp }],
      mutations: [
        { type: "set", key: taskKey(id), value: next },
        ...Array.from({ length: next.replicas }, (_, slot) => ({
          type: "set" as const,
          key: readyKey(t.queue, t.type, t.priority, t.id, slot),
          value: 1,
        })),
        { type: "delete", key: failedKey(id) },
        ...listIndexMoves(t, next),
      ],
      sums: [
        [countKey(t.type, t.queue, t.status), -1n],
        [countKey(t.type, t.queue, "pending"), 1n],
        [readySignalKey(t.queue, t.type), BigInt(next.replicas)],
      ],
    });
    if (!ok) continue;
    ctx.signals.readyArrived([next]);
    return next;
  }
  throw new ApiFailure("conflict", `task ${id} is changing too fast; try again`);
}
