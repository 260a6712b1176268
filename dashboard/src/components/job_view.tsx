/** @jsxImportSource preact */
import { useEffect, useState } from "preact/hooks";
import type { Job, JobCounts, JobResultLine } from "../../../shared/protocol.ts";
import { getJob } from "../api.ts";
import { clock, count, duration, rate } from "../format.ts";
import { readResultLines } from "../result_lines.ts";
import { Empty } from "./card.tsx";
import { jobLabel, JobProgress } from "./job_progress.tsx";

const REFRESH_MS = 2_000;
const PREVIEW_LINES = 20;
const FAILURES_SHOWN = 20;
/** Result lines read at most to find failures: a big job's stream is never read whole. */
const FAILURE_SCAN = 5_000;

const STATUSES: Array<keyof Omit<JobCounts, "total">> = [
  "pending",
  "processing",
  "completed",
  "failed",
  "cancelled",
];

/** A result line in one line of text, cut to fit. */
function lineText(line: JobResultLine): string {
  const body = line.status === "completed"
    ? JSON.stringify(line.result)
    : line.error
    ? `${line.error.code}: ${line.error.message}`
    : line.status;
  return body && body.length > 160 ? `${body.slice(0, 160)}…` : body ?? "";
}

/**
 * One job: its counts per status, its failed tasks and the first lines of its results (input
 * order), both read from the results stream a few lines at a time and never whole.
 */
export function JobView({ id, onClose }: { id: string; onClose(): void }) {
  const [job, setJob] = useState<Job | null>(null);
  const [preview, setPreview] = useState<JobResultLine[] | null>(null);
  const [failures, setFailures] = useState<JobResultLine[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    setJob(null);
    setPreview(null);
    setFailures(null);
    let shown = -1;
    let failedShown = -1;
    const load = async () => {
      try {
        const j = await getJob(id);
        if (!alive) return;
        setJob(j);
        setError(null);
        // Re-read the stream only when something new ended and the preview is not full yet.
        if (j.progress.finished !== shown && (shown < PREVIEW_LINES || shown === -1)) {
          shown = j.progress.finished;
          const lines = await readResultLines(id, { want: PREVIEW_LINES });
          if (alive) setPreview(lines);
        }
        if (j.counts.failed !== failedShown) {
          failedShown = j.counts.failed;
          const lines = j.counts.failed === 0 ? [] : await readResultLines(id, {
            want: FAILURES_SHOWN,
            scan: FAILURE_SCAN,
            keep: (l) => l.status === "failed",
          });
          if (alive) setFailures(lines);
        }
      } catch (e) {
        if (alive) setError((e as Error).message);
      }
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [id]);

  return (
    <section class="job-view" data-testid="job-view" data-id={id} aria-labelledby="job-view-title">
      <div class="task-head">
        <h3 id="job-view-title">{job ? jobLabel(job) : "Job"}</h3>
        {job && <span class={`badge status-${job.status}`}>{job.status}</span>}
        <button
          type="button"
          class="button ghost small job-close"
          aria-label="Close the job view"
          onClick={onClose}
        >
          Close
        </button>
      </div>
      <p class="mono sub muted">{id}</p>
      {error && <p class="error-text">{error}</p>}
      {!job ? <Empty>Loading…</Empty> : (
        <>
          <JobProgress job={job} label={`${jobLabel(job)} progress, in its view`} />
          <dl class="job-counts" data-testid="job-counts">
            {STATUSES.map((s) => (
              <div key={s} data-testid={`job-count-${s}`} data-value={job.counts[s]}>
                <dt>
                  <span class={`badge status-${s}`}>{s}</span>
                </dt>
                <dd>{count(job.counts[s])}</dd>
              </div>
            ))}
            <div data-testid="job-count-total" data-value={job.counts.total}>
              <dt>total</dt>
              <dd>{count(job.counts.total)}</dd>
            </div>
          </dl>
          <p class="muted sub">
            {job.type} · queue {job.queue} · priority {job.priority} · created{" "}
            {clock(job.createdAt)}
            {job.finishedAt !== null
              ? ` · finished ${clock(job.finishedAt)}`
              : ` · ${rate(job.throughput)}/s · ETA ${duration(job.etaMs)}`}
          </p>
          <h4>Failures</h4>
          {failures === null
            ? <Empty>Loading…</Empty>
            : failures.length === 0
            ? <Empty>No task of this job failed.</Empty>
            : (
              <ul class="job-lines" data-testid="job-failures">
                {failures.map((l) => (
                  <li key={l.id} title={l.error?.message}>
                    <span class="mono">#{l.index}</span>{" "}
                    <span class="badge code">{l.error?.code ?? "failed"}</span>{" "}
                    {l.error?.message ?? ""}
                  </li>
                ))}
                {job.counts.failed > failures.length && (
                  <li class="muted">
                    and {count(job.counts.failed - failures.length)} more
                  </li>
                )}
              </ul>
            )}
          <h4>Results, the first {PREVIEW_LINES} in input order</h4>
          {preview === null
            ? <Empty>Loading…</Empty>
            : preview.length === 0
            ? <Empty>No task has ended yet.</Empty>
            : (
              <ol class="job-lines mono" data-testid="job-results">
                {preview.map((l) => (
                  <li
                    key={l.id}
                    data-testid="job-result-line"
                    data-status={l.status}
                    title={lineText(l)}
                  >
                    <span class="muted">#{l.index}</span>{" "}
                    <span class={l.status === "completed" ? "" : "error-text"}>
                      {lineText(l)}
                    </span>
                  </li>
                ))}
              </ol>
            )}
        </>
      )}
    </section>
  );
}
