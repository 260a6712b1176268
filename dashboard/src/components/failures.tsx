/** @jsxImportSource preact */
import { useEffect, useState } from "preact/hooks";
import type { LiveSnapshot, Task } from "../../../shared/protocol.ts";
import { listTasks } from "../api.ts";
import { ago, count, shortId } from "../format.ts";
import { recentRate } from "./kpis.tsx";
import { Empty } from "./card.tsx";
import { TaskTable } from "./task_table.tsx";

export interface FailuresProps {
  snapshot: LiveSnapshot | null;
  canBrowse: boolean;
  canWrite: boolean;
  onPick(id: string): void;
}

/** Failed ÷ (completed + failed) over the last minute, or null with nothing ended. */
export function failureRate(snapshot: LiveSnapshot): number | null {
  const failed = recentRate(snapshot.stats.rates.failed, 60);
  const done = recentRate(snapshot.stats.rates.completed, 60) + failed;
  return done > 0 ? failed / done : null;
}

/**
 * Failures: the rate, counts by type and error code over the window, and the failed tasks of a
 * type and code, to open or retry (one or many).
 */
export function Failures({ snapshot, canBrowse, canWrite, onPick }: FailuresProps) {
  const [type, setType] = useState("");
  const [code, setCode] = useState("");
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  // New failures (or retried ones) change the total: the list is read again.
  const failedTotal = snapshot?.stats.status.failed ?? 0;
  // …and so does a new failure when the total is unchanged (a retried task failed again).
  const newest = snapshot?.failures[0];
  const newestFailure = newest ? `${newest.id}@${newest.at}` : "";
  useEffect(() => {
    if (!canBrowse) return;
    let alive = true;
    listTasks({ status: "failed", ...(type ? { type } : {}), limit: 100 }).then(
      (page) => alive && setTasks(page.tasks),
      (e) => alive && setError((e as Error).message),
    );
    return () => {
      alive = false;
    };
  }, [type, canBrowse, version, failedTotal, newestFailure]);
  if (!snapshot) return <Empty>Waiting for the first snapshot…</Empty>;
  const rate = failureRate(snapshot);
  const counts = snapshot.failureCounts;
  const types = [...new Set([...counts.map((c) => c.type), ...Object.keys(snapshot.stats.byType)])];
  const codes = [...new Set(counts.map((c) => c.code))];
  const shownCounts = counts.filter((c) =>
    (!type || c.type === type) && (!code || c.code === code)
  );
  const shown = (tasks ?? []).filter((t) => !code || t.error?.code === code);
  const live = snapshot.failures.filter((f) =>
    (!type || f.type === type) && (!code || f.code === code)
  );
  return (
    <div data-testid="failures">
      <p class="failure-rate">
        <strong data-testid="failure-rate" data-value={rate ?? ""}>
          {rate === null ? "–" : `${(rate * 100).toFixed(rate < 0.1 ? 1 : 0)}%`}
        </strong>{" "}
        <span class="muted">of tasks ended in the last minute failed</span>
        {" · "}
        <span class="muted">{count(snapshot.stats.status.failed ?? 0)} failed in all</span>
      </p>
      <div class="filters">
        <label class="field">
          <span>type</span>
          <select
            value={type}
            data-testid="failures-type"
            onChange={(e) => setType((e.target as HTMLSelectElement).value)}
          >
            <option value="">any</option>
            {types.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </label>
        <label class="field">
          <span>error code</span>
          <select
            value={code}
            data-testid="failures-code"
            onChange={(e) => setCode((e.target as HTMLSelectElement).value)}
          >
            <option value="">any</option>
            {codes.map((c) => <option key={c} value={c}>{c}</option>)}
          </select>
        </label>
      </div>
      {shownCounts.length > 0 && (
        <table class="compact" data-testid="failure-counts">
          <thead>
            <tr>
              <th>type</th>
              <th>code</th>
              <th class="num">failed</th>
            </tr>
          </thead>
          <tbody>
            {shownCounts.map((c) => (
              <tr key={`${c.type}/${c.code}`} data-testid="failure-count">
                <td class="mono">{c.type}</td>
                <td>
                  <span class="badge code">{c.code}</span>
                </td>
                <td class="num">{count(c.count)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      {canBrowse
        ? tasks === null ? <Empty>Loading…</Empty> : (
          <TaskTable
            tasks={shown}
            now={snapshot.at}
            canWrite={canWrite}
            picked={null}
            onPick={onPick}
            onChanged={() => setVersion((v) => v + 1)}
            testid="failed-tasks"
            empty="No failures. Calm seas."
          />
        )
        : live.length === 0
        ? <Empty>No failures. Calm seas.</Empty>
        : (
          <ol class="failures" data-testid="failure-list">
            {live.map((f) => (
              <li key={f.id}>
                <div class="failure-head">
                  <button type="button" class="link mono" title={f.id} onClick={() => onPick(f.id)}>
                    {shortId(f.id, 12)}
                  </button>
                  <span class="mono type">{f.type}</span>
                  <span class="badge code">{f.code}</span>
                  <time class="muted" dateTime={new Date(f.at).toISOString()}>
                    {ago(f.at, snapshot.at)}
                  </time>
                </div>
                <p class="failure-message">{f.message}</p>
              </li>
            ))}
          </ol>
        )}
    </div>
  );
}
