/** @jsxImportSource preact */
import { useState } from "preact/hooks";
import type { Task } from "../../../shared/protocol.ts";
import { cancelTask, retryTask } from "../api.ts";
import { clock, duration, shortId } from "../format.ts";

const RESULT_PREVIEW = 1500;

/** A result as readable JSON: pretty, cut at a preview length with a way to see it all. */
export function JsonView({ value, testid }: { value: unknown; testid?: string }) {
  const [all, setAll] = useState(false);
  const text = JSON.stringify(value, null, 2) ?? "null";
  const long = text.length > RESULT_PREVIEW;
  return (
    <div class="json" data-testid={testid}>
      <pre>{all || !long ? text : `${text.slice(0, RESULT_PREVIEW)}\n…`}</pre>
      {long && (
        <button type="button" class="button ghost small" onClick={() => setAll(!all)}>
          {all ? "Show less" : `Show all (${text.length.toLocaleString()} characters)`}
        </button>
      )}
    </div>
  );
}

export const canRetry = (t: Task) => t.status === "failed" || t.status === "cancelled";
export const canCancel = (t: Task) => t.status === "pending" || t.status === "processing";

/**
 * One task in full: where it is, its attempts, its votes and replicas, its progress and its
 * result; retry or cancel when the key may.
 */
export function TaskDetail(
  { task, canWrite, onChanged }: { task: Task; canWrite: boolean; onChanged(t: Task): void },
) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = async (fn: (id: string) => Promise<Task>) => {
    setBusy(true);
    setError(null);
    try {
      onChanged(await fn(task.id));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const wait = task.claimedAt === null
    ? null
    : task.claimedAt - Math.max(task.createdAt, task.runAt);
  const quorum = task.verification.mode === "quorum" ? task.verification : null;
  return (
    <div class="task" data-testid="task-result" data-status={task.status} data-id={task.id}>
      <div class="task-head">
        <span class={`badge status-${task.status}`} data-testid="task-status">{task.status}</span>
        <span class="mono" title={task.id}>{task.id}</span>
        {canWrite && canRetry(task) && (
          <button
            type="button"
            class="button small"
            disabled={busy}
            data-testid="task-retry"
            onClick={() => act(retryTask)}
          >
            Retry
          </button>
        )}
        {canWrite && canCancel(task) && (
          <button
            type="button"
            class="button small"
            disabled={busy}
            data-testid="task-cancel"
            onClick={() => act(cancelTask)}
          >
            Cancel
          </button>
        )}
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      <dl>
        <dt>type</dt>
        <dd class="mono">{task.type}</dd>
        <dt>queue</dt>
        <dd class="mono">{task.queue} · priority {task.priority}</dd>
        <dt>attempts</dt>
        <dd>{task.attempts} of {task.maxAttempts}</dd>
        <dt>created</dt>
        <dd>
          {clock(task.createdAt)}
          {task.status === "pending" && task.runAt > Date.now() &&
            ` · runs at ${clock(task.runAt)}`}
        </dd>
        <dt>queue wait</dt>
        <dd>{duration(wait)}</dd>
        <dt>worker</dt>
        <dd class="mono">{task.workerId ?? "–"}</dd>
        {task.progress !== undefined && task.progress !== null && (
          <>
            <dt>progress</dt>
            <dd>
              <progress max={1} value={task.progress} aria-label="progress" />{" "}
              {Math.round(task.progress * 100)}%
            </dd>
          </>
        )}
        {quorum && (
          <>
            <dt>verification</dt>
            <dd data-testid="task-quorum">
              {quorum.agree} of {task.replicas} agree (up to {quorum.maxReplicas}) · {task.live}
              {" "}
              running · {task.votes.length} answered
              {task.agreement && ` · ${task.agreement.agreed} of ${task.agreement.of} agreed`}
            </dd>
          </>
        )}
        {task.waiting && (
          <>
            <dt>waiting</dt>
            <dd class="warn-text">
              {task.waiting}
              {task.verifyBy ? ` (gives up at ${clock(task.verifyBy)})` : ""}
            </dd>
          </>
        )}
      </dl>
      {task.error && (
        <p class="failure-message">
          <span class="badge code">{task.error.code}</span> {task.error.message}
        </p>
      )}
      {task.history.length > 0 && (
        <details open={task.history.length <= 5}>
          <summary>attempts ({task.history.length})</summary>
          <table class="compact" data-testid="task-history">
            <thead>
              <tr>
                <th>#</th>
                <th>worker</th>
                <th>outcome</th>
                <th>started</th>
                <th class="num">ran</th>
              </tr>
            </thead>
            <tbody>
              {task.history.map((h) => (
                <tr key={h.leaseId}>
                  <td>{h.attempt}</td>
                  <td class="mono" title={h.workerId}>{shortId(h.workerId, 14)}</td>
                  <td>
                    {h.outcome}
                    {h.error && <span class="muted" title={h.error.message}>· {h.error.code}</span>}
                  </td>
                  <td>{clock(h.startedAt)}</td>
                  <td class="num">{duration(h.endedAt - h.startedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
      {task.votes.length > 0 && (
        <details open>
          <summary>votes ({task.votes.length})</summary>
          <table class="compact" data-testid="task-votes">
            <thead>
              <tr>
                <th>worker</th>
                <th>kind</th>
                <th>result hash</th>
                <th>at</th>
              </tr>
            </thead>
            <tbody>
              {task.votes.map((v) => (
                <tr key={v.leaseId}>
                  <td class="mono" title={v.workerId}>{shortId(v.workerId, 14)}</td>
                  <td>{v.kind ?? "–"}{v.operator ? " · operator" : ""}</td>
                  <td class="mono" title={v.hash}>{v.hash.slice(0, 12)}</td>
                  <td>{clock(v.at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
      <details>
        <summary>params</summary>
        <JsonView value={task.params} />
      </details>
      {task.result !== undefined && task.result !== null && (
        <details open>
          <summary>result</summary>
          <JsonView value={task.result} testid="task-json" />
        </details>
      )}
    </div>
  );
}
