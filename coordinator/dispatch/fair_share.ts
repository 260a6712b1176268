/**
 * Fair share: within one priority of one (queue, type), lanes take turns. A lane is the job a
 * task belongs to, else the client (API key) that submitted it. This is start-time fair queuing
 * written into the ready index itself: each new task gets a place, one after its lane's previous
 * task but never before the head of the index (where the grid is now). A client that submits a
 * million tasks takes places far ahead; one that submits ten a minute later starts at the head
 * and interleaves with it, one of each in turn. The ready key sorts by place, so the dispatcher
 * needs no rule of its own, and claiming stays a read of the index head.
 *
 * The lanes' last places live in memory. After a restart, or for a lane submitting through two
 * coordinators, a lane starts again at the head: that only changes turns, never loses a task.
 * Retried and delayed tasks keep their place, which is behind the head, so they go first.
 *
 * Costs per task: no mutation; one KV read of the index head per (queue, type, priority) per
 * submit, shared by submits within a few milliseconds.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import { decodeReadyKey, readyPriorityPrefix } from "../store/keys.ts";

/** How long a read of an index head answers other submits. */
const HEAD_TTL_MS = 20;
/** Lanes remembered per coordinator; the least recently used beyond this start at the head. */
const MAX_LANES = 50_000;

export interface FairShare {
  /** Sets `fair` on each new task (in place), in the order given. */
  place(tasks: Task[]): Promise<void>;
}

/** The lane a task takes turns in. */
export function laneOf(t: Task): string {
  if (t.job) return `job:${t.job.id}`;
  return t.owner ? `key:${t.owner}` : "open";
}

export function createFairShare(kv: Deno.Kv, now: () => number = Date.now): FairShare {
  /** Per index (queue, type, priority) and lane: the place after the lane's last task. */
  const next = new Map<string, number>();
  /** Per index: the furthest place given, where everyone starts when the index is empty. */
  const furthest = new Map<string, number>();
  const heads = new Map<string, { at: number; place: Promise<number | null> }>();

  function head(queue: string, type: string, priority: number, index: string) {
    const cached = heads.get(index);
    if (cached && now() - cached.at < HEAD_TTL_MS) return cached.place;
    const place = (async () => {
      const prefix = readyPriorityPrefix(queue, type, priority);
      for await (const e of kv.list({ prefix }, { limit: 1 })) return decodeReadyKey(e.key).fair;
      return null;
    })();
    heads.set(index, { at: now(), place });
    // A failed read answers nobody later; the submit's own error says what happened.
    place.catch(() => heads.delete(index));
    if (heads.size > MAX_LANES) heads.delete(heads.keys().next().value!);
    return place;
  }

  return {
    async place(tasks) {
      const groups = new Map<string, Task[]>();
      for (const t of tasks) {
        const index = `${t.queue}\u0000${t.type}\u0000${t.priority}`;
        const group = groups.get(index);
        if (group) group.push(t);
        else groups.set(index, [t]);
      }
      await Promise.all([...groups].map(async ([index, group]) => {
        const { queue, type, priority } = group[0];
        const at = (await head(queue, type, priority, index)) ?? furthest.get(index) ?? 0;
        for (const t of group) {
          const lane = `${index}\u0000${laneOf(t)}`;
          const place = Math.max(next.get(lane) ?? 0, at);
          t.fair = place;
          // Re-inserted, so the map's order is least recently used first.
          next.delete(lane);
          next.set(lane, place + 1);
          if (place + 1 > (furthest.get(index) ?? 0)) furthest.set(index, place + 1);
        }
      }));
      while (next.size > MAX_LANES) next.delete(next.keys().next().value!);
    },
  };
}
