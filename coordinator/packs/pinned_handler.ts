/**
 * The handler a task is pinned to: the version it was submitted against (`task.handler`), which
 * may no longer be current; the current one for tasks stored before packs, or when that version
 * cannot be loaded (logged).
 *
 * @module
 */
import type { Handler } from "../../handlers/contract.ts";
import type { Task } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";

export function pinnedHandler(
  ctx: Ctx,
  task: Pick<Task, "type" | "handler">,
): Handler | undefined | Promise<Handler | undefined> {
  const current = ctx.handlers.get(task.type);
  const version = task.handler;
  // The usual case costs no await: the task runs the current version.
  if (!version || !ctx.registry || (current && ctx.registry.versionOf(current) === version)) {
    return current;
  }
  return ctx.registry.handlerAt(version, task.type).then(
    (h) => h ?? current,
    (e) => {
      ctx.log.error("pinned handler version could not be loaded", {
        type: task.type,
        version,
        error: String(e),
      });
      return current;
    },
  );
}
