/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The status card: the steady status (status.ts) and the one button that starts, pauses or
 * resumes. Its height never changes with the state: the text has room for its longest line.
 * Only the title and detail are the live region, so the button's label is not re-read.
 *
 * @module
 */
import type { StatusView } from "./status.ts";
import type { Volunteer, VolunteerSnapshot } from "./volunteer.ts";

export interface StatusCardProps {
  s: VolunteerSnapshot;
  view: StatusView;
  volunteer: Volunteer;
  /** Said beside the Start button before anything runs (the embed box's consent line). */
  consent?: string;
}

/**
 * The status and its button.
 *
 * @example
 * ```tsx
 * <StatusCard s={s} view={useSteadyStatus(s)} volunteer={volunteer} />
 * ```
 */
export function StatusCard({ s, view, volunteer, consent }: StatusCardProps) {
  const userPaused = s.holds.includes("user");
  return (
    <section
      class={`card hero ${view.tone}`}
      aria-label="Status"
      data-testid="status"
      data-state={s.phase}
      data-link={s.link}
      data-holds={s.holds.join(" ")}
      data-tone={view.tone}
    >
      <div class="hero-text" role="status" aria-live="polite" aria-atomic="true">
        <h2>
          <span class="dot" aria-hidden="true" />
          <span data-testid="status-title">{view.title}</span>
        </h2>
        <p class="muted" data-testid="status-detail">
          {s.phase === "stopped" && consent ? consent : view.detail}
        </p>
      </div>
      <div class="hero-actions">
        {s.phase === "stopped"
          ? (
            <button
              type="button"
              class="button primary big"
              data-testid="start-button"
              onClick={() => volunteer.start()}
            >
              Start donating
            </button>
          )
          : userPaused
          ? (
            <button
              type="button"
              class="button primary big"
              data-testid="resume-button"
              onClick={() => volunteer.resume()}
            >
              Resume
            </button>
          )
          : (
            <button
              type="button"
              class="button big"
              data-testid="pause-button"
              onClick={() => volunteer.pause()}
            >
              Pause
            </button>
          )}
      </div>
    </section>
  );
}
