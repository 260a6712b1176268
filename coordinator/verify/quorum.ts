/**
 * end_replica: how an attempt of a replicated (quorum) task ends. Unlike an ordinary task, a
 * replicated task's record changes while other replicas are leased, so every transition here
 * checks the task's versionstamp as well as the lease's.
 *
 * A result is a vote (its canonical hash; while the task is open, the first result of each hash
 * is kept under `["replica", …]`, for a decision that another vote of its group makes). A
 * group of identical results wins when it has `agree` votes and at least one voter with a record
 * (established or trusted), or, with adaptive verification, one trusted voter. Banned voters do
 * not count. When every replica has answered without a winner, one more replica is added, up to
 * `maxReplicas`; after that the task fails with a `verification` error. On a decision every voter
 * gains an agreement or a disagreement.
 *
 * A group of `agree` matching votes all from workers without a record cannot win, and more such
 * votes would not change that: the task waits instead (`waiting` says why), its open slots go to
 * workers with a record only (the dispatcher checks `waiting`), one slot at a time even past
 * `maxReplicas`, until its `verifyBy` deadline; then `verify_deadline.ts` fails it `unverified`.
 *
 * @module
 */
import { canonicalHash } from "../../shared/canonical_hash.ts";
import {
  type Attempt,
  DEFAULTS,
  type Task,
  type TaskError,
  type Vote,
} from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { creditedMs, donorCredit } from "./donor_credit.ts";
import { type EndedAttempt, type Outcome, retryDelay } from "../tasks/ordinary_outcome.ts";
import {
  leaseKey,
  leasesOfTask,
  rateKey,
  readySlotsPrefix,
  replicaKey,
  verifyByKey,
  workerStatKey,
} from "../store/keys.ts";
import { decodeResult, encodeResult } from "../store/task_record.ts";
import { withoutHolders } from "../tasks/claim.ts";
import { busNotice } from "../fleet/bus.ts";
import { applyTransition } from "../store/transition.ts";
import { repSums, type Trust } from "./reputation.ts";
import type { LeaseRecord } from "../store/task_view.ts";

export interface EndedReplica extends EndedAttempt {
  /** Other leases this decision ended (their holders must stop). */
  endedLeases: string[];
  /** Voters whose reputation changed. */
  voters: Array<{ workerId: string; donorId: string | null }>;
}

