/**
 * Donor credit (`["donor", id, …]`, shown by `GET /api/donors`): given in the same intent that
 * accepts a result, never for a result that is refused, outvoted or fails its spot check. The
 * time is the coordinator's own: from the worker's start notice (or, without one, from the lease)
 * to the report, capped by the task's timeout; what the worker says it took is ignored.
 *
 * @module
 */
import { donorStatKey } from "../store/keys.ts";
import type { LeaseRecord } from "../store/task_view.ts";

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
