/**
 * Known-answer spot checks. For an untrusted worker (a browser volunteer, or a server worker with
 * neither a worker token nor a direct connection from this machine) without a record, the
 * dispatcher makes a small task from one of the handler's known-answer `samples` (its answer
 * given, or computed by the coordinator itself with the same handler), and leases it to that
 * worker directly. To the worker it is an ordinary task; its answer, compared by canonical hash,
 * becomes an agreement or a disagreement on the worker's (and donor's) record, so a liar is
 * caught before it can outvote anyone.
 *
 * @module
 */
import type { Handler, HandlerSample } from "../../handlers/contract.ts";
import { canonicalHash } from "../../shared/canonical_hash.ts";
import type { Lease, Task, WorkerKind } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { creditedMs, donorCredit } from "./donor_credit.ts";
import type { EndedAttempt, Outcome } from "../tasks/ordinary_outcome.ts";
import { newTask } from "../tasks/enqueue.ts";
import { applyTransition } from "../store/transition.ts";
import { leaseKey, spotCountKey, spotKey, taskKey, workerStatKey } from "../store/keys.ts";
import { repSums, type Reputation } from "./reputation.ts";
import type { CoordinatorConfig } from "../config.ts";
import { type LeaseRecord, type StoredTask, taskView } from "../store/task_view.ts";

/** Spot checks go to every claim until a worker has this many judged answers… */
const SPOT_UNTIL = 2;
/** …and then to this fraction of claims. */
const SPOT_RATE = 0.02;

/**
 * Whether this claim gets a known-answer spot check: a newcomer's first answers are checked
 * against known ones, later ones now and then; the operator's own workers only with `all`.
 */
export function wantsSpotCheck(
  mode: CoordinatorConfig["spotChecks"],
  operator: boolean,
  record: Reputation,
  random = Math.random(),
): boolean {
  if (mode === "off" || (operator && mode !== "all")) return false;
  return record.agree + record.disagree < SPOT_UNTIL || random < SPOT_RATE;
}

/** The types with known-answer samples (the handler's `samples`) among those accepted. */
export function spotTypes(
  handlers: ReadonlyMap<string, Handler>,
  accepted: string[] | undefined,
): string[] {
  return [...handlers].filter(([t, h]) => h.samples && (!accepted?.length || accepted.includes(t)))
    .map(([t]) => t);
}

/** One sample of `handler`, picked or made at random; null when it has none. */
export function pickSample(handler: Handler, random = Math.random): HandlerSample | null {
  const { samples } = handler;
  if (typeof samples === "function") return samples(random);
  if (!samples?.length) return null;
  return samples[Math.floor(random() * samples.length)];
}

/**
 * Makes a spot-check task of a type the worker accepts, computes its answer, and leases it to
 * the worker in one intent. Returns null when the worker accepts no spot-checkable type.
 */