export async function endReplica(
  ctx: Ctx,
  task: Deno.KvEntry<Task>,
  lease: { value: LeaseRecord; versionstamp: string },
  outcome: Outcome,
  now: number,
): Promise<EndedReplica> {
  const t = task.value;
  const l = lease.value;
  const v = t.verification.mode === "quorum" ? t.verification : null;
  // The record counts its live leases and its slots (every transition that adds or ends one
  // writes it, checked against its versionstamp), so only a decision that has other leases to
  // end, or queued slots to remove, reads them: most ends read no range at all.
  const live = Math.max(0, t.live - 1);
  // A count that leaves out this very lease is not to be trusted for the slots: read them.
  const queuedSlots = t.live >= 1 ? t.replicas - t.votes.length - t.live : 1;
  /** What this transition writes beyond what every one does (`transition.ts`). */
  const extra: Deno.KvMutation[] = [];
  const ends: LeaseRecord[] = [l];
  const dequeue: Deno.KvKey[] = [];
  const enqueue: number[] = [];
  const sums: Array<[Deno.KvKey, bigint]> = [];
  let next: Task;
  let final = false;
  let endedLeases: string[] = [];
  let unanswered: LeaseRecord[] = [];
  let voters: EndedReplica["voters"] = [];
  const attempt = (outcomeName: Attempt["outcome"], err: TaskError | null): Attempt => ({
    attempt: l.attempt,
    leaseId: l.leaseId,
    workerId: l.workerId,
    startedAt: l.startedAt,
    endedAt: now,
    outcome: outcomeName,
    error: err && { ...err, message: err.message.slice(0, 300) },
    ...(l.via ? { via: l.via } : {}),
  });
  const second = Math.floor(now / 1000);

  /** Ends the other replicas and removes every queued slot: the task is decided. */
  const closeTask = async () => {
    const others = live > 0
      ? (await Array.fromAsync(ctx.kv.list<LeaseRecord>({ prefix: leasesOfTask(t.id) })))
        .filter((e) => e.value.leaseId !== l.leaseId)
      : [];
    ends.push(...others.map((o) => o.value));
    endedLeases = others.map((o) => o.value.leaseId);
    // Ended unanswered: not votes, so they bar nobody (a retry of the task may give them again).
    unanswered = others.map((o) => o.value);
    if (queuedSlots > 0) {
      for await (const e of ctx.kv.list({ prefix: readySlotsPrefix(t) })) dequeue.push(e.key);
    }
    final = true;
  };
  const openStatus = live > 0 ? "processing" as const : "pending" as const;

  if (outcome.kind === "completed") {
    const hash = canonicalHash(outcome.result);
    const vote: Vote = {
      leaseId: l.leaseId,
      workerId: l.workerId,
      donorId: l.donorId ?? null,
      kind: l.kind ?? "other",
      operator: l.operator === true,
      computeMs: creditedMs(l, t.timeoutMs, outcome.startedAt, now),
      hash,
      at: now,
    };
    const votes = [...t.votes, vote];
    const trusts = await Promise.all(
      votes.map((x) => ctx.reputation.trust(x.workerId, x.donorId, x.operator === true)),
    );
    const counted = votes.map((x, i) => ({ vote: x, trust: trusts[i] })).filter((x) =>
      x.trust !== "banned"
    );
    // Without spot checks nobody can earn a record, so only the count can decide.
    const needRecord = ctx.config.spotChecks !== "off";
    const winner = decide(counted, v?.agree ?? 1, v?.adaptive ?? false, hash, needRecord);
    const history = [...t.history, attempt("completed", null)].slice(-20);
    const unconfirmed = winner === null && needRecord ? largestGroup(counted, v?.agree ?? 1) : 0;
    if (winner !== null) {
      await closeTask();
      let result = outcome.result;
      if (winner !== hash) {
        const from = votes.find((x) => x.hash === winner)!;
        result = decodeResult((await ctx.kv.get(replicaKey(t.id, from.leaseId))).value);
      }
      const agreed = counted.filter((x) => x.vote.hash === winner).length;
      next = {
        ...t,
        status: "completed",
        votes,
        history,
        live: 0,
        result,
        error: null,
        completedAt: now,
        claimedAt: t.claimedAt ?? l.startedAt,
        workerId: l.workerId,
        leaseId: l.leaseId,
        agreement: { agreed, of: votes.length },
      };
      for (const x of counted) {
        sums.push(...repSums(x.vote.workerId, x.vote.donorId, x.vote.hash === winner));
        if (x.vote.hash === winner) {
          sums.push(...donorCredit(x.vote.donorId, x.vote.computeMs ?? 0));
        }
      }
      voters = counted.map((x) => ({ workerId: x.vote.workerId, donorId: x.vote.donorId }));
      sums.push([rateKey("completed", second), 1n]);
    } else if (unconfirmed > 0) {
      const verifyBy = t.verifyBy ?? now + deadlineOf(ctx, t);
      const waiting = `needs a voter with a record: ${unconfirmed} matching results so far, ` +
        `none from a worker with a record`;
      next = { ...t, status: openStatus, votes, history, live, waiting, verifyBy };
      // Every slot is taken or answered: open one, for a worker with a record.
      if (t.replicas - votes.length <= 0) {
        next = { ...next, replicas: t.replicas + 1 };
        enqueue.push(t.replicas);
      }
      if (!t.waiting) extra.push({ type: "set", key: verifyByKey(verifyBy, t.id), value: 1 });
    } else if (counted.length >= t.replicas || votes.length >= t.replicas) {
      if (v && t.replicas < v.maxReplicas) {
        // No agreement yet: ask one more worker.
        next = { ...t, status: openStatus, votes, history, live, replicas: t.replicas + 1 };
        enqueue.push(t.replicas);
      } else {
        await closeTask();
        const distinct = new Set(votes.map((x) => x.hash)).size;
        const banned = votes.length - counted.length;
        next = {
          ...t,
          status: "failed",
          votes,
          history,
          live: 0,
          completedAt: now,
          error: {
            code: "verification",
            message: `replicas did not agree: no ${v?.agree ?? 1} matching results among ` +
              `${votes.length} (${distinct} distinct` +
              `${banned > 0 ? `; ${banned} from banned workers, not counted` : ""})`,
            retryable: false,
          },
          agreement: { agreed: 0, of: votes.length },
        };
        sums.push([rateKey("failed", second), 1n]);
      }
    } else {
      next = { ...t, status: openStatus, votes, history, live };
    }
    // No longer blocked on a record (a voter was banned meanwhile): the usual rules apply.
    if (t.waiting && unconfirmed === 0 && !final) next = { ...next, waiting: null };
    sums.push([workerStatKey(l.workerId, "completed"), 1n]);
    sums.push([workerStatKey(l.workerId, "runMs"), BigInt(Math.max(0, now - l.startedAt))]);
    // Kept for a later decision that this result's group wins while another vote is the one
    // counted (`from` above reads its group's first vote): so once per distinct result, and
    // not at all once the task is decided.
    if (!final && !t.votes.some((x) => x.hash === hash)) {
      // As UTF-8 JSON: within the result limit, where its V8 encoding (floats) might not be.
      const value = encodeResult(outcome.result);
      extra.push({ type: "set", key: replicaKey(t.id, l.leaseId), value });
    }
  } else {
    const err: TaskError | null = outcome.kind === "failed"
      ? outcome.error
      : outcome.kind === "expired"
      ? {
        code: "expired",
        message: `lease expired: no heartbeat from ${l.workerId}`,
        retryable: true,
      }
      : null;
    const history = [...t.history, attempt(outcome.kind, err)].slice(-20);
    const failures = history.filter((h) =>
      h.outcome === "failed" || h.outcome === "expired"
    ).length;
    if (outcome.kind === "cancelled") {
      await closeTask();
      next = { ...t, status: "cancelled", history, live: 0, completedAt: now };
    } else if (err && (!err.retryable || failures >= t.maxAttempts)) {
      await closeTask();
      next = { ...t, status: "failed", history, live: 0, error: err, completedAt: now };
      sums.push([rateKey("failed", second), 1n]);
    } else {
      // The slot goes back: at once when released, after a backoff when it failed.
      const runAt = err ? now + retryDelay(t, failures) : now;
      next = {
        ...t,
        status: openStatus,
        history,
        live,
        error: err ?? t.error,
        attempts: outcome.kind === "released" ? t.attempts - 1 : t.attempts,
        runAt,
      };
      enqueue.push(l.slot ?? 0);
    }
    if (err) sums.push([workerStatKey(l.workerId, "failed"), 1n]);
    // Not a vote: only a vote bars its worker (and donor) from the task's other slots. The
    // other coordinators hear of it on the bus (rare: a hand-back, a failure, an expiry), so a
    // dispatcher that remembers the worker's replica forgets it (dispatcher.ts).
    unanswered.push(l);
    if (outcome.kind !== "cancelled") {
      extra.push(busNotice(ctx, { kind: "lease_ended", taskId: t.id, leaseIds: [l.leaseId] }));
    }
  }

  next = withoutHolders(next, unanswered);
  if (final && (t.waiting || t.verifyBy)) {
    next = { ...next, waiting: null, verifyBy: null };
    if (t.verifyBy) extra.push({ type: "delete", key: verifyByKey(t.verifyBy, t.id) });
  }
  const intent = applyTransition({
    from: t,
    counted: t.status,
    next,
    checks: [
      { key: leaseKey(t.id, l.leaseId), versionstamp: lease.versionstamp },
      { key: task.key, versionstamp: task.versionstamp },
    ],
    endsLeases: ends,
    enqueue,
    dequeue,
    extra,
    sums,
  }, now);
  return { intent, next, final, endedLeases, voters };
}

