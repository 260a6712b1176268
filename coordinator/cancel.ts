/**
 * cancel: a pending task leaves the ready (or delayed) index; a processing task loses its
 * leases, and its holder learns it on its next heartbeat. Final tasks are left as they are.
 *
 * @module
 */
import type { Task } from "../shared/protocol.ts";
import type { Ctx } from "./context.ts";
import { endAttempt } from "./end_attempt.ts";
import { ApiFailure } from "./errors.ts";
import { countKey, delayedKey, readyKey, readySlotsPrefix, taskKey } from "./keys.ts";
import { announce, isReplicated } from "./end_lease.ts";
import { listIndexMoves } from "./list_index.ts";
import { endReplica } from "./quorum.ts";
import { readTaskState } from "./read_task.ts";
import { busNotice } from "./bus.ts";

export async function cancelTask(ctx: Ctx, id: string): Promise<Task> {
  for (let round = 0; round < 8; round++) {
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
        if (!await ctx.committer.commit(ended.intent)) continue;
        announce(ctx, { ...ended, leaseIds: [first.value.leaseId, ...ended.endedLeases] });
        return ended.next;
      }
      const slots = await Array.fromAsync(
        ctx.kv.list({ prefix: readySlotsPrefix(t.queue, t.type, t.priority, t.id) }),
      );
      const next: Task = { ...t, status: "cancelled", completedAt: now, waiting: null };
      const ok = await ctx.committer.commit({
        checks: [{ key: task.key, versionstamp: task.versionstamp }],
        mutations: [...slots.map((e) => ({ type: "delete" as const, key: e.key })), {
          type: "set",
          key: taskKey(id),
          value: next,
        }, ...listIndexMoves(t, next)],
        sums: [[countKey(t.type, t.queue, t.status), -1n], [
          countKey(t.type, t.queue, "cancelled"),
          1n,
        ]],
      });
      if (!ok) continue;
      ctx.signals.taskEnded(next);
      return next;
    }
    if (leases.length > 0) {
      // Processing: end every live attempt as cancelled, in one operation.
      const [first, ...rest] = leases;
      const ended = endAttempt(t, first!.value, first!.versionstamp, { kind: "cancelled" }, now);
      for (const l of rest) {
        const more = endAttempt(ended.next, l.value, l.versionstamp, { kind: "cancelled" }, now);
        ended.intent.checks.push(...more.intent.checks);
        ended.intent.mutations.push(...more.intent.mutations.filter((m) => m.key[0] !== "task"));
      }
      const leaseIds = leases.map((l) => l.value.leaseId);
      ended.intent.mutations.push(busNotice(ctx, { kind: "lease_ended", taskId: id, leaseIds }));
      if (!await ctx.committer.commit(ended.intent)) continue;
      for (const l of leases) ctx.signals.leaseEnded(l.value.leaseId, ended.next);
      ctx.signals.taskEnded(ended.next);
      return ended.next;
    }
    const [ready, delayed] = await ctx.kv.getMany([
      readyKey(t.queue, t.type, t.priority, t.id),
      delayedKey(t.runAt, t.id),
    ]);
    const entry = ready!.value !== null ? ready! : delayed!.value !== null ? delayed! : null;
    // No entry and no lease: a claim or promotion is between reads; look again.
    if (!entry) continue;
    const next: Task = { ...t, status: "cancelled", completedAt: now };
    const ok = await ctx.committer.commit({
      checks: [
        { key: entry.key, versionstamp: entry.versionstamp },
        { key: task.key, versionstamp: task.versionstamp },
      ],
      mutations: [{ type: "delete", key: entry.key }, {
        type: "set",
        key: taskKey(id),
        value: next,
      }, ...listIndexMoves(t, next)],
      sums: [[countKey(t.type, t.queue, "pending"), -1n], [
        countKey(t.type, t.queue, "cancelled"),
        1n,
      ]],
    });
    if (!ok) continue;
    ctx.signals.taskEnded(next);
    return next;
  }
  throw new ApiFailure("conflict", `task ${id} is changing too fast; try again`);
}
