/**
 * cancel: a pending task leaves the ready (or delayed) index; a processing task loses its
 * leases, and its holder learns it on its next heartbeat. Final tasks are left as they are.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { endAttempt } from "./ordinary_outcome.ts";
import { ApiFailure } from "../http/errors.ts";
import { delayedKey, leaseKey, readyKey, readySlotsPrefix } from "../store/keys.ts";
import { announce, isReplicated } from "./end_lease.ts";
import { endReplica } from "../verify/quorum.ts";
import { readTaskState } from "../store/read_task.ts";
import { busNotice } from "../fleet/bus.ts";
import { type Round, transact } from "../store/transact.ts";
import { applyTransition } from "../store/transition.ts";

export async function cancelTask(ctx: Ctx, id: string): Promise<Task> {
  return await transact(ctx, `task ${id}`, async (): Promise<Round<Task>> => {
    const { task, leases } = await readTaskState(ctx, id);
    const t = task.value;
    if (!t) throw new ApiFailure("not_found", `no task ${id}`);
    if (t.status !== "pending" && t.status !== "processing") {
      throw new ApiFailure(
        "conflict",
        `task ${id} is ${t.status}: only pending or processing tasks can be cancelled`,
        "status",
      );
    }
    const now = ctx.now();
    if (isReplicated(t)) {
      // Replicas write the task on claim, so its versionstamp serializes us with them.
      const first = leases[0];
      if (first) {
        const ended = await endReplica(ctx, task as Deno.KvEntry<Task>, first, {
          kind: "cancelled",
        }, now);
        const leaseIds = [first.value.leaseId, ...ended.endedLeases];
        ended.intent.mutations.push(busNotice(ctx, { kind: "lease_ended", taskId: id, leaseIds }));
        return {
          intent: ended.intent,
          after: () => {
            announce(ctx, { ...ended, leaseIds });
            return ended.next;
          },
        };
      }
      const slots = await Array.fromAsync(
        ctx.kv.list({ prefix: readySlotsPrefix(t) }),
      );
      const next: Task = { ...t, status: "cancelled", completedAt: now, waiting: null };
      const intent = applyTransition({
        from: t,
        counted: t.status,
        next,
        checks: [{ key: task.key, versionstamp: task.versionstamp }],
        dequeue: slots.map((e) => e.key),
      }, now);
      return { intent, after: () => endedTask(next) };
    }
    if (leases.length > 0) {
      // Processing: end every live attempt as cancelled, in one operation.
      const [first] = leases;
      const ended = endAttempt(t, first!.value, first!.versionstamp, { kind: "cancelled" }, now);
      const leaseIds = leases.map((l) => l.value.leaseId);
      // One transition ends every live lease (an ordinary task has one, but a race may leave two).
      const intent = applyTransition({
        from: t,
        counted: "processing",
        next: ended.next,
        checks: leases.map((l) => ({
          key: leaseKey(id, l.value.leaseId),
          versionstamp: l.versionstamp,
        })),
        endsLeases: leases.map((l) => l.value),
        extra: [busNotice(ctx, { kind: "lease_ended", taskId: id, leaseIds })],
      }, now);
      return {
        intent,
        after: () => {
          for (const l of leases) ctx.signals.leaseEnded(l.value.leaseId, ended.next);
          return endedTask(ended.next);
        },
      };
    }
    const [ready, delayed] = await ctx.kv.getMany([
      readyKey(t),
      delayedKey(t.runAt, t.id),
    ]);
    const entry = ready!.value !== null ? ready! : delayed!.value !== null ? delayed! : null;
    // No entry and no lease: a claim or promotion is between reads; look again.
    if (!entry) return null;
    const next: Task = { ...t, status: "cancelled", completedAt: now };
    const intent = applyTransition({
      from: t,
      counted: "pending",
      next,
      checks: [
        { key: entry.key, versionstamp: entry.versionstamp },
        { key: task.key, versionstamp: task.versionstamp },
      ],
      dequeue: [entry.key],
    }, now);
    return { intent, after: () => endedTask(next) };
  });

  function endedTask(next: Task): Task {
    ctx.signals.taskEnded(next);
    return next;
  }
}