/** Whether a voter's record lets its group win (`decide`) or its claim a waiting task's slot. */
export const hasRecord = (trust: Trust): boolean => trust === "trusted" || trust === "established";

/** How long `task` may wait for a voter with a record: the task's own, its type's, the default. */
export function deadlineOf(ctx: Ctx, task: Task): number {
  const own = task.verification.mode === "quorum" ? task.verification.deadlineMs : undefined;
  const typeDefault = ctx.handlers.get(task.type)?.verification;
  return own ??
    (typeDefault?.mode === "quorum" ? typeDefault.deadlineMs : undefined) ??
    DEFAULTS.verificationDeadlineMs;
}

/**
 * The size of the largest group of matching counted votes when it reaches `agree` (so only a
 * missing record keeps it from winning), else 0.
 */
function largestGroup(counted: Array<{ vote: Vote }>, agree: number): number {
  const sizes = new Map<string, number>();
  for (const { vote } of counted) sizes.set(vote.hash, (sizes.get(vote.hash) ?? 0) + 1);
  const most = Math.max(0, ...sizes.values());
  return most >= agree ? most : 0;
}

/** The winning hash, if any: see the module comment for the rule. */
export function decide(
  counted: Array<{ vote: Vote; trust: Trust }>,
  agree: number,
  adaptive: boolean,
  prefer: string,
  needRecord: boolean,
): string | null {
  const groups = new Map<string, Trust[]>();
  for (const { vote, trust } of counted) {
    groups.set(vote.hash, [...(groups.get(vote.hash) ?? []), trust]);
  }
  const hashes = [prefer, ...[...groups.keys()].filter((h) => h !== prefer)];
  for (const h of hashes) {
    const trusts = groups.get(h);
    if (!trusts) continue;
    if (adaptive && trusts.includes("trusted")) return h;
    if (trusts.length >= agree && (!needRecord || trusts.some(hasRecord))) return h;
  }
  return null;
}
