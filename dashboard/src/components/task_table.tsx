/** @jsxImportSource preact */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { Task } from "../../../shared/protocol.ts";
import { cancelTask, forEachTask, retryTask } from "../api.ts";
import { ago, shortId } from "../format.ts";
import { canCancel, canRetry } from "./task_detail.tsx";
import { Empty } from "./card.tsx";

export interface TaskTableProps {
  tasks: Task[];
  now: number;
  canWrite: boolean;
  picked: string | null;
  onPick(id: string): void;
  /** After a retry or cancel of some: reload. */
  onChanged(): void;
  testid: string;
  /**
   * Shown when there are no tasks. The table stays mounted, so the note of a bulk action that
   * emptied the list stays too.
   */
  empty: ComponentChildren;
}

/** A page of tasks: pick one to open it; select many to retry or cancel them at once. */
export function TaskTable(
  { tasks, now, canWrite, picked, onPick, onChanged, testid, empty }: TaskTableProps,
) {
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const chosen = tasks.filter((t) => selected.has(t.id));
  const retryable = chosen.filter(canRetry);
  const cancellable = chosen.filter(canCancel);
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (!next.delete(id)) next.add(id);
    setSelected(next);
  };
  const all = tasks.length > 0 && chosen.length === tasks.length;
  const run = async (what: string, ids: string[], fn: (id: string) => Promise<Task>) => {
    setBusy(true);
    setNote(null);
    const failed = await forEachTask(ids, fn);
    setBusy(false);
    setSelected(new Set());
    setNote(
      failed.length === 0
        ? `${what} ${ids.length} task${ids.length === 1 ? "" : "s"}.`
        : `${what} ${ids.length - failed.length} of ${ids.length}; ${failed[0].message}`,
    );
    onChanged();
  };
  if (tasks.length === 0) {
    return (
      <div data-testid={testid}>
        {note && (
          <div class="bulk">
            <span class="muted" role="status" data-testid="bulk-note">{note}</span>
          </div>
        )}
        <Empty>{empty}</Empty>
      </div>
    );
  }
  return (
    <div data-testid={testid}>
      {canWrite && (
        <div class="bulk">
          <button
            type="button"
            class="button small"
            disabled={busy || retryable.length === 0}
            data-testid="bulk-retry"
            onClick={() => run("Retried", retryable.map((t) => t.id), retryTask)}
          >
            Retry {retryable.length > 0 ? retryable.length : ""} selected
          </button>
          <button
            type="button"
            class="button small"
            disabled={busy || cancellable.length === 0}
            data-testid="bulk-cancel"
            onClick={() => run("Cancelled", cancellable.map((t) => t.id), cancelTask)}
          >
            Cancel {cancellable.length > 0 ? cancellable.length : ""} selected
          </button>
          {note && <span class="muted" role="status" data-testid="bulk-note">{note}</span>}
        </div>
      )}
      <div class="scroll">
        <table class="compact tasks">
          <thead>
            <tr>
              {canWrite && (
                <th>
                  <input
                    type="checkbox"
                    aria-label="select every task shown"
                    checked={all}
                    onChange={() => setSelected(all ? new Set() : new Set(tasks.map((t) => t.id)))}
                  />
                </th>
              )}
              <th>task</th>
              <th>type</th>
              <th>status</th>
              <th class="num">tries</th>
              <th>worker</th>
              <th class="num">created</th>
            </tr>
          </thead>
          <tbody>
            {tasks.map((t) => (
              <tr
                key={t.id}
                data-testid="task-row"
                data-id={t.id}
                data-status={t.status}
                class={picked === t.id ? "picked" : ""}
              >
                {canWrite && (
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`select ${t.id}`}
                      checked={selected.has(t.id)}
                      onChange={() => toggle(t.id)}
                    />
                  </td>
                )}
                <td>
                  <button
                    type="button"
                    class="link mono"
                    title={t.id}
                    onClick={() => onPick(t.id)}
                  >
                    {shortId(t.id, 10)}
                  </button>
                </td>
                <td class="mono">{t.type}</td>
                <td>
                  <span class={`badge status-${t.status}`}>{t.status}</span>
                  {t.error && <span class="muted" title={t.error.message}>{t.error.code}</span>}
                </td>
                <td class="num">{t.attempts}/{t.maxAttempts}</td>
                <td class="mono" title={t.workerId ?? ""}>
                  {t.workerId ? shortId(t.workerId, 12) : "–"}
                </td>
                <td class="num muted">{ago(t.createdAt, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
