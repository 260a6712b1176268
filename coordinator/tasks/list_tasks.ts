/**
 * Lists tasks, oldest id first, with filters and a cursor (the last id of the page before).
 * Each filter reads an index, so pages are full however many other tasks sit in between:
 *
 * - `status` (and `queue`): `["by_status", bucket, queue, id]`, one range per queue merged by
 *   id when no queue is given; `processing` comes from the lease records.
 * - `queue` alone: the four status buckets of that queue, merged by id.
 * - a client's list (`owner`) alone: `["by_owner", owner, id]`.
 * - nothing, or only `type`: the task records.
 *
 * Type and owner are filtered on the index entry's value, without reading the task; `worker` on
 * the task read (no index: an operator's look, so a page may be short and carry a cursor). Every task
 * is still checked against the filter as read (an index entry can never show a wrong task).
 * A request reads at most `SCAN_BUDGET` entries; a page cut short by it carries a cursor.
 *
 * @module
 */
import type { Task, TaskStatus } from "../../shared/protocol.ts";
import { type Ctx, getMany } from "../context.ts";
import {
  leasePrefix,
  leasesOfTask,
  type ListBucket,
  ownerIndexPrefix,
  queuePrefix,
  statusIndexPrefix,
  taskIdOf,
  taskKey,
  taskPrefix,
} from "../store/keys.ts";
import { bucketOf, type OwnerEntry, type StatusEntry } from "../store/list_index.ts";
import { presentTasks } from "../store/task_record.ts";
import { type LeaseRecord, type StoredTask, taskView } from "../store/task_view.ts";

export interface ListFilter {
  status?: TaskStatus | undefined;
  type?: string | undefined;
  queue?: string | undefined;
  /** The worker that last held it: checked on the records read, so it narrows no index. */
  worker?: string | undefined;
  limit: number;
  cursor?: string | undefined;
  /** Only this API key's tasks (a client's list); undefined lists every task. */
  owner?: string | undefined;
}

/** Index entries (or task records) one request reads at most before it answers with a cursor. */
const SCAN_BUDGET = 5000;
const BUCKETS: ListBucket[] = ["open", "completed", "failed", "cancelled"];

/** An entry of a source, in id order: the id, and what the entry knows without a task read. */
interface Candidate {
  id: string;
  type?: string;
  queue?: string;
  owner?: string | null;
  task?: Task;
}

export async function listTasks(
  ctx: Ctx,
  f: ListFilter,
): Promise<{ tasks: Task[]; cursor: string | null }> {
  const batch = Math.min(500, f.limit + 1);
  const source = await sourceFor(ctx, f, batch);
  const known = (c: Candidate) =>
    (f.type === undefined || c.type === undefined || c.type === f.type) &&
    (f.queue === undefined || c.queue === undefined || c.queue === f.queue) &&
    (f.owner === undefined || c.owner === undefined || c.owner === f.owner);
  const matches = (t: Task) =>
    (f.type === undefined || t.type === f.type) && (f.queue === undefined || t.queue === f.queue) &&
    (f.status === undefined || t.status === f.status) &&
    (f.worker === undefined || t.workerId === f.worker) &&
    (f.owner === undefined || t.owner === f.owner);

  const page: Task[] = [];
  let waiting: Candidate[] = [];
  const flush = async () => {
    page.push(...(await viewsOf(ctx, waiting)).filter(matches));
    waiting = [];
  };
  let scanned = 0;
  let last: string | null = null;
  let more = false;
  let cutShort = false;
  for await (const c of source) {
    if (c.id === f.cursor) continue;
    if (++scanned > SCAN_BUDGET) {
      more = cutShort = true;
      break;
    }
    last = c.id;
    if (!known(c)) continue;
    if (page.length >= f.limit) {
      more = true;
      break;
    }
    waiting.push(c);
    if (page.length + waiting.length >= f.limit) await flush();
  }
  await flush();
  const cursor = !more ? null : cutShort || page.length === 0 ? last : page.at(-1)!.id;
  return { tasks: page, cursor };
}

