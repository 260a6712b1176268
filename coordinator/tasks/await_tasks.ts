/**
 * Long-poll for results: resolves as soon as one of the tasks reaches a final status (woken in
 * process by the transition that ended it; re-read every second for other processes), or when
 * the wait is over.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { readTask } from "../store/read_task.ts";

const FINAL = new Set(["completed", "failed", "cancelled"]);
export const isFinal = (t: Task): boolean => FINAL.has(t.status);
const RECHECK_MS = 1000;

/**
 * Reads the tasks; if none is final, waits up to `waitMs` for one to become final. After a wake
 * it lingers `lingerMs` so that tasks ending together are answered together.
 */
export async function awaitTasks(
  ctx: Ctx,
  ids: string[],
  waitMs: number,
  signal?: AbortSignal,
  lingerMs = 0,
): Promise<Array<Task | null>> {
  const deadline = ctx.now() + waitMs;
  while (true) {
    const tasks = await Promise.all(ids.map((id) => readTask(ctx, id)));
    const left = deadline - ctx.now();
    if (left <= 0 || signal?.aborted || tasks.some((t) => t === null || isFinal(t))) return tasks;
    const ended = await Promise.race(
      ids.map((id) => ctx.signals.waitForTask(id, Math.min(left, RECHECK_MS))),
    );
    if (ended && lingerMs > 0) await new Promise((r) => setTimeout(r, Math.min(lingerMs, left)));
  }
}
