/** @jsxImportSource preact */
import { useEffect, useState } from "preact/hooks";
import type { Task } from "../../../shared/protocol.ts";
import { getTask, listTasks, type TaskFilter } from "../api.ts";
import { Empty } from "./card.tsx";
import { TaskDetail } from "./task_detail.tsx";
import { TaskTable } from "./task_table.tsx";

const STATUSES = ["", "pending", "processing", "completed", "failed", "cancelled"];
const PAGE = 50;

export interface TaskBrowserProps {
  types: string[];
  queues: string[];
  /** May list tasks (an admin key); otherwise only a lookup by id. */
  canBrowse: boolean;
  canWrite: boolean;
  now: number;
  /** A task picked elsewhere (a failure), to open. */
  picked: string | null;
}

function Select(
  { label, value, options, onChange }: {
    label: string;
    value: string;
    options: string[];
    onChange(v: string): void;
  },
) {
  return (
    <label class="field">
      <span>{label}</span>
      <select
        value={value}
        data-testid={`filter-${label}`}
        onChange={(e) => onChange((e.target as HTMLSelectElement).value)}
      >
        {["", ...options.filter((o) => o !== "")].map((o) => (
          <option key={o} value={o}>{o === "" ? "any" : o}</option>
        ))}
      </select>
    </label>
  );
}

/** Tasks by status, type, queue and worker; open one; retry or cancel one or many. */
export function TaskBrowser({ types, queues, canBrowse, canWrite, now, picked }: TaskBrowserProps) {
  const [filter, setFilter] = useState<TaskFilter>({});
  const [worker, setWorker] = useState("");
  const [lookup, setLookup] = useState("");
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<Task | null>(null);
  const [missing, setMissing] = useState<string | null>(null);

  const load = async (f: TaskFilter, more = false) => {
    if (!canBrowse) return;
    setError(null);
    try {
      const page = await listTasks({ ...f, limit: PAGE, ...(more && cursor ? { cursor } : {}) });
      setTasks(more && tasks ? [...tasks, ...page.tasks] : page.tasks);
      setCursor(page.cursor);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const openTask = async (id: string) => {
    setMissing(null);
    try {
      const t = await getTask(id.trim());
      setOpen(t);
      if (!t) setMissing(id.trim());
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    load(filter);
  }, [filter, canBrowse]);
  useEffect(() => {
    if (picked) openTask(picked);
  }, [picked]);
  const set = (k: keyof TaskFilter) => (v: string) => setFilter({ ...filter, [k]: v || undefined });

  return (
    <div class="browser" data-testid="task-browser">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          if (lookup.trim()) openTask(lookup);
          else setFilter({ ...filter, worker: worker.trim() || undefined });
        }}
      >
        {canBrowse && (
          <>
            <Select
              label="status"
              value={filter.status ?? ""}
              options={STATUSES}
              onChange={set("status")}
            />
            <Select label="type" value={filter.type ?? ""} options={types} onChange={set("type")} />
            <Select
              label="queue"
              value={filter.queue ?? ""}
              options={queues}
              onChange={set("queue")}
            />
            <label class="field">
              <span>worker</span>
              <input
                type="search"
                value={worker}
                placeholder="worker id"
                data-testid="filter-worker"
                onInput={(e) => setWorker((e.target as HTMLInputElement).value)}
                onChange={() => setFilter({ ...filter, worker: worker.trim() || undefined })}
              />
            </label>
          </>
        )}
        <label class="field grow">
          <span>task id</span>
          <input
            type="search"
            value={lookup}
            placeholder="01K…"
            spellcheck={false}
            aria-label="task id"
            data-testid="lookup-id"
            onInput={(e) => setLookup((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" class="button">{lookup.trim() ? "Open" : "Filter"}</button>
      </form>
      {!canBrowse && (
        <p class="muted" data-testid="browse-needs-key">
          Listing tasks needs an admin key; open one by its id.
        </p>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      {missing && <p class="muted">No task {missing}.</p>}
      <div class="browser-body">
        {canBrowse && (
          <div class="browser-list">
            {tasks === null ? <Empty>Loading…</Empty> : (
              <TaskTable
                tasks={tasks}
                now={now}
                canWrite={canWrite}
                picked={open?.id ?? null}
                onPick={openTask}
                onChanged={() => {
                  load(filter);
                  if (open) openTask(open.id);
                }}
                testid="task-list"
                empty="No task matches."
              />
            )}
            {cursor && (
              <button
                type="button"
                class="button ghost small"
                onClick={() => load(filter, true)}
              >
                More
              </button>
            )}
          </div>
        )}
        {open && (
          <TaskDetail
            task={open}
            canWrite={canWrite}
            onChanged={(t) => {
              setOpen(t);
              load(filter);
            }}
          />
        )}
      </div>
    </div>
  );
}