/** The cheapest source that yields every task the filter can match, in id order. */
async function sourceFor(
  ctx: Ctx,
  f: ListFilter,
  batch: number,
): Promise<AsyncIterable<Candidate>> {
  const fromStatus = (bucket: ListBucket, queue: string) =>
    map(range<StatusEntry>(ctx, statusIndexPrefix(bucket, queue), f.cursor, batch), (e) => ({
      id: taskIdOf(e.key),
      queue,
      type: e.value.type,
      owner: e.value.owner,
    }));
  if (f.status === "processing") return leasedTasks(ctx, f.cursor, batch);
  if (f.status !== undefined) {
    const bucket = bucketOf(f.status);
    const queues = f.queue !== undefined ? [f.queue] : await knownQueues(ctx);
    return merge(queues.map((q) => fromStatus(bucket, q)));
  }
  if (f.queue !== undefined) return merge(BUCKETS.map((b) => fromStatus(b, f.queue!)));
  if (f.owner !== undefined) {
    return map(range<OwnerEntry>(ctx, ownerIndexPrefix(f.owner), f.cursor, batch), (e) => ({
      id: taskIdOf(e.key),
      type: e.value.type,
      queue: e.value.queue,
      owner: f.owner,
    }));
  }
  return map(skipSpots(range<StoredTask>(ctx, taskPrefix(), f.cursor, batch)), (e) => ({
    id: e.value.id,
    type: e.value.type,
    queue: e.value.queue,
    owner: e.value.owner ?? null,
    task: e.value,
  }));
}

/** Task records without the coordinator's own spot checks (they are nobody's work). */
async function* skipSpots(
  source: AsyncIterable<Deno.KvEntry<StoredTask>>,
): AsyncIterable<Deno.KvEntry<StoredTask>> {
  for await (const e of source) if (!e.value.spot) yield e;
}

/** The entries under `prefix` after `cursor` (any string: no end key to overflow). */
function range<T>(
  ctx: Ctx,
  prefix: Deno.KvKey,
  cursor: string | undefined,
  batchSize: number,
): AsyncIterable<Deno.KvEntry<T>> {
  const selector = cursor === undefined ? { prefix } : { prefix, start: [...prefix, cursor, ""] };
  return ctx.kv.list<T>(selector, { batchSize });
}

async function* map<A, B>(source: AsyncIterable<A>, fn: (a: A) => B): AsyncIterable<B> {
  for await (const a of source) yield fn(a);
}

/** Task ids of the live leases after `cursor`, each once (a task may have several leases). */
async function* leasedTasks(
  ctx: Ctx,
  cursor: string | undefined,
  batch: number,
): AsyncIterable<Candidate> {
  let previous: string | null = null;
  for await (const e of range(ctx, leasePrefix(), cursor, batch)) {
    const id = taskIdOf(e.key);
    if (id !== previous) yield { id };
    previous = id;
  }
}

/** Merges sources that are each in id order into one, in id order, each id once. */
async function* merge(sources: AsyncIterable<Candidate>[]): AsyncIterable<Candidate> {
  const its = sources.map((s) => s[Symbol.asyncIterator]());
  const heads = await Promise.all(its.map((it) => it.next()));
  let previous: string | null = null;
  while (true) {
    let min = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (!h.done && (min < 0 || h.value.id < (heads[min].value as Candidate).id)) min = i;
    }
    if (min < 0) return;
    const value = heads[min].value as Candidate;
    if (value.id !== previous) yield value;
    previous = value.id;
    heads[min] = await its[min].next();
  }
}

/** Every queue ever used (read from the KV: another process may have added one). */
async function knownQueues(ctx: Ctx): Promise<string[]> {
  const queues = new Set(ctx.queues);
  for await (const e of ctx.kv.list({ prefix: queuePrefix() })) queues.add(taskIdOf(e.key));
  return [...queues];
}

/** The tasks as clients see them (a stored "pending" may be leased), in the candidates' order. */
async function viewsOf(ctx: Ctx, candidates: Candidate[]): Promise<Task[]> {
  if (candidates.length === 0) return [];
  const unread = candidates.filter((c) => !c.task);
  const read = await getMany<Task>(ctx.kv, unread.map((c) => taskKey(c.id)));
  const byId = new Map(read.flatMap((e) => (e.value ? [[e.value.id, e.value] as const] : [])));
  const stored = candidates.flatMap((c) => {
    const t = c.task ?? byId.get(c.id);
    return t ? [t] : [];
  });
  // Records of an unfinished batch stay hidden; results kept apart are put back.
  const tasks = (await presentTasks(ctx, stored)).flatMap((t) => (t ? [t] : []));
  return await Promise.all(tasks.map(async (t) => {
    if (t.status !== "pending") return t;
    const leases = await Array.fromAsync(ctx.kv.list<LeaseRecord>({ prefix: leasesOfTask(t.id) }));
    return taskView(t, leases.map((l) => l.value));
  }));
}
