/**
 * One shape for every change of a task's state, and the one function that turns it into the
 * intent the committer commits. Each way a task moves (an attempt completed, failed, retried,
 * expired, released or cancelled; a replica's vote; a spot check judged; a cancel before any
 * claim; a retry by hand; a verification deadline) is a constructor elsewhere that returns a
 * `Transition`; what every one of them must write alike is written here once: the record (sized
 * to fit, `task_record.ts`), the list indexes, the failed index, the queue entries and their ready
 * signals, the ended leases, the status counters, the donors' pending credit. Adding an outcome
 * adds a constructor, never a second copy of this write path (River's job completer is the model).
 *
 * @module
 */
import type { Task, TaskStatus } from "../../shared/protocol.ts";
import type { Intent } from "./committer.ts";
import {
  countKey,
  delayedKey,
  failedKey,
  isDelayedKey,
  leaseKey,
  ownerOpenKey,
  readyKey,
  readySignalKey,
  spotCountKey,
} from "./keys.ts";
import { sizeBound } from "./encoded_size.ts";
import { listIndexMoves } from "./list_index.ts";
import { storeTask } from "./task_record.ts";
import { jobTransitionWrites } from "../jobs/job_writes.ts";
import { pendingCreditMoves } from "../verify/donor_credit.ts";
import type { StoredTask } from "./task_view.ts";
import { delayedSum, waitSums } from "./wait_counts.ts";

export interface Transition {
  /** The record as it was read. */
  from: Task;
  /**
   * The status the counters count it under now: a leased ordinary task counts as processing
   * although its record says pending (a claim writes no record).
   */
  counted: TaskStatus;
  next: Task;
  /** What must not have changed since it was read. */
  checks: Deno.AtomicCheck[];
  /** Leases it ends: each record goes. */
  endsLeases?: ReadonlyArray<{ leaseId: string }>;
  /** Slots of `next` to queue: ready now, or delayed until its `runAt`. */
  enqueue?: number[];
  /** Queue entries to remove (ready slots of a decided task, a cancelled task's entry). */
  dequeue?: Deno.KvKey[];
  /** Writes of this outcome alone (a replica's result, a spot's answer, a deadline entry). */
  extra?: Deno.KvMutation[];
  /** Counters beyond the status counts: rates, worker stats, reputation, credit. */
  sums?: Array<[Deno.KvKey, bigint]>;
  /**
   * The coordinator's own task (a spot check): kept out of the failed index, the lists and the
   * status counts clients read; counted under `["count_spot", status]` instead.
   */
  unlisted?: boolean;
}

/** The queue entry of one slot of `task`: ready, or delayed until its `runAt`. */
export function queueEntry(task: Task, now: number, slot = 0): Deno.KvMutation {
  return task.runAt > now
    ? { type: "set", key: delayedKey(task.runAt, task.id, slot), value: 1 }
    : readyEntry(task, slot);
}

/** The ready entry of one slot of `task`, whatever its `runAt` (a delayed slot now due). */
export const readyEntry = (task: Task, slot = 0): Deno.KvMutation => ({
  type: "set",
  key: readyKey(task, slot),
  value: 1,
});

export const isFinalStatus = (s: TaskStatus): boolean =>
  s === "completed" || s === "failed" || s === "cancelled";

/** The intent that applies `t`: the one write path of every task transition. */
export function applyTransition(t: Transition, now: number): Intent {
  const { from, next } = t;
  const spot: StoredTask = { ...next, spot: true };
  const record = storeTask(t.unlisted ? spot : next);
  const mutations: Deno.KvMutation[] = [];
  for (const l of t.endsLeases ?? []) {
    mutations.push(
      { type: "delete", key: leaseKey(from.id, l.leaseId) },
    );
  }
  for (const key of t.dequeue ?? []) mutations.push({ type: "delete", key });
  const pending = pendingCreditMoves(from, next);
  mutations.push(
    ...record.mutations,
    ...(t.unlisted ? [] : listIndexMoves(from, next)),
    ...pending,
  );
  const sums: Array<[Deno.KvKey, bigint]> = [];
  const undelayed = (t.dequeue ?? []).filter(isDelayedKey).length;
  if (undelayed > 0) sums.push(delayedSum(from, -undelayed));
  let ready = 0;
  for (const slot of t.enqueue ?? []) {
    mutations.push(queueEntry(next, now, slot));
    if (next.runAt <= now) ready++;
  }
  if (ready > 0) sums.push([readySignalKey(next.queue, next.type), BigInt(ready)]);
  const delayed = (t.enqueue?.length ?? 0) - ready;
  if (delayed > 0) sums.push(delayedSum(next, delayed));
  sums.push(...waitSums(from, next));
  if (next.status === "failed" && from.status !== "failed" && !t.unlisted) {
    mutations.push({ type: "set", key: failedKey(from.id), value: 1 });
  }
  if (from.status === "failed" && next.status !== "failed") {
    mutations.push({ type: "delete", key: failedKey(from.id) });
  }
  let extraBytes = 0;
  for (const m of t.extra ?? []) {
    mutations.push(m);
    if (m.type === "set") extraBytes += sizeBound(m.value) + 64;
  }
  if (t.unlisted) {
    if (isFinalStatus(next.status)) sums.push([spotCountKey(next.status), 1n]);
  } else if (t.counted !== next.status) {
    sums.push(
      [countKey(from.type, from.queue, t.counted), -1n],
      [countKey(from.type, from.queue, next.status), 1n],
    );
  }
  if (from.owner && isFinalStatus(from.status) !== isFinalStatus(next.status)) {
    sums.push([ownerOpenKey(from.owner), isFinalStatus(next.status) ? -1n : 1n]);
  }
  sums.push(...t.sums ?? []);
  const job = jobTransitionWrites(from, t.counted, next, now);
  if (job) {
    mutations.push(...job.mutations);
    sums.push(...job.sums);
    extraBytes += job.bytes;
  }
  const bytes = record.bytes + extraBytes + 200 + pending.length * 160;
  return { checks: t.checks, mutations, sums, bytes };
}
