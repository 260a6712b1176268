/**
 * Walks a job's tasks (or its failed index), a page at a time: one key range under the job's
 * prefix, in input order, never the whole job in memory.
 *
 * @module
 */
import type { Ctx } from "../context.ts";
import { decodeTaskKey, jobTaskRange } from "../store/keys.ts";
import type { StoredTask } from "../store/task_view.ts";

const PAGE = 500;

/** Pages of the job's task records (records of a batch in its first phase included). */
export async function* jobTaskPages(
  ctx: Ctx,
  jobId: string,
): AsyncGenerator<Deno.KvEntry<StoredTask>[]> {
  let range = jobTaskRange("task", jobId);
  for (;;) {
    const page = await Array.fromAsync(
      ctx.kv.list<StoredTask>(range, { limit: PAGE, batchSize: PAGE }),
    );
    if (page.length > 0) yield page;
    if (page.length < PAGE) return;
    range = { start: [...page.at(-1)!.key, ""], end: range.end };
  }
}

/** Pages of the ids of the job's failed tasks (the failed index shares the prefix). */
export async function* jobFailedPages(ctx: Ctx, jobId: string): AsyncGenerator<string[]> {
  let range = jobTaskRange("failed", jobId);
  for (;;) {
    const page = await Array.fromAsync(ctx.kv.list(range, { limit: PAGE, batchSize: PAGE }));
    if (page.length > 0) yield page.map((e) => decodeTaskKey(e.key).id);
    if (page.length < PAGE) return;
    range = { start: [...page.at(-1)!.key, ""], end: range.end };
  }
}

/** Runs `fn` over `items` with at most `width` at once. */
export async function eachLimited<T>(
  items: T[],
  width: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}
