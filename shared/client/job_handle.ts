/**
 * A handle on one job: its status, its result stream (resumed with the cursor when the
 * connection drops), appends, close, cancel, retry and delete.
 *
 * @module
 */
import {
  AppendJobResponse,
  Job,
  JobActionResponse,
  JobDeleteResponse,
  JobResultLine,
} from "../protocol.ts";
import { backoffDelay } from "../backoff.ts";
import { ApiRequestError, UNAVAILABLE } from "./errors.ts";
import { chunkInputs } from "./chunk_inputs.ts";
import { NdjsonLineError, ndjsonLines } from "./ndjson_lines.ts";

/** What a handle needs of the client: JSON calls and streamed GETs, both with failover. */
export interface JobTransport {
  /** A JSON request; `retry`: safe to repeat on another coordinator. */
  call(method: string, path: string, body?: unknown, retry?: boolean): Promise<unknown>;
  /** A GET whose body is read as it arrives. Throws `ApiRequestError` when refused. */
  stream(path: string, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>>;
}

export interface ResultsOptions {
  /** `completion` (the default: as tasks end) or `input` (index 0, 1, …). */
  order?: "completion" | "input";
  /** Keep streaming as tasks end, until the job is finished. @default {false} */
  follow?: boolean;
  /** Resume after this line's `cursor` (from an earlier stream in the same order). */
  after?: string;
  signal?: AbortSignal;
  /**
   * How long to keep reconnecting (with backoff, across coordinators) while none can be
   * reached, before the iterator throws the last error. @default {60_000}
   */
  reconnectForMs?: number;
}

export interface WaitOptions {
  /** Status poll interval. @default {500} */
  intervalMs?: number;
  /** Told every status read. */
  onStatus?: (job: Job) => void;
  signal?: AbortSignal;
}

/** One job, by id. Every method is one or a few requests; nothing is cached. */
export interface JobHandle {
  readonly id: string;
  /** Counts, progress (with running tasks' fractions), throughput, ETA, times. */
  status(): Promise<Job>;
  /**
   * Every ended task as a line `{index, id, status, result | error, cursor}`, exactly once, in
   * the order asked. A dropped connection (a coordinator restart, failover to another) is
   * resumed after the last line's cursor.
   */
  results(options?: ResultsOptions): AsyncGenerator<JobResultLine>;
  /** Adds inputs to an open job (in as many requests as their size needs). */
  append(inputs: readonly unknown[]): Promise<AppendJobResponse>;
  /** No more inputs will come: the job finishes when its last task ends. */
  close(): Promise<Job>;
  /** Cancels every unfinished task. */
  cancel(): Promise<JobActionResponse>;
  /** Requeues the failed tasks. */
  retry(): Promise<JobActionResponse>;
  /** Retires a finished job and purges its tasks and results. */
  delete(): Promise<JobDeleteResponse>;
  /** Resolves with the job's status once it is finished (polls `status()`). */
  wait(options?: WaitOptions): Promise<Job>;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
  });

/** Errors worth a reconnect: the network, a coordinator going away; not a refusal or bad data. */
function transient(e: unknown): boolean {
  if (e instanceof ApiRequestError) return UNAVAILABLE.has(e.status);
  if (e instanceof NdjsonLineError) return false;
  return !(e instanceof Error && e.name === "ZodError");
}

/**
 * The handle of job `id` over `t`.
 *
 * @example
 * ```ts
 * const job = jobHandle("01J…", transport);
 * for await (const line of job.results({ follow: true })) console.log(line.index, line.status);
 * ```
 */
export function jobHandle(id: string, t: JobTransport): JobHandle {
  const path = `/jobs/${encodeURIComponent(id)}`;

  const status = async () => Job.parse(await t.call("GET", path));

  async function* results(options: ResultsOptions = {}): AsyncGenerator<JobResultLine> {
    const { order = "completion", signal, reconnectForMs = 60_000 } = options;
    let follow = options.follow ?? false;
    let after = options.after;
    let failures = 0;
    let failingSince = 0;
    for (;;) {
      const q = new URLSearchParams({ order });
      if (follow) q.set("follow", "1");
      if (after !== undefined) q.set("after", after);
      try {
        const body = await t.stream(`${path}/results?${q}`, signal);
        for await (const raw of ndjsonLines(body)) {
          const line = JobResultLine.parse(raw);
          after = line.cursor;
          failures = 0;
          yield line;
        }
        // A clean end of a followed stream means the job finished, or that the coordinator
        // ended it (shutting down): look, and take what is left without following once it is
        // finished, so nothing that ended while we looked is missed.
        if (!follow) return;
        follow = (await status()).status === "running";
      } catch (e) {
        if (signal?.aborted || !transient(e)) throw e;
        if (failures++ === 0) failingSince = Date.now();
        if (Date.now() - failingSince > reconnectForMs) throw e;
        await sleep(backoffDelay(failures, { baseMs: 100, maxMs: 2000 }), signal);
      }
    }
  }

  async function append(inputs: readonly unknown[]): Promise<AppendJobResponse> {
    let first: AppendJobResponse | undefined;
    let last: AppendJobResponse | undefined;
    let count = 0;
    for (const chunk of chunkInputs(inputs)) {
      if (chunk.length === 0) continue;
      // Not repeated on another coordinator: an append has no idempotency key.
      last = AppendJobResponse.parse(await t.call("POST", `${path}/tasks`, { inputs: chunk }));
      first ??= last;
      count += last.count;
    }
    if (!first || !last) throw new RangeError("append: no inputs");
    return { job: last.job, firstIndex: first.firstIndex, count };
  }

  async function wait(options: WaitOptions = {}): Promise<Job> {
    const { intervalMs = 500, onStatus, signal } = options;
    for (;;) {
      const job = await status();
      onStatus?.(job);
      if (job.status !== "running") return job;
      await sleep(intervalMs, signal);
    }
  }

  return {
    id,
    status,
    results,
    append,
    wait,
    close: async () => Job.parse(await t.call("POST", `${path}/close`, undefined, true)),
    cancel: async () =>
      JobActionResponse.parse(await t.call("POST", `${path}/cancel`, undefined, true)),
    retry: async () =>
      JobActionResponse.parse(await t.call("POST", `${path}/retry`, undefined, true)),
    delete: async () => JobDeleteResponse.parse(await t.call("DELETE", path, undefined, true)),
  };
}
