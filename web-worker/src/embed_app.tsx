/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The "donate compute" box other sites embed (`/embed`, in an iframe that `/embed.js` inserts):
 * the donate page's controls in a small box. Nothing runs before the visitor presses Start (or
 * ticked "start automatically" in an earlier visit to this box); the consent line says so, and
 * for whom. The box tells its parent page its height, so the iframe fits it.
 *
 * @module
 */
import { useEffect, useRef } from "preact/hooks";
import { useAbout } from "./about.ts";
import { PUBLIC_DASHBOARD } from "./app.tsx";
import { useDonorCredit } from "./donor_credit.ts";
import { cores, count } from "./format.ts";
import type { PageWatch } from "./page_signals.ts";
import type { Prefs } from "./prefs.ts";
import { projectName } from "./project.tsx";
import { Settings } from "./settings.tsx";
import { useSteadyStatus } from "./status.ts";
import { StatusCard } from "./status_card.tsx";
import { useControls } from "./use_controls.ts";
import { useSnapshot } from "./use_snapshot.ts";
import type { Volunteer } from "./volunteer.ts";

/** The message the box posts to its parent whenever its height changes. */
export const HEIGHT_MESSAGE = "tessera-embed-height";

export interface EmbedAppProps {
  volunteer: Volunteer;
  watch: PageWatch;
  initialPrefs: Prefs;
}

/**
 * The embed box.
 *
 * @example
 * ```tsx
 * render(<EmbedApp volunteer={v} watch={w} initialPrefs={prefs} />, root);
 * ```
 */
export function EmbedApp({ volunteer, watch, initialPrefs }: EmbedAppProps) {
  const s = useSnapshot(volunteer);
  const view = useSteadyStatus(s);
  const about = useAbout();
  const { prefs, change, power } = useControls(volunteer, watch, initialPrefs);
  const credit = useDonorCredit(s.donorId, s.completed);
  const root = useRef<HTMLDivElement>(null);
  useFitParent(root);
  const name = about === null ? "this grid" : projectName(about);
  const owner = about?.project.owner;

  return (
    <div class="embed" ref={root} data-testid="embed">
      <header class="embed-top">
        <div class="logo" aria-hidden="true">
          <i />
          <i />
          <i />
          <i />
        </div>
        <div>
          <strong data-testid="project-name">{about === null ? "\u00a0" : name}</strong>{" "}
          <span class="muted small">Donate compute{owner ? ` · run by ${owner}` : ""}</span>
        </div>
      </header>
      <StatusCard
        s={s}
        view={view}
        volunteer={volunteer}
        consent={`Nothing runs until you press Start. Then this box lends spare processor time ` +
          `to ${name} until you pause or leave.`}
      />
      <dl class="embed-figures">
        <div>
          <dt class="muted">Tasks done</dt>
          <dd data-testid="tasks-done" data-value={s.completed}>{count(s.completed)}</dd>
        </div>
        <div>
          <dt class="muted">Cores in use</dt>
          <dd data-testid="cores" data-value={Math.round(s.coresInUse * 10) / 10}>
            {cores(s.coresInUse)} / {s.workers}
          </dd>
        </div>
        <div>
          <dt class="muted">Checked</dt>
          <dd data-testid="credit-checked" data-value={credit?.checked.tasks ?? 0}>
            {count(credit?.checked.tasks ?? 0)}
          </dd>
        </div>
        <div>
          <dt class="muted">Pending</dt>
          <dd data-testid="credit-pending" data-value={credit?.pending.tasks ?? 0}>
            {count(credit?.pending.tasks ?? 0)}
          </dd>
        </div>
      </dl>
      <details class="embed-settings">
        <summary>Settings</summary>
        <Settings prefs={prefs} change={change} power={power} compact />
      </details>
      <footer class="embed-foot small">
        <a href="/" target="_blank" rel="noopener">About this grid</a>
        {" · "}
        <a href={PUBLIC_DASHBOARD} target="_blank" rel="noopener">The whole grid live</a>
      </footer>
    </div>
  );
}

/** Tells the embedding page the box's height whenever it changes (embed.js sizes the iframe). */
function useFitParent(root: { current: HTMLElement | null }): void {
  useEffect(() => {
    const el = root.current;
    if (!el || globalThis.parent === globalThis.window) return;
    let last = 0;
    const post = () => {
      const height = Math.ceil(el.getBoundingClientRect().height);
      if (height === last) return;
      last = height;
      globalThis.parent.postMessage({ type: HEIGHT_MESSAGE, height }, "*");
    };
    const observer = new ResizeObserver(post);
    observer.observe(el);
    post();
    return () => observer.disconnect();
  }, []);
}
