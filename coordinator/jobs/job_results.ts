/**
 * A job's results as a stream of lines, read a page at a time so memory stays flat whatever the
 * job's size.
 *
 * Completion order reads `["job_done", jobId, at, taskId]`. An entry's `at` is stamped when its
 * transition is built, so commits may land slightly out of order: a line is only sent once it
 * is `SETTLE_MS` old (or the job is finished: then everything has landed), and each pass re-reads
 * `WINDOW_MS` behind the newest line sent and skips task ids it already sent, so a late commit
 * within the window still comes, once. A line's cursor is its key: `?after=` resumes right after
 * it (never behind it, so a resumed stream sends no line twice).
 *
 * Input order reads the job's task records, which share its prefix in index order; without
 * follow it sends the tasks that ended so far, with follow it waits for each in turn.
 *
 * @module
 */
import { JOB_LIMITS, type JobResultLine } from "../../shared/protocol.ts";
import { CANCELLED_ERROR } from "./job_writes.ts";
import type { Ctx } from "../context.ts";
import {
  decodeJobDoneKey,
  jobDoneKey,
  jobDonePrefix,
  jobTaskRange,
  taskKey,
} from "../store/keys.ts";
import { presentTasks } from "../store/task_record.ts";
import type { StoredTask } from "../store/task_view.ts";
import { ApiFailure } from "../http/errors.ts";
import type { JobDoneEntry, JobRecord } from "./job_record.ts";
import { isFinished, readCounts, readJobEntry } from "./job_view.ts";

const SETTLE_MS = 1000;
const WINDOW_MS = 5000;
const POLL_MS = 100;

/**
 * One result line: its JSON (a `JobResultLine`) and its cursor. The streams yield null before
 * they wait for more: the lines so far should go out now.
 */
export interface Line {
  json: string;
  cursor: string;
}

const decoder = new TextDecoder();

export interface ResultsOptions {
  order: "completion" | "input";
  follow: boolean;
  after?: string;
  signal: AbortSignal;
}

