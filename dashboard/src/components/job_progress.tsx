/** @jsxImportSource preact */
import type { Job } from "../../../shared/protocol.ts";

/** What a job is called on screen: its name, else its type. */
export const jobLabel = (job: Job) => job.name ?? job.type;

/** A job's progress bar, with its figures in words for assistive technology. */
export function JobProgress({ job, label }: { job: Job; label?: string }) {
  const { finished, total, fraction } = job.progress;
  const pct = Math.round(fraction * 1000) / 10;
  return (
    <div
      class="job-bar"
      role="progressbar"
      aria-label={label ?? `${jobLabel(job)} progress`}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct}
      aria-valuetext={`${pct}%: ${finished} of ${total} tasks finished`}
      data-testid="job-progress"
      data-finished={finished}
      data-total={total}
    >
      <span style={{ width: `${pct}%` }} />
    </div>
  );
}
