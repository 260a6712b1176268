/**
 * Why open work waits, as counters: the sums a transition adds so that "how many tasks of this
 * (queue, type) wait for more votes, and for how many more volunteers" is a handful of reads,
 * never a scan of the tasks. Every write of a task record (`transition.ts`, a replica's claim)
 * adds the difference between what the record says before and after; every delayed queue entry
 * written adds one and every one removed takes one away.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import { waitKey, type WaitState } from "./keys.ts";

type Sum = [Deno.KvKey, bigint];

/** What one record counts for, per wait state (delayed entries are counted apart). */
export function waitState(t: Task | null): Record<Exclude<WaitState, "delayed">, number> {
  const none = { votes: 0, voters: 0, held: 0 };
  if (!t || t.verification.mode !== "quorum") return none;
  const open = t.status === "pending" || t.status === "processing";
  if (!open) return none;
  if (t.waiting) return { votes: 0, voters: 0, held: 1 };
  // Answered by some, nobody on it now: only other volunteers can take its open slots.
  if (t.status === "pending" && t.votes.length > 0) {
    return { votes: 1, voters: Math.max(1, t.replicas - t.votes.length), held: 0 };
  }
  return none;
}

/** The wait sums of a record going from `from` (null: new) to `next`. */
export function waitSums(from: Task | null, next: Task): Sum[] {
  const a = waitState(from);
  const b = waitState(next);
  const sums: Sum[] = [];
  for (const state of ["votes", "voters", "held"] as const) {
    const d = b[state] - a[state];
    if (d !== 0) sums.push([waitKey(next.queue, next.type, state), BigInt(d)]);
  }
  return sums;
}

/** `n` delayed entries of `task` written (positive) or removed (negative). */
export const delayedSum = (
  task: Pick<Task, "queue" | "type">,
  n: number,
): Sum => [waitKey(task.queue, task.type, "delayed"), BigInt(n)];