/** Whether the job has finished (every task ended, closed), read afresh. */
async function finishedNow(ctx: Ctx, jobId: string): Promise<boolean> {
  const job = (await readJobEntry(ctx, jobId)).value;
  if (!job) return true;
  return isFinished(job, await readCounts(ctx, job));
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

/** The lines of `job`'s results, from `after`; ends when done (see the module doc). */
export function jobResults(
  ctx: Ctx,
  job: JobRecord,
  o: ResultsOptions,
): AsyncGenerator<Line | null> {
  return o.order === "input" ? inputOrder(ctx, job, o) : completionOrder(ctx, job, o);
}

function parseCompletionCursor(after: string | undefined): { at: number; taskId: string } | null {
  if (after === undefined) return null;
  const m = /^c(\d+)\.(.+)$/.exec(after);
  if (!m) throw new ApiFailure("validation", "after: not a completion-order cursor", "after");
  return { at: Number(m[1]), taskId: m[2] };
}

async function* completionOrder(
  ctx: Ctx,
  job: JobRecord,
  o: ResultsOptions,
): AsyncGenerator<Line | null> {
  const resume = parseCompletionCursor(o.after);
  const prefix = jobDonePrefix(job.id);
  const floorKey: Deno.KvKey | null = resume ? jobDoneKey(job.id, resume.at, resume.taskId) : null;
  /** Task ids sent while live, with their `at`, while they are inside the window. */
  const sent = new Map<string, number>();
  let newestAt = resume?.at ?? 0;
  let lastKey: Deno.KvKey | null = floorKey;
  const until = ctx.now();
  for (let pass = 0;; pass++) {
    // Read before looking at the clock: a finished job has every entry in by now.
    const finished = await finishedNow(ctx, job.id);
    const settled = finished ? Infinity : ctx.now() - SETTLE_MS;
    // Now and then, and at the end, look behind the newest line for commits that landed late.
    const lookBack = sent.size > 0 && (finished || pass % 10 === 0);
    let start: Deno.KvKey = lookBack || lastKey === null
      ? [...prefix, Math.max(0, newestAt - WINDOW_MS)]
      : lastKey;
    if (floorKey && compareAt(start, floorKey)) start = floorKey;
    let stopped = false;
    while (!stopped && !o.signal.aborted) {
      const page = await Array.fromAsync(
        ctx.kv.list<Uint8Array | JobDoneEntry>({ start, end: [...prefix, Infinity] }, {
          limit: JOB_LIMITS.resultsPage,
          batchSize: JOB_LIMITS.resultsPage,
        }),
      );
      const lines: Array<
        { e: Deno.KvEntry<Uint8Array | JobDoneEntry>; at: number; taskId: string }
      > = [];
      for (const e of page) {
        const { at, taskId } = decodeJobDoneKey(e.key);
        if (floorKey && sameKey(e.key, floorKey)) continue;
        if (at > settled) {
          stopped = true;
          break;
        }
        if (sent.has(taskId) || (lastKey !== null && !lookBack && sameKey(e.key, lastKey))) {
          continue;
        }
        lines.push({ e, at, taskId });
      }
      const apart = await resultsApart(ctx, lines.map((l) => [l.taskId, l.e.value]));
      for (const l of lines) {
        if (!finished) sent.set(l.taskId, l.at);
        if (l.at >= newestAt) {
          newestAt = l.at;
          lastKey = l.e.key;
        }
        const cursor = `c${l.at}.${l.taskId}`;
        const v = l.e.value;
        yield v instanceof Uint8Array
          ? { json: `${decoder.decode(v)},"cursor":"${cursor}"}`, cursor }
          : {
            json: JSON.stringify({ ...lineOf(l.taskId, v, apart.get(l.taskId)), cursor }),
            cursor,
          };
      }
      if (sent.size > 2 * JOB_LIMITS.resultsPage) {
        for (const [id, at] of sent) if (at < newestAt - WINDOW_MS) sent.delete(id);
      }
      if (page.length < JOB_LIMITS.resultsPage) break;
      start = [...page.at(-1)!.key, ""];
    }
    if (o.signal.aborted || finished) return;
    if (!o.follow && settled >= until) return;
    yield null;
    await sleep(POLL_MS, o.signal);
  }
}

/** Whether `key`'s time is at or before `floor`'s (a start that would re-read the resumed). */
const compareAt = (key: Deno.KvKey, floor: Deno.KvKey) =>
  (key[2] as number) < (floor[2] as number) ||
  ((key[2] as number) === (floor[2] as number) && key.length < floor.length);

const sameKey = (a: Deno.KvKey, b: Deno.KvKey) =>
  a.length === b.length && a.every((p, i) => p === b[i]);

/** The tasks whose results were too large to copy into their completion entries. */
async function resultsApart(
  ctx: Ctx,
  entries: Array<[taskId: string, Uint8Array | JobDoneEntry]>,
): Promise<Map<string, StoredTask>> {
  const apart = entries.filter(([, e]) => !(e instanceof Uint8Array) && e.apart).map(([id]) => id);
  const tasks = new Map<string, StoredTask>();
  if (apart.length > 0) {
    const read = await Promise.all(apart.map((id) => ctx.kv.get<StoredTask>(taskKey(id))));
    for (const t of await presentTasks(ctx, read.map((r) => r.value))) if (t) tasks.set(t.id, t);
  }
  return tasks;
}

function lineOf(id: string, e: JobDoneEntry, task?: StoredTask): Omit<JobResultLine, "cursor"> {
  if (e.status !== "completed") {
    return { index: e.index, id, status: e.status, error: e.error ?? CANCELLED_ERROR };
  }
  return { index: e.index, id, status: e.status, result: e.apart ? task?.result : e.result };
}

function parseInputCursor(after: string | undefined): number {
  if (after === undefined) return 0;
  const m = /^i(\d+)$/.exec(after);
  if (!m) throw new ApiFailure("validation", "after: not an input-order cursor", "after");
  return Number(m[1]) + 1;
}

async function* inputOrder(
  ctx: Ctx,
  job: JobRecord,
  o: ResultsOptions,
): AsyncGenerator<Line | null> {
  let from = parseInputCursor(o.after);
  for (;;) {
    const finished = o.follow ? await finishedNow(ctx, job.id) : true;
    const total = (await readJobEntry(ctx, job.id)).value?.nextIndex ?? 0;
    let waiting = false;
    while (from < total && !o.signal.aborted) {
      const page = await Array.fromAsync(
        ctx.kv.list<StoredTask>(jobTaskRange("task", job.id, from), {
          limit: JOB_LIMITS.resultsPage,
          batchSize: JOB_LIMITS.resultsPage,
        }),
      );
      const shown = await presentTasks(ctx, page.map((e) => e.value));
      for (const t of shown) {
        // Following, each index in turn: one not there yet (a batch still being written) or not
        // ended is waited for.
        if (!t) {
          if (!o.follow) continue;
          waiting = true;
          break;
        }
        const index = t.job?.index ?? 0;
        const ended = t.status === "completed" || t.status === "failed" ||
          t.status === "cancelled";
        if (!ended || (o.follow && index !== from)) {
          if (o.follow) {
            waiting = true;
            break;
          }
          continue;
        }
        from = index + 1;
        const status = t.status as JobResultLine["status"];
        const cursor = `i${index}`;
        const line: JobResultLine = status === "completed"
          ? { index, id: t.id, status, result: t.result, cursor }
          : { index, id: t.id, status, error: t.error ?? CANCELLED_ERROR, cursor };
        yield { json: JSON.stringify(line), cursor };
      }
      if (waiting) break;
      if (page.length < JOB_LIMITS.resultsPage) {
        if (!o.follow) return;
        break;
      }
      if (!o.follow) from = (page.at(-1)!.value.job?.index ?? from) + 1;
    }
    if (o.signal.aborted || !o.follow || (finished && !waiting && from >= total)) return;
    yield null;
    await sleep(POLL_MS, o.signal);
  }
}
