/**
 * Donor credit (`["donor", id, …]`, shown by `GET /api/donors`): given in the same intent that
 * accepts a result, never for a result that is refused, outvoted or fails its spot check. The
 * time is the coordinator's own: from the worker's start notice (or, without one, from the lease)
 * to the report, capped by the task's timeout. What the worker says it took can only lower it
 * ({@link creditStart}): a staged task may begin too soon after its push for a notice.
 *
 * Pending credit (`["donor_pending", id, taskId]`, shown by `GET /api/donors/{id}`) is a donor's
 * vote on a replicated task not yet decided: worth nothing until the quorum decides, and then
 * either credited above or dropped. It is derived from the task record alone by
 * {@link pendingCreditMoves}, which the one write path of every transition applies, so no way a
 * task ends (decided, failed, cancelled, unverified at its deadline) can leave one behind.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import { donorPendingKey, donorStatKey } from "../store/keys.ts";
import type { LeaseRecord } from "../store/task_view.ts";

/** What a pending entry holds: the vote's measured time, and whether the task needs a record. */
export interface PendingCredit {
  computeMs: number;
  /** The task waits for a voter with a record (a volunteer alone cannot decide it). */
  waiting: boolean;
  at: number;
}

/**
 * The start a report's credit counts from: the later of the worker's start notice and the
 * report's arrival less the run time the worker gives. Both are the worker's word and both can
 * only move the start later, so a worker can lower its own credit with them, never raise it.
 *
 * @example
 * ```ts
 * creditStart(conn.started.get(leaseId), msg.runMs, ctx.now());
 * ```
 */
export function creditStart(
  noticeAt: number | undefined,
  runMs: number | undefined,
  reportedAt: number,
): number | undefined {
  const ran = runMs === undefined ? undefined : reportedAt - Math.ceil(runMs);
  if (ran === undefined || noticeAt === undefined) return ran ?? noticeAt;
  return Math.max(noticeAt, ran);
}

/**
 * Compute time to credit for an attempt reported at `now`.
 *
 * @example
 * ```ts
 * creditedMs(lease, task.timeoutMs, outcome.startedAt, ctx.now());
 * ```
 */
export function creditedMs(
  lease: Pick<LeaseRecord, "startedAt">,
  timeoutMs: number,
  startedAt: number | undefined,
  now: number,
): number {
  const from = Math.max(lease.startedAt, startedAt ?? lease.startedAt);
  return Math.min(Math.max(0, Math.round(now - from)), timeoutMs);
}

/** Sums crediting one accepted task and its compute time to a donor (none without a donor). */
export function donorCredit(
  donorId: string | null | undefined,
  computeMs: number,
): Array<[Deno.KvKey, bigint]> {
  if (!donorId) return [];
  return [
    [donorStatKey(donorId, "completed"), 1n],
    [donorStatKey(donorId, "computeMs"), BigInt(Math.max(0, Math.round(computeMs)))],
  ];
}

const isFinal = (t: Task) =>
  t.status === "completed" || t.status === "failed" || t.status === "cancelled";

/** The pending entries a task's record implies: one per donor's vote while it is undecided. */
function pendingOf(t: Task): Map<string, PendingCredit> {
  const out = new Map<string, PendingCredit>();
  if (isFinal(t)) return out;
  for (const v of t.votes ?? []) {
    if (!v.donorId) continue;
    out.set(v.donorId, { computeMs: v.computeMs ?? 0, waiting: !!t.waiting, at: v.at });
  }
  return out;
}

/**
 * The writes that keep the pending-credit index true across one transition: entries for votes
 * the task gained while open, updated when it starts or stops waiting, deleted once it ends.
 *
 * @example
 * ```ts
 * mutations.push(...pendingCreditMoves(from, next));
 * ```
 */
export function pendingCreditMoves(from: Task, next: Task): Deno.KvMutation[] {
  if ((from.votes?.length ?? 0) === 0 && (next.votes?.length ?? 0) === 0) return [];
  const before = pendingOf(from);
  const after = pendingOf(next);
  const moves: Deno.KvMutation[] = [];
  for (const donor of before.keys()) {
    if (!after.has(donor)) moves.push({ type: "delete", key: donorPendingKey(donor, from.id) });
  }
  for (const [donor, credit] of after) {
    const was = before.get(donor);
    if (was && was.waiting === credit.waiting && was.computeMs === credit.computeMs) continue;
    moves.push({ type: "set", key: donorPendingKey(donor, next.id), value: credit });
  }
  return moves;
}
