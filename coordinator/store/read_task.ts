/**
 * Reads a task with its live leases, and the view clients see.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { leasesOfTask, taskKey } from "./keys.ts";
import { presentTasks } from "./task_record.ts";
import { type LeaseRecord, type StoredTask, taskView } from "./task_view.ts";

export interface TaskState {
  task: Deno.KvEntryMaybe<StoredTask>;
  leases: Array<{ value: LeaseRecord; versionstamp: string }>;
}

export async function readTaskState(ctx: Ctx, id: string): Promise<TaskState> {
  const [task, leases] = await Promise.all([
    ctx.kv.get<StoredTask>(taskKey(id)),
    Array.fromAsync(ctx.kv.list<LeaseRecord>({ prefix: leasesOfTask(id) })),
  ]);
  return { task, leases };
}

/** The task as clients see it, or null when there is no such task. */
export async function readTask(ctx: Ctx, id: string): Promise<Task | null> {
  const { task, leases } = await readTaskState(ctx, id);
  const [shown] = await presentTasks(ctx, [task.value]);
  return shown ? taskView(shown, leases.map((l) => l.value)) : null;
}
