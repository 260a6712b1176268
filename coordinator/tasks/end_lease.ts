/**
 * Ends any lease: an ordinary task's attempt (`ordinary_outcome.ts`), a replica of a quorum task
 * (`quorum`), or a spot check (`spot_checks`). Callers commit the intent and then call
 * `announce` so waiting clients, sockets and claims hear of it.
 *
 * @module
 */
import type { Handler } from "../../handlers/contract.ts";
import { pinnedHandler } from "../packs/pinned_handler.ts";
import type { Task } from "../../shared/protocol.ts";
import type { Intent } from "../store/committer.ts";
import type { Ctx } from "../context.ts";
import { endAttempt, type Outcome } from "./ordinary_outcome.ts";
import { ApiFailure } from "../http/errors.ts";
import { endReplica } from "../verify/quorum.ts";
import { endSpot } from "../verify/spot_checks.ts";
import type { LeaseRecord } from "../store/task_view.ts";

export interface EndedLease {
  intent: Intent;
  next: Task;
  final: boolean;
  /** Every lease this ends: the reported one, and other replicas a decision made stale. */
  leaseIds: string[];
  /** Voters whose reputation the decision changed. */
  voters: Array<{ workerId: string; donorId: string | null }>;
  /** A spot check ended (the coordinator's own task). */
  spot?: boolean;
  /**
   * The reported result did not match the task type's result schema: the attempt ended as a
   * failed one, and the reporter is told so (after the commit) with this error.
   */
  refused?: ApiFailure;
}

export const isReplicated = (t: Task): boolean => t.verification.mode === "quorum";

export async function endLease(
  ctx: Ctx,
  task: { key: Deno.KvKey; value: Task; versionstamp: string | null },
  lease: { value: LeaseRecord; versionstamp: string },
  outcome: Outcome,
  now: number,
): Promise<EndedLease> {
  // The result schema of the version the task was submitted against.
  const pinned = pinnedHandler(ctx, task.value);
  const handler = pinned instanceof Promise ? await pinned : pinned;
  const checked = checkResult(handler, task.value.type, outcome);
  const ended = await endChecked(ctx, task, lease, checked.outcome, now);
  return checked.refused ? { ...ended, refused: checked.refused } : ended;
}

/**
 * Holds a reported result to the handler's result schema: workers are not trusted to have run
 * the real handler. A mismatch fails the attempt with a retryable `validation` error: one bad
 * worker should not doom the task, and `maxAttempts` still bounds the retries. A match keeps
 * the value as reported, not as parsed: parsing drops fields the schema does not name, and a
 * replica or spot-check answer with made-up fields must still differ from the honest one.
 */
function checkResult(
  handler: Handler | undefined,
  type: string,
  outcome: Outcome,
): { outcome: Outcome; refused?: ApiFailure } {
  if (outcome.kind !== "completed" || !handler) return { outcome };
  let parsed;
  try {
    parsed = handler.result.safeParse(outcome.result);
  } catch {
    // A refinement may read fields of a value of the wrong shape and throw: not a match.
    parsed = { success: false as const, error: null };
  }
  if (parsed.success) return { outcome };
  const issue = parsed.error?.issues[0];
  const where = issue ? ["result", ...issue.path.map(String)].join(".") : "result";
  const message = `${where}: not a valid ${type} result${issue ? ` (${issue.message})` : ""}`;
  return {
    outcome: { kind: "failed", error: { code: "validation", message, retryable: true } },
    refused: new ApiFailure("validation", message, "result"),
  };
}

async function endChecked(
  ctx: Ctx,
  task: { key: Deno.KvKey; value: Task; versionstamp: string | null },
  lease: { value: LeaseRecord; versionstamp: string },
  outcome: Outcome,
  now: number,
): Promise<EndedLease> {
  const l = lease.value;
  if (l.spot) {
    const e = await endSpot(ctx, task.value, lease, outcome, now);
    return {
      ...e,
      leaseIds: [l.leaseId],
      voters: [{ workerId: l.workerId, donorId: l.donorId ?? null }],
      spot: true,
    };
  }
  if (isReplicated(task.value) && task.versionstamp !== null) {
    const e = await endReplica(ctx, task as Deno.KvEntry<Task>, lease, outcome, now);
    return { ...e, leaseIds: [l.leaseId, ...e.endedLeases] };
  }
  const e = endAttempt(task.value, l, lease.versionstamp, outcome, now);
  return { ...e, leaseIds: [l.leaseId], voters: [] };
}

/** After a successful commit: tell sockets, waiting clients and idle claims. */
export function announce(ctx: Ctx, ended: EndedLease, versionstamp?: string): void {
  // A replicated task's record stands in for a read only as written here, at a versionstamp
  // known: a commit whose versionstamp the caller did not keep leaves it to be read.
  if (isReplicated(ended.next)) {
    if (versionstamp) ctx.readyTasks.wrote(ended.next, versionstamp);
    else ctx.readyTasks.forget(ended.next.id);
  }
  for (const id of ended.leaseIds) {
    ctx.leasedTasks.take(id);
    ctx.signals.leaseEnded(id, ended.next);
  }
  for (const v of ended.voters) {
    ctx.reputation.invalidate("w", v.workerId);
    if (v.donorId) ctx.reputation.invalidate("d", v.donorId);
  }
  // A spot check is the coordinator's own: no client waits for it, no feed counts it.
  if (ended.final && !ended.spot) ctx.signals.taskEnded(ended.next);
  if (!ended.final && ended.next.runAt <= ctx.now()) ctx.signals.readyArrived([ended.next]);
}
