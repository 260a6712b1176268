/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The donate page: one button to start, a plain status line, what this visit has given, the
 * controls (workers, CPU share, pause, auto-pause) and the donor's totals over every visit.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { useDonorTotals } from "./donor_totals.ts";
import { count, duration, rate } from "./format.ts";
import type { PageWatch, Power } from "./page_signals.ts";
import { DUTIES, maxWorkers, type Prefs, savePrefs } from "./prefs.ts";
import { type ThemeChoice, useTheme } from "../../ui/theme.ts";
import type { Hold, Volunteer, VolunteerSnapshot } from "./volunteer.ts";

/**
 * How often the figures are redrawn at most. Every redraw is main-thread work (and paint) taken
 * from the very cores being donated, and the page's main thread also hands tasks to the workers:
 * a few frames a second read just as well.
 */
const UI_EVERY_MS = 250;

/** The volunteer's state, redrawn at most every {@link UI_EVERY_MS} and at least that often. */
function useSnapshot(volunteer: Volunteer): VolunteerSnapshot {
  const [snap, setSnap] = useState(volunteer.snapshot);
  useEffect(() => {
    let dirty = false;
    let last = 0;
    const draw = () => {
      dirty = false;
      last = performance.now();
      setSnap(volunteer.snapshot());
    };
    // A change the volunteer reports is drawn at once when the page has been quiet (a click
    // answers immediately), otherwise with the next tick.
    const off = volunteer.subscribe(() => {
      if (performance.now() - last >= UI_EVERY_MS) draw();
      else dirty = true;
    });
    let ticks = 0;
    const timer = setInterval(() => {
      // Rates decay even when nothing happens: redraw once a second regardless.
      if (dirty || ++ticks % 4 === 0) draw();
    }, UI_EVERY_MS);
    return () => {
      off();
      clearInterval(timer);
    };
  }, [volunteer]);
  return snap;
}

const HOLD_TEXT: Record<Hold, string> = {
  user: "paused by you",
  hidden: "this tab is hidden",
  battery: "on battery power",
  frozen: "the page is in the background",
};

type Tone = "idle" | "running" | "waiting" | "paused" | "reconnecting";

function status(s: VolunteerSnapshot): { tone: Tone; title: string; detail: string } {
  if (s.phase === "stopped") {
    return {
      tone: "idle",
      title: "Ready when you are",
      detail: "Press Start to lend this device's spare processor time to the grid.",
    };
  }
  if (s.phase === "paused") {
    const why = s.holds.map((h) => HOLD_TEXT[h]).join(", ");
    const auto = s.holds.includes("user") ? "" : " It resumes by itself when that changes.";
    return {
      tone: "paused",
      title: `Paused: ${why}`,
      detail: `No tasks are held while paused; any in progress were handed back.${auto}`,
    };
  }
  if (s.link === "connecting") {
    return { tone: "reconnecting", title: "Connecting…", detail: "Reaching the coordinator." };
  }
  if (s.link !== "open") {
    return {
      tone: "reconnecting",
      title: "Reconnecting…",
      detail: "The coordinator is unreachable right now. This page keeps trying by itself.",
    };
  }
  if (s.busy === 0 && s.resting === 0) {
    return {
      tone: "waiting",
      title: "Running, waiting for work",
      detail: "Connected. Tasks start here the moment the grid has some.",
    };
  }
  return {
    tone: "running",
    title: "Running",
    detail: `Computing on ${s.busy} of ${s.workers} worker${s.workers === 1 ? "" : "s"}` +
      (s.duty < 100 ? `, at most ${s.duty} % of the time each.` : "."),
  };
}

export interface AppProps {
  volunteer: Volunteer;
  watch: PageWatch;
  initialPrefs: Prefs;
}

