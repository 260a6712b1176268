/**
 * Long-polls (`GET /tasks/{id}?wait`, `POST /tasks/await`) learn of tasks ended by another
 * coordinator on the same store: while anyone here waits, the awaited task records are re-read
 * every `intervalMs`, a bounded number per round. Only waiting clients cost reads, never the
 * task path.
 *
 * @module
 */
import type { Task } from "../shared/protocol.ts";
import { isFinal } from "./await_tasks.ts";
import { type Ctx, getMany } from "./context.ts";
import { taskKey } from "./keys.ts";

/** Records read per round at most; more waiters are served in turns. */
const PER_ROUND = 500;

export function watchRemoteEnds(ctx: Ctx, intervalMs: number): { stop(): Promise<void> } {
  let running: Promise<void> | null = null;
  let stopped = false;
  let turn = 0;
  const round = async () => {
    const ids = [...ctx.signals.awaitedIds()];
    if (ids.length === 0) return;
    const start = ids.length > PER_ROUND ? (turn++ * PER_ROUND) % ids.length : 0;
    const batch = [...ids, ...ids].slice(start, start + Math.min(PER_ROUND, ids.length));
    const entries = await getMany<Task>(ctx.kv, batch.map(taskKey));
    for (const e of entries) {
      if (e.value && isFinal(e.value)) ctx.signals.taskEndedElsewhere(e.value);
    }
  };
  const timer = setInterval(() => {
    if (stopped || running) return;
    running = round().catch((e) => {
      if (!stopped) ctx.log.warn("awaited task poll failed", { error: String(e) });
    }).finally(() => (running = null));
  }, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
