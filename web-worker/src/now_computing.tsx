/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * "Now computing": one row per worker, saying what it runs (the type and, in plain words, what
 * that is) and how far along it is, or that it rests or waits. One row per worker whatever
 * happens, so the card keeps its height.
 *
 * @module
 */
import type { About } from "../../shared/protocol.ts";
import { describe } from "./about.ts";
import { duration } from "./format.ts";
import type { VolunteerSnapshot } from "./volunteer.ts";

/**
 * The running tasks with their progress.
 *
 * @example
 * ```tsx
 * <NowComputing s={snapshot} about={about} />
 * ```
 */
export function NowComputing({ s, about }: { s: VolunteerSnapshot; about: About | null }) {
  const now = performance.now();
  const rows = Array.from({ length: s.workers }, (_, i) => {
    const task = i < s.busy ? s.running[i] : undefined;
    if (task) {
      const pct = task.progress === null ? null : Math.round(task.progress * 100);
      return (
        <li
          class="run"
          key={i}
          data-testid="running-task"
          data-type={task.type}
          data-progress={pct ?? ""}
        >
          <div class="run-head">
            <span class="chip mono">{task.type}</span>
            <span class="muted small run-time">
              {pct === null ? "started" : `${pct} %`} · {duration(now - task.since)}
            </span>
          </div>
          <div class="run-desc small">{describe(about, task.type) ?? "\u00a0"}</div>
          <div
            class="bar"
            role="progressbar"
            aria-label={`${task.type} progress`}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={pct ?? undefined}
          >
            <i style={{ transform: `scaleX(${(pct ?? 0) / 100})` }} />
          </div>
        </li>
      );
    }
    const resting = i < s.busy + s.resting;
    const text = s.phase !== "running"
      ? "idle"
      : resting
      ? `resting, to stay within ${s.duty} % of the CPU`
      : "waiting for a task";
    return (
      <li class="run idle" key={i}>
        <div class="run-head">
          <span class="muted small">Worker {i + 1}: {text}</span>
        </div>
        <div class="run-desc small">&nbsp;</div>
        <div class="bar" aria-hidden="true">
          <i />
        </div>
      </li>
    );
  });
  return (
    <section class="card" aria-label="Now computing">
      <h3>Now computing</h3>
      <ul class="runs" data-testid="task-types" data-value={s.types.join(" ")}>{rows}</ul>
    </section>
  );
}
