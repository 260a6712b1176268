/**
 * Lists tasks, newest id last, with filters and a cursor. `processing` reads the lease records
 * and `failed` its own index, so both stay cheap however many tasks exist; other filters walk
 * the tasks by id and stop after a bounded number of records, handing back a cursor. A client's
 * list (`owner`) is the same walk with one more filter, so a page may come back short or empty
 * with a cursor when other clients' tasks sit in between.
 *
 * @module
 */
import type { Task, TaskStatus } from "../shared/protocol.ts";
import { type Ctx, getMany } from "./context.ts";
import { failedPrefix, leasePrefix, leasesOfTask, taskKey, taskPrefix } from "./keys.ts";
import { presentTasks } from "./task_record.ts";
import { type LeaseRecord, taskView } from "./task_view.ts";

export interface ListFilter {
  status?: TaskStatus | undefined;
  type?: string | undefined;
  queue?: string | undefined;
  limit: number;
  cursor?: string | undefined;
  /** Only this API key's tasks (a client's list); undefined lists every task. */
  owner?: string | undefined;
}

/** The most task records one list request reads before it answers with a cursor. */
const SCAN_FACTOR = 10;

export async function listTasks(
  ctx: Ctx,
  f: ListFilter,
): Promise<{ tasks: Task[]; cursor: string | null }> {
  const owned = (t: Task) => f.owner === undefined || t.owner === f.owner;
  const matches = (t: Task) =>
    (!f.type || t.type === f.type) && (!f.queue || t.queue === f.queue) &&
    (!f.status || t.status === f.status) && owned(t);
  const after = (prefix: Deno.KvKey) =>
    f.cursor ? { start: [...prefix, f.cursor, ""], end: [...prefix, "\uffff"] } : { prefix };

  if (f.status === "processing" || f.status === "failed") {
    // Index-driven: leases (grouped by task id) or the failed index.
    const prefix = f.status === "processing" ? leasePrefix() : failedPrefix();
    const ids: string[] = [];
    let last: string | null = null;
    let scanned = 0;
    for await (const e of ctx.kv.list(after(prefix), { limit: f.limit * SCAN_FACTOR })) {
      scanned++;
      const id = e.key[1] as string;
      last = id;
      if (ids.at(-1) !== id) ids.push(id);
      if (ids.length >= f.limit * 2) break;
    }
    const tasks = await viewsOf(ctx, ids);
    const page = tasks.filter(matches).slice(0, f.limit);
    const more = scanned >= f.limit * SCAN_FACTOR || ids.length >= f.limit * 2 ||
      page.length === f.limit;
    return { tasks: page, cursor: more && page.length > 0 ? page.at(-1)!.id : more ? last : null };
  }

  const tasks: Task[] = [];
  let scanned = 0;
  let last: string | null = null;
  const max = f.limit * SCAN_FACTOR;
  for await (const e of ctx.kv.list<Task>(after(taskPrefix()), { limit: max })) {
    scanned++;
    last = e.value.id;
    const t = e.value;
    if ((f.type && t.type !== f.type) || (f.queue && t.queue !== f.queue) || !owned(t)) continue;
    if (f.status && t.status !== f.status) continue;
    tasks.push(t);
    if (tasks.length >= f.limit) break;
  }
  // Stored "pending" may be leased: derive the status clients see.
  const shown = (await presentTasks(ctx, tasks)).flatMap((t) => (t ? [t] : []));
  const views = await Promise.all(shown.map(async (t) => {
    if (t.status !== "pending") return t;
    const leases = await Array.fromAsync(ctx.kv.list<LeaseRecord>({ prefix: leasesOfTask(t.id) }));
    return taskView(t, leases.map((l) => l.value));
  }));
  const page = views.filter(matches);
  const more = tasks.length >= f.limit || scanned >= max;
  return { tasks: page, cursor: more ? (tasks.at(-1)?.id ?? last) : null };
}

async function viewsOf(ctx: Ctx, ids: string[]): Promise<Task[]> {
  const entries = await getMany<Task>(ctx.kv, ids.map(taskKey));
  const shown = await presentTasks(ctx, entries.map((e) => e.value));
  return Promise.all(
    shown.flatMap((t) => (t ? [t] : [])).map(async (t) => {
      const leases = await Array.fromAsync(
        ctx.kv.list<LeaseRecord>({ prefix: leasesOfTask(t.id) }),
      );
      return taskView(t, leases.map((l) => l.value));
    }),
  );
}
