/** @jsxImportSource preact */
import { useEffect, useState } from "preact/hooks";
import type { Task } from "../../../shared/protocol.ts";
import { getTask } from "../api.ts";
import { clock, duration } from "../format.ts";

type State =
  | { kind: "idle" }
  | { kind: "loading"; id: string }
  | { kind: "found"; task: Task }
  | { kind: "missing"; id: string }
  | { kind: "error"; message: string };

function preview(value: unknown): string {
  const text = JSON.stringify(value, null, 1) ?? "null";
  return text.length > 1200 ? `${text.slice(0, 1200)}\n… (${text.length} characters)` : text;
}

function TaskView({ task }: { task: Task }) {
  const wait = task.claimedAt === null
    ? null
    : task.claimedAt - Math.max(task.createdAt, task.runAt);
  const run = task.claimedAt !== null && task.completedAt !== null
    ? task.completedAt - task.claimedAt
    : null;
  return (
    <div class="task" data-testid="task-result" data-status={task.status}>
      <dl>
        <dt>status</dt>
        <dd>
          <span class={`badge status-${task.status}`}>{task.status}</span>
        </dd>
        <dt>type</dt>
        <dd class="mono">{task.type}</dd>
        <dt>queue</dt>
        <dd class="mono">{task.queue} · priority {task.priority}</dd>
        <dt>attempts</dt>
        <dd>{task.attempts} of {task.maxAttempts}</dd>
        <dt>created</dt>
        <dd>{clock(task.createdAt)}</dd>
        <dt>waited / ran</dt>
        <dd>{duration(wait)} / {duration(run)}</dd>
        <dt>worker</dt>
        <dd class="mono">{task.workerId ?? "–"}</dd>
      </dl>
      {task.error && (
        <p class="failure-message">
          <span class="badge code">{task.error.code}</span> {task.error.message}
        </p>
      )}
      {task.result !== undefined && task.result !== null && (
        <details>
          <summary>result</summary>
          <pre>{preview(task.result)}</pre>
        </details>
      )}
    </div>
  );
}

/** Looks a task up by id (`GET /api/tasks/{id}`). */
export function TaskLookup({ picked }: { picked: string | null }) {
  const [id, setId] = useState("");
  const [state, setState] = useState<State>({ kind: "idle" });

  const look = async (wanted: string) => {
    const trimmed = wanted.trim();
    if (!trimmed) return;
    setState({ kind: "loading", id: trimmed });
    try {
      const task = await getTask(trimmed);
      setState(task ? { kind: "found", task } : { kind: "missing", id: trimmed });
    } catch (e) {
      setState({ kind: "error", message: (e as Error).message });
    }
  };

  useEffect(() => {
    if (!picked) return;
    setId(picked);
    look(picked);
  }, [picked]);

  return (
    <div data-testid="task-lookup">
      <form
        class="lookup"
        onSubmit={(e) => {
          e.preventDefault();
          look(id);
        }}
      >
        <input
          type="search"
          placeholder="task id, e.g. 01K…"
          value={id}
          spellcheck={false}
          aria-label="task id"
          onInput={(e) => setId((e.target as HTMLInputElement).value)}
        />
        <button type="submit" class="button">Look up</button>
      </form>
      {state.kind === "loading" && <p class="muted">Looking up {state.id}…</p>}
      {state.kind === "missing" && <p class="muted">No task {state.id}.</p>}
      {state.kind === "error" && <p class="error">{state.message}</p>}
      {state.kind === "found" && <TaskView task={state.task} />}
    </div>
  );
}