export function App({ volunteer, watch, initialPrefs }: AppProps) {
  const s = useSnapshot(volunteer);
  const [prefs, setPrefs] = useState(initialPrefs);
  const [power, setPower] = useState<Power>(watch.power());
  const { choice: theme, choose: setTheme } = useTheme();
  const totals = useDonorTotals(s.donorId, s.completed);
  useEffect(() => {
    const timer = setInterval(() => setPower(watch.power()), 1000);
    return () => clearInterval(timer);
  }, [watch]);

  const change = (next: Partial<Prefs>) => {
    const p = { ...prefs, ...next };
    setPrefs(p);
    savePrefs(p);
    if (next.workers !== undefined) volunteer.setWorkers(p.workers);
    if (next.duty !== undefined) volunteer.setDuty(p.duty);
    watch.refresh(p);
  };

  const st = status(s);
  const max = maxWorkers();
  const userPaused = s.holds.includes("user");

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
            <h1>Tessera</h1>
            <p class="muted">Donate compute by keeping this page open</p>
          </div>
        </div>
        <ThemeToggle choice={theme} choose={setTheme} />
      </header>

      <main>
        <section
          class={`card hero ${st.tone}`}
          role="status"
          aria-live="polite"
          data-testid="status"
          data-state={s.phase}
          data-link={s.link}
          data-holds={s.holds.join(" ")}
        >
          <div class="hero-text">
            <h2>
              <span class="dot" aria-hidden="true" />
              {st.title}
            </h2>
            <p class="muted">{st.detail}</p>
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
            testid="cores"
            value={s.busy}
            text={`${s.busy} / ${s.workers}`}
          />
        </section>

        <section class="card" aria-label="Now computing">
          <h3>Now computing</h3>
          <div class="chips" data-testid="task-types" data-value={s.types.join(" ")}>
            {s.types.length === 0
              ? <span class="muted">{s.phase === "running" ? "nothing yet" : "nothing"}</span>
              : s.types.map((t) => <span class="chip mono" key={t}>{t}</span>)}
          </div>
        </section>

        <section class="card settings" aria-label="Settings">
          <h3>How much to give</h3>
          <div class="row">
            <div class="label">
              <span>Workers</span>
              <small class="muted">Web Workers computing at once (this device has {max})</small>
            </div>
            <div class="stepper">
              <button
                type="button"
                class="button"
                aria-label="fewer workers"
                data-testid="workers-minus"
                disabled={prefs.workers <= 1}
                onClick={() => change({ workers: prefs.workers - 1 })}
              >
                −
              </button>
              <output data-testid="workers" data-value={prefs.workers}>{prefs.workers}</output>
              <button
                type="button"
                class="button"
                aria-label="more workers"
                data-testid="workers-plus"
                disabled={prefs.workers >= max}
                onClick={() => change({ workers: prefs.workers + 1 })}
              >
                +
              </button>
            </div>
          </div>
          <div class="row">
            <div class="label">
              <span>CPU share</span>
              <small class="muted">Each worker rests between tasks to stay under this</small>
            </div>
            <div class="segmented" role="radiogroup" aria-label="CPU share">
              {DUTIES.map((d) => (
                <button
                  type="button"
                  role="radio"
                  aria-checked={prefs.duty === d}
                  class={prefs.duty === d ? "on" : ""}
                  data-testid={`duty-${d}`}
                  key={d}
                  onClick={() => change({ duty: d })}
                >
                  {d} %
                </button>
              ))}
            </div>
          </div>
          <label class="check">
            <input
              type="checkbox"
              data-testid="pause-hidden"
              checked={prefs.pauseWhenHidden}
              onChange={(e) => change({ pauseWhenHidden: e.currentTarget.checked })}
            />
            <span>Pause while this tab is hidden</span>
          </label>
          <label class="check">
            <input
              type="checkbox"
              data-testid="pause-battery"
              checked={prefs.pauseOnBattery}
              disabled={power === "unsupported"}
              onChange={(e) => change({ pauseOnBattery: e.currentTarget.checked })}
            />
            <span>
              Pause on battery power{" "}
              <small class="muted">
                {power === "unsupported"
                  ? "(this browser does not say)"
                  : power === "battery"
                  ? "(on battery now)"
                  : power === "charging"
                  ? "(plugged in now)"
                  : ""}
              </small>
            </span>
          </label>
        </section>

        <section class="card totals" aria-label="All your donations">
          <h3>All your donations</h3>
          <p data-testid="donor-totals" data-value={totals?.completed ?? 0}>
            {totals
              ? (
                <>
                  <strong>{count(totals.completed)}</strong> tasks ·{" "}
                  <strong>{duration(totals.computeMs)}</strong> of compute
                </>
              )
              : <span class="muted">Nothing yet: your first results will show here.</span>}
          </p>
          <p class="muted small">
            Counted by the coordinator for donor <span class="mono">{s.donorId.slice(0, 8)}</span>
            {" "}
            (a random id kept in this browser). This tab is{" "}
            <span class="mono" data-testid="worker-id" data-value={s.workerId}>{s.workerId}</span>.
          </p>
        </section>
      </main>

      <footer class="foot muted">
        <p>
          Only the grid's own registered task types run here: no code from other people ever reaches
          your browser.
        </p>
        <p>
          <a href="/dashboard/">See the whole grid live</a>
        </p>
      </footer>
    </div>
  );
}

function Tile(props: { label: string; testid: string; value: number; text: string }) {
  return (
    <div class="tile card">
      <span class="tile-label muted">{props.label}</span>
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
