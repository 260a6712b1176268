/** @jsxImportSource preact */
import { useEffect, useState } from "preact/hooks";
import type { Job } from "../../../shared/protocol.ts";
import { ApiCallError, cancelJob, listJobs } from "../api.ts";
import { ago, count, duration, rate } from "../format.ts";
import { Empty } from "./card.tsx";
import { JobView } from "./job_view.tsx";
import { jobLabel, JobProgress } from "./job_progress.tsx";

const REFRESH_MS = 2_000;
const RECENT = 5;

function JobRow(
  { job, canWrite, picked, onPick, onCancelled }: {
    job: Job;
    canWrite: boolean;
    picked: boolean;
    onPick(id: string | null): void;
    onCancelled(job: Job): void;
  },
) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const running = job.status === "running";
  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      onCancelled((await cancelJob(job.id)).job);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <li
      class={picked ? "job picked" : "job"}
      data-testid="job-row"
      data-id={job.id}
      data-status={job.status}
    >
      <div class="job-head">
        <button
          type="button"
          class="link job-name"
          aria-expanded={picked}
          title="Open this job"
          data-testid="job-open"
          onClick={() => onPick(picked ? null : job.id)}
        >
          {jobLabel(job)}
        </button>
        {job.name && <span class="muted mono">{job.type}</span>}
        <span class={`badge status-${job.status}`} data-testid="job-status">{job.status}</span>
        {canWrite && running && (
          <button
            type="button"
            class="button small job-cancel"
            data-testid="job-cancel"
            aria-label={`Cancel job ${jobLabel(job)}`}
            disabled={busy}
            onClick={cancel}
          >
            {busy ? "Cancelling…" : "Cancel"}
          </button>
        )}
      </div>
      {running && <JobProgress job={job} />}
      <div class="job-figures muted" data-testid="job-figures">
        <span>
          <strong>{count(job.progress.finished)}</strong> / {count(job.progress.total)} ended
        </span>
        {running
          ? (
            <>
              <span>{rate(job.throughput)}/s</span>
              <span title="estimated time to finish">ETA {duration(job.etaMs)}</span>
            </>
          )
          : job.finishedAt !== null && <span>{ago(job.finishedAt, Date.now())}</span>}
        <span class={job.counts.failed > 0 ? "error-text" : ""} data-testid="job-failed">
          {count(job.counts.failed)} failed
        </span>
      </div>
      {error && <p class="error-text">{error}</p>}
    </li>
  );
}

/**
 * Jobs (`GET /api/jobs`): every running job with its progress, rate, ETA and failures, and a few
 * recently finished; a job opens its view. Refreshed every 2 s: job counters are sums, cheap.
 */
export function Jobs({ canWrite }: { canWrite: boolean }) {
  const [running, setRunning] = useState<Job[] | null>(null);
  const [recent, setRecent] = useState<Job[]>([]);
  const [denied, setDenied] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<string | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    let alive = true;
    const load = async () => {
      try {
        const [active, latest] = await Promise.all([
          listJobs({ status: "running", limit: 50 }),
          listJobs({ limit: 20 }),
        ]);
        if (!alive) return;
        setRunning(active.jobs);
        setRecent(latest.jobs.filter((j) => j.status !== "running").slice(0, RECENT));
        setDenied(false);
        setError(null);
      } catch (e) {
        if (!alive) return;
        if (e instanceof ApiCallError && (e.status === 401 || e.status === 403)) setDenied(true);
        else setError((e as Error).message);
      }
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [version]);

  if (denied) {
    return (
      <Empty>
        <span data-testid="jobs-needs-key">Jobs are listed with an admin key.</span>
      </Empty>
    );
  }
  if (running === null) {
    return error ? <p class="error-text">{error}</p> : <Empty>Loading…</Empty>;
  }
  const row = (job: Job) => (
    <JobRow
      key={job.id}
      job={job}
      canWrite={canWrite}
      picked={picked === job.id}
      onPick={setPicked}
      onCancelled={() => setVersion((v) => v + 1)}
    />
  );
  return (
    <div class="jobs-body">
      <div class="jobs-lists">
        <h3 class="jobs-title">Running</h3>
        {running.length === 0
          ? <Empty>No job is running.</Empty>
          : <ul class="jobs" data-testid="jobs-active">{running.map(row)}</ul>}
        {recent.length > 0 && (
          <>
            <h3 class="jobs-title">Recently finished</h3>
            <ul class="jobs" data-testid="jobs-recent">{recent.map(row)}</ul>
          </>
        )}
        {error && <p class="muted">Last refresh failed ({error}); trying again.</p>}
      </div>
      {picked && <JobView id={picked} onClose={() => setPicked(null)} />}
    </div>
  );
}
