/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The donate page: who runs the grid and why, one button to start, a steady status, what this
 * visit has given and what runs now, the donor's checked and pending credit, the controls, and
 * the task types that may run. `embed_app.tsx` is the same in a small box.
 *
 * @module
 */
import { useAbout } from "./about.ts";
import { CreditCard } from "./credit_card.tsx";
import { useDonorCredit } from "./donor_credit.ts";
import { cores, count, duration, rate } from "./format.ts";
import { NowComputing } from "./now_computing.tsx";
import type { PageWatch } from "./page_signals.ts";
import type { Prefs } from "./prefs.ts";
import { ProjectCard, projectName, TypesCard } from "./project.tsx";
import { Settings } from "./settings.tsx";
import { useSteadyStatus } from "./status.ts";
import { StatusCard } from "./status_card.tsx";
import { type ThemeChoice, useTheme } from "../../ui/theme.ts";
import { useControls } from "./use_controls.ts";
import { useSnapshot } from "./use_snapshot.ts";
import type { Volunteer } from "./volunteer.ts";
import { useEffect } from "preact/hooks";

/**
 * The console's public, read-only view of the whole grid (totals, types, throughput, donors; no
 * task data), which needs no key, unlike the operator console at `/dashboard/`.
 */
export const PUBLIC_DASHBOARD = "/dashboard/public";

export interface AppProps {
  volunteer: Volunteer;
  watch: PageWatch;
  initialPrefs: Prefs;
}

export function App({ volunteer, watch, initialPrefs }: AppProps) {
  const s = useSnapshot(volunteer);
  const view = useSteadyStatus(s);
  const about = useAbout();
  const { prefs, change, power } = useControls(volunteer, watch, initialPrefs);
  const { choice: theme, choose: setTheme } = useTheme();
  const credit = useDonorCredit(s.donorId, s.completed);
  useEffect(() => {
    if (about?.project.name) document.title = `${about.project.name} · donate compute`;
  }, [about]);

  return (
    <div class="page">
      <header class="top">
        <div class="brand">
          <div class="logo" aria-hidden="true">
            <i />
            <i />
            <i />
            <i />
          </div>
          <div>
            <h1 data-testid="project-name">{about === null ? "\u00a0" : projectName(about)}</h1>
            <p class="muted">Donate compute by keeping this page open</p>
          </div>
        </div>
        <ThemeToggle choice={theme} choose={setTheme} />
      </header>

      <main>
        <ProjectCard about={about} />
        <StatusCard s={s} view={view} volunteer={volunteer} />

        <section class="tiles" aria-label="This visit">
          <Tile
            label="Tasks done"
            testid="tasks-done"
            value={s.completed}
            text={count(s.completed)}
          />
          <Tile
            label="Compute donated"
            testid="compute-donated"
            value={Math.round(s.computeMs)}
            text={duration(s.computeMs)}
          />
          <Tile label="Tasks per second" testid="rate" value={s.rate} text={rate(s.rate)} />
          <Tile
            label="Cores in use"
            hint="averaged over 5 s"
            testid="cores"
            value={Math.round(s.coresInUse * 10) / 10}
            text={`${cores(s.coresInUse)} / ${s.workers}`}
          />
        </section>

        <NowComputing s={s} about={about} />
        <CreditCard credit={credit} donorId={s.donorId} workerId={s.workerId} />
        <Settings prefs={prefs} change={change} power={power} />
        <TypesCard about={about} running={s.types} />
      </main>

      <footer class="foot muted">
        <p>
          <a href={PUBLIC_DASHBOARD} data-testid="grid-link">See the whole grid live</a>
          {" · "}
          <span>Runs on Tessera</span>
        </p>
      </footer>
    </div>
  );
}

function Tile(
  props: { label: string; hint?: string; testid: string; value: number; text: string },
) {
  return (
    <div class="tile card">
      <span class="tile-label muted">
        {props.label}
        {props.hint && <span class="visually-hidden">, {props.hint}</span>}
      </span>
      <span class="tile-value" data-testid={props.testid} data-value={props.value}>
        {props.text}
      </span>
    </div>
  );
}

const NEXT_THEME: Record<ThemeChoice, ThemeChoice> = { auto: "light", light: "dark", dark: "auto" };

function ThemeToggle({ choice, choose }: { choice: ThemeChoice; choose(c: ThemeChoice): void }) {
  return (
    <button
      type="button"
      class="button theme"
      title="Theme: system, light or dark"
      onClick={() => choose(NEXT_THEME[choice])}
    >
      {choice === "auto" ? "◐ System" : choice === "light" ? "☀ Light" : "☾ Dark"}
    </button>
  );
}
