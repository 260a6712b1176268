/**
 * Long-polls (`GET /tasks/{id}?wait`, `POST /tasks/await`) learn of tasks ended by another
 * coordinator on the same store: while anyone here waits and other coordinators are present, the
 * awaited task records are re-read every `intervalMs`, a bounded number per round. Only waiting
 * clients cost reads, never the task path. (A peer not yet seen is covered by the long-poll's own
 * re-read every second.)
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import { isFinal } from "../tasks/await_tasks.ts";
import { type Ctx, getMany } from "../context.ts";
import { taskKey } from "../store/keys.ts";
import { repeat, type Repeating } from "../repeat.ts";

/** Records read per round at most; more waiters are served in turns. */
const PER_ROUND = 500;

export function watchRemoteEnds(
  ctx: Ctx,
  intervalMs: number,
  hasPeers: () => boolean,
): Repeating {
  let turn = 0;
  return repeat(ctx.log, "awaited task poll", intervalMs, async () => {
    // Alone on the store, every task ends here and wakes its waiters itself.
    if (!hasPeers()) return;
    const ids = [...ctx.signals.awaitedIds()];
    if (ids.length === 0) return;
    const start = ids.length > PER_ROUND ? (turn++ * PER_ROUND) % ids.length : 0;
    const batch = [...ids, ...ids].slice(start, start + Math.min(PER_ROUND, ids.length));
    const entries = await getMany<Task>(ctx.kv, batch.map(taskKey));
    for (const e of entries) {
      if (e.value && isFinal(e.value)) ctx.signals.taskEndedElsewhere(e.value);
    }
  });
}