export async function makeSpotLease(
  ctx: Ctx,
  worker: {
    workerId: string;
    donorId: string | null;
    kind: WorkerKind;
    types?: string[] | undefined;
    queues?: string[] | undefined;
    via?: "seed" | undefined;
  },
): Promise<Lease | null> {
  const types = spotTypes(ctx.handlers, worker.types);
  if (types.length === 0) return null;
  const type = types[Math.floor(Math.random() * types.length)];
  const handler = ctx.handlers.get(type)!;
  const sample = pickSample(handler);
  if (!sample) return null;
  const params = handler.params.parse(sample.params);
  // Operator code is trusted on the coordinator: a sample without its answer is computed here.
  const expected = sample.result !== undefined ? sample.result : await handler.run(params, {
    signal: new AbortController().signal,
    progress: () => {},
    log: ctx.log,
    taskId: "spot",
    attempt: 1,
  });
  const now = ctx.now();
  const queue = worker.queues?.[0] ?? "default";
  const task: Task = newTask(ctx, {
    type,
    params,
    queue,
    priority: 0,
    maxAttempts: 1,
    leaseMs: 30_000,
    backoffMs: 0,
    verification: { mode: "none" },
  }, now);
  const lease: LeaseRecord = {
    leaseId: crypto.randomUUID(),
    taskId: task.id,
    workerId: worker.workerId,
    attempt: 1,
    startedAt: now,
    expiresAt: now + task.leaseMs,
    leaseMs: task.leaseMs,
    slot: 0,
    donorId: worker.donorId,
    kind: worker.kind,
    spot: true,
    ...(worker.via ? { via: worker.via } : {}),
  };
  const stored: StoredTask = { ...task, spot: true };
  const ok = await ctx.committer.commit({
    checks: [],
    mutations: [
      // Marked as the coordinator's own (never shown to the worker: `clientFields` drops it),
      // and in no list or client count: a spot check is not work anyone submitted.
      { type: "set", key: taskKey(task.id), value: stored },
      { type: "set", key: spotKey(task.id), value: canonicalHash(expected) },
      { type: "set", key: leaseKey(task.id, lease.leaseId), value: lease },
    ],
    sums: [[spotCountKey("made"), 1n]],
  });
  if (!ok) return null;
  ctx.leasedTasks.set(lease.leaseId, stored, lease.expiresAt);
  return {
    leaseId: lease.leaseId,
    taskId: task.id,
    expiresAt: lease.expiresAt,
    attempt: 1,
    task: taskView(task, [lease]),
  };
}

/** Ends a spot-check attempt: the answer is compared with the known one. */
export async function endSpot(
  ctx: Ctx,
  task: Task,
  lease: { value: LeaseRecord; versionstamp: string },
  outcome: Outcome,
  now: number,
): Promise<EndedAttempt & { agreed: boolean }> {
  const l = lease.value;
  const expected = (await ctx.kv.get<string>(spotKey(task.id))).value;
  const agreed = outcome.kind === "completed" && expected !== null &&
    canonicalHash(outcome.result) === expected;
  // Handing a spot check back unanswered is not held against anyone; failing it is.
  const judged = outcome.kind !== "released";
  const status = outcome.kind === "completed"
    ? (agreed ? "completed" : "failed")
    : outcome.kind === "released"
    ? "cancelled"
    : "failed";
  const next: Task = {
    ...task,
    status,
    attempts: 1,
    completedAt: now,
    claimedAt: l.startedAt,
    workerId: l.workerId,
    leaseId: l.leaseId,
    result: outcome.kind === "completed" ? outcome.result : null,
    error: status === "failed"
      ? {
        code: "verification",
        message: "spot check: the answer differs from the known one",
        retryable: false,
      }
      : null,
    agreement: outcome.kind === "completed" ? { agreed: agreed ? 1 : 0, of: 1 } : null,
    history: [{
      attempt: 1,
      leaseId: l.leaseId,
      workerId: l.workerId,
      startedAt: l.startedAt,
      endedAt: now,
      outcome: outcome.kind === "expired" ? "expired" : outcome.kind,
      error: null,
      ...(l.via ? { via: l.via } : {}),
    }],
  };
  const sums: Array<[Deno.KvKey, bigint]> = [];
  if (judged) sums.push(...repSums(l.workerId, l.donorId ?? null, agreed));
  if (agreed && outcome.kind === "completed") {
    sums.push([workerStatKey(l.workerId, "completed"), 1n]);
    sums.push(...donorCredit(l.donorId, creditedMs(l, task.timeoutMs, outcome.startedAt, now)));
  }
  // A volunteer's wrong answer may be a large one: it fits as any result does (transition.ts).
  const intent = applyTransition({
    from: task,
    counted: "processing",
    next,
    checks: [{ key: leaseKey(task.id, l.leaseId), versionstamp: lease.versionstamp }],
    endsLeases: [l],
    extra: [{ type: "delete", key: spotKey(task.id) }],
    sums,
    unlisted: true,
  }, now);
  return { intent, next, final: true, agreed };
}
