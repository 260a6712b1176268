/**
 * A job's progress on stderr: a bar redrawn in place on a terminal, plain lines (or JSON lines)
 * for a pipe or a log.
 *
 * @module
 */
import type { Job } from "../shared/protocol.ts";

export type LogFormat = "text" | "json";

/** Milliseconds as `1h02m`, `3m05s` or `42s`; `?` when unknown. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "?";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

const failures = (job: Job) => job.counts.failed + job.counts.cancelled;

/** The facts every format shows: done/total, rate, ETA, failures. */
function summary(job: Job): string {
  const { finished, total } = job.progress;
  const eta = job.status === "running" ? ` eta ${formatDuration(job.etaMs)}` : "";
  return `${finished}/${total} ${job.throughput.toFixed(1)}/s${eta} failed ${failures(job)}`;
}

/**
 * One plain line: `job 01J… running 120/500 24.0/s eta 16s failed 0 (24.3%)`.
 *
 * @example
 * ```ts
 * console.error(progressLine(job));
 * ```
 */
export function progressLine(job: Job): string {
  return `job ${job.id} ${job.status} ${summary(job)} (${
    (job.progress.fraction * 100).toFixed(1)
  }%)`;
}

/** One JSON line for `--log-format json`. */
export function progressJson(job: Job): string {
  return JSON.stringify({
    at: Date.now(),
    job: job.id,
    status: job.status,
    finished: job.progress.finished,
    total: job.progress.total,
    fraction: job.progress.fraction,
    completed: job.counts.completed,
    failed: job.counts.failed,
    cancelled: job.counts.cancelled,
    rate: job.throughput,
    etaMs: job.etaMs,
  });
}

/**
 * The terminal bar, fitted to `columns`: `[█████░░░░░]  24% 120/500 24.0/s eta 16s failed 0`.
 * The bar fills by the job's fraction, so running tasks' own progress moves it too.
 *
 * @example
 * ```ts
 * progressBar(job, 80);
 * ```
 */
export function progressBar(job: Job, columns: number): string {
  const tail = ` ${String(Math.floor(job.progress.fraction * 100)).padStart(3)}% ${summary(job)}`;
  const width = Math.max(10, Math.min(40, columns - tail.length - 3));
  const filled = Math.round(job.progress.fraction * width);
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}]${tail}`.slice(0, columns - 1);
}

export interface ProgressReporter {
  /** Shows the job's latest status (a terminal redraws; a pipe gets a line when it changed). */
  update(job: Job): void;
  /** Shows the final status and ends the bar's line. */
  done(job: Job): void;
}

export interface ProgressOptions {
  /** Whether stderr is a terminal. @default {Deno.stderr.isTerminal()} */
  tty?: boolean;
  format?: LogFormat;
  write?: (text: string) => void;
  columns?: () => number;
  /** Least time between two plain lines of a running job. @default {1000} */
  plainEveryMs?: number;
}

/**
 * Reports progress the way the output wants it: a bar on a terminal, else a plain or JSON line
 * at most every `plainEveryMs` while anything moved.
 *
 * @example
 * ```ts
 * const progress = progressReporter();
 * await job.wait({ onStatus: (j) => progress.update(j) }).then((j) => progress.done(j));
 * ```
 */
export function progressReporter(options: ProgressOptions = {}): ProgressReporter {
  const enc = new TextEncoder();
  const {
    tty = Deno.stderr.isTerminal(),
    format = "text",
    write = (t: string) => Deno.stderr.writeSync(enc.encode(t)),
    columns = () => {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return 80;
      }
    },
    plainEveryMs = 1000,
  } = options;
  const bar = tty && format === "text";
  let last = "";
  let lastAt = 0;
  const line = (job: Job) => format === "json" ? progressJson(job) : progressLine(job);
  const key = (job: Job) => `${job.status} ${job.progress.finished} ${job.progress.fraction}`;
  return {
    update(job) {
      if (bar) return write(`\r\x1b[2K${progressBar(job, columns())}`);
      const now = Date.now();
      if (key(job) === last || now - lastAt < plainEveryMs) return;
      last = key(job);
      lastAt = now;
      write(line(job) + "\n");
    },
    done(job) {
      if (bar) write(`\r\x1b[2K${progressBar(job, columns())}\n`);
      write(line(job) + "\n");
    },
  };
}
