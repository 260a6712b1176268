/**
 * Which of the leases a reconnecting worker names are still its own: the lease record in KV is
 * the truth, wherever the worker reconnects (this coordinator after a restart, or another on the
 * same store).
 *
 * @module
 */
import { type Ctx, getMany } from "../context.ts";
import { leaseKey } from "../store/keys.ts";
import type { LeaseRecord } from "../store/task_view.ts";

/** The ids of the named leases whose record exists and belongs to `workerId`. */
export async function leasesHeldBy(
  ctx: Ctx,
  workerId: string,
  named: ReadonlyArray<{ taskId: string; leaseId: string }>,
): Promise<Set<string>> {
  const records = await getMany<LeaseRecord>(
    ctx.kv,
    named.map((l) => leaseKey(l.taskId, l.leaseId)),
  );
  const held = new Set<string>();
  named.forEach(({ leaseId }, i) => {
    if (records[i]?.value?.workerId === workerId) held.add(leaseId);
  });
  return held;
}
