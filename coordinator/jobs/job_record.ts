/**
 * What a job is in KV: its record (`["job", id]`), the line kept for each ended task
 * (`["job_done", …]`) and its webhook's delivery state. See keys.ts for the layout.
 *
 * @module
 */
import type { JobStatus, TaskError, Verification } from "../../shared/protocol.ts";

/** What `["job", id]` holds. The counts live in `["job_count", id, bucket]` sums. */
export interface JobRecord {
  id: string;
  name: string | null;
  type: string;
  queue: string;
  priority: number;
  maxAttempts: number;
  timeoutMs: number | null;
  leaseMs: number;
  backoffMs: number;
  verification: Verification | null;
  open: boolean;
  /** Tasks it holds: the index the next appended input gets. */
  nextIndex: number;
  createdAt: number;
  closedAt: number | null;
  /** Set when the finish is recorded (finish_jobs.ts); `running` until then. */
  status: JobStatus;
  finishedAt: number | null;
  cancelledAt: number | null;
  idempotencyKey: string | null;
  owner: string | null;
  callbackUrl: string | null;
  /** The handler version its tasks run (appends included): the current one when it was made. */
  handler?: string | null;
  /** Its own retention (ms), over the coordinator's `--retention`; absent: the coordinator's. */
  retentionMs?: number;
  /** A purge is under way (delete_job.ts): a repeated DELETE resumes it. */
  deleting?: boolean;
}

/** What `["job_done", jobId, at, taskId]` holds: the result line, or where to read it. */
export interface JobDoneEntry {
  index: number;
  status: "completed" | "failed" | "cancelled";
  result?: unknown;
  error?: TaskError;
  /** The result was too large to copy here: read it from the task. */
  apart?: true;
}

/** What `["job_hook", jobId]` holds: one webhook delivery, retried until a 2xx. */
export interface WebhookState {
  deliveryId: string;
  attempts: number;
  nextAt: number;
  deliveredAt: number | null;
  lastError: string | null;
  /** Given up after this many attempts. */
  gaveUp?: boolean;
}
