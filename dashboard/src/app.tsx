/** @jsxImportSource preact */
import { useEffect, useMemo, useState } from "preact/hooks";
import type { WhoAmI } from "../../shared/protocol.ts";
import { Backlog, StallAlert } from "./components/backlog.tsx";
import { Card } from "./components/card.tsx";
import { Donors } from "./components/donors.tsx";
import { Failures } from "./components/failures.tsx";
import { Jobs } from "./components/jobs.tsx";
import { KeyForm } from "./components/key_form.tsx";
import { Kpis } from "./components/kpis.tsx";
import { Latency } from "./components/latency.tsx";
import { Mosaic } from "./components/mosaic.tsx";
import { PublicView } from "./components/public_view.tsx";
import { TaskBrowser } from "./components/task_browser.tsx";
import { ThroughputChart } from "./components/throughput_chart.tsx";
import { Workers } from "./components/workers.tsx";
import { whoAmI } from "./api.ts";
import { clock, duration } from "./format.ts";
import { type Connection, LiveClient, useLive } from "./live_client.ts";
import { type Theme, type ThemeChoice, useTheme } from "../../ui/theme.ts";
import { adminKey } from "./admin_key.ts";

/** The public view's address, relative to the dashboard (the donate page links to it). */
const PUBLIC_PATH = "/dashboard/public";
const isPublic = () => /\/dashboard\/public\/?$/.test(location.pathname);

const CONNECTION_LABEL: Record<Connection, string> = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
};

const NEXT_THEME: Record<ThemeChoice, ThemeChoice> = { auto: "light", light: "dark", dark: "auto" };
const THEME_ICON: Record<ThemeChoice, string> = { auto: "◐", light: "☀", dark: "☾" };

function ThemeToggle({ choice, choose }: { choice: ThemeChoice; choose(c: ThemeChoice): void }) {
  return (
    <button
      type="button"
      class="button ghost"
      data-testid="theme-toggle"
      title={`Theme: ${choice} (click for ${NEXT_THEME[choice]})`}
      onClick={() => choose(NEXT_THEME[choice])}
    >
      <span aria-hidden="true">{THEME_ICON[choice]}</span> {choice}
    </button>
  );
}

/** What the console may show: decided by `GET /api/whoami` before anything else is asked. */
type Access =
  | { kind: "checking" }
  | { kind: "unreachable"; message: string }
  | { kind: "refused" }
  | { kind: "needs-key"; who: WhoAmI }
  | { kind: "console"; who: WhoAmI; write: boolean };

function accessOf(who: WhoAmI | "refused"): Access {
  if (who === "refused") return { kind: "refused" };
  const read = who.console?.read ?? true;
  if (!read) return { kind: "needs-key", who };
  return { kind: "console", who, write: who.console?.write ?? true };
}

function useAccess(): Access {
  const [access, setAccess] = useState<Access>({ kind: "checking" });
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () =>
      whoAmI().then(
        (who) => setAccess(accessOf(who)),
        (e) => {
          setAccess({ kind: "unreachable", message: (e as Error).message });
          timer = setTimeout(check, 3000);
        },
      );
    check();
    return () => clearTimeout(timer);
  }, []);
  return access;
}

function Brand({ subtitle }: { subtitle: string }) {
  return (
    <div class="brand">
      <span class="logo" aria-hidden="true">
        <i />
        <i />
        <i />
        <i />
      </span>
      <div>
        <h1>Tessera</h1>
        <p class="muted">{subtitle}</p>
      </div>
    </div>
  );
}

export function App() {
  const { theme, choice, choose } = useTheme();
  if (isPublic()) {
    return (
      <div class="page">
        <header class="top">
          <Brand subtitle="volunteer compute grid · the whole grid, live" />
          <div class="top-right">
            <a class="button ghost" href="/">Donate compute</a>
            <ThemeToggle choice={choice} choose={choose} />
          </div>
        </header>
        <PublicView theme={theme} />
        <footer class="foot muted">
          Tessera · <a href="/">volunteer</a> · <a href="/dashboard/">operator console</a>
        </footer>
      </div>
    );
  }
  return <Operator theme={theme} choice={choice} choose={choose} />;
}

function Operator(
  { theme, choice, choose }: { theme: Theme; choice: ThemeChoice; choose(c: ThemeChoice): void },
) {
  const access = useAccess();
  const [keyOpen, setKeyOpen] = useState(false);
  // Task events are only needed for the mosaic's tiles; the filter keeps busy grids cheap. The
  // feed starts once the console may be read (see Console).
  const live = useMemo(() => new LiveClient(["mandelbrot.tile"]), []);
  const pill = access.kind === "refused"
    ? { state: "refused", label: "key refused" }
    : access.kind === "needs-key"
    ? { state: "locked", label: "key needed" }
    : access.kind === "unreachable"
    ? { state: "reconnecting", label: "unreachable" }
    : null;
  const readOnly = access.kind === "console" && !access.write;
  return (
    <div class="page">
      <header class="top">
        <Brand
          subtitle={readOnly
            ? "operator console · read-only"
            : access.kind === "console"
            ? "operator console · live"
            : "operator console"}
        />
        <div class="top-right">
          {pill && (
            <span class={`pill ${pill.state}`} data-testid="connection" data-state={pill.state}>
              <span class="dot" aria-hidden="true" />
              {pill.label}
            </span>
          )}
          {access.kind === "console" && <LivePill live={live} />}
          <button
            type="button"
            class="button ghost"
            data-testid="admin-key"
            aria-expanded={keyOpen}
            title={adminKey ? "A key is set (click to change it)" : "Enter an admin API key"}
            onClick={() => setKeyOpen(!keyOpen)}
          >
            {adminKey ? "Change key" : "Enter key"}
          </button>
          <ThemeToggle choice={choice} choose={choose} />
        </div>
      </header>
      {keyOpen && access.kind === "console" && (
        <div class="card key-card">
          <KeyForm autofocus />
        </div>
      )}
      {access.kind === "checking" && <p class="muted">Asking the coordinator who we are…</p>}
      {access.kind === "unreachable" && (
        <p class="banner" role="status">
          The coordinator is unreachable ({access.message}). Trying again on its own.
        </p>
      )}
      {(access.kind === "refused" || access.kind === "needs-key") && (
        <section class="card gate" data-testid="key-gate" aria-labelledby="gate-title">
          <h2 id="gate-title" data-testid="gate-title">
            {access.kind === "refused"
              ? "Key refused"
              : access.who.role === "anonymous"
              ? "This console needs an admin key"
              : `A ${access.who.role} key cannot open the console`}
          </h2>
          <p data-testid="gate-message">
            {access.kind === "refused"
              ? "The coordinator does not know the key this page sent: it is mistyped, or it was revoked. Enter another one."
              : access.who.role === "anonymous"
              ? "The coordinator requires API keys. Enter an admin key (deno task keys create --role admin)."
              : "It may submit and read its own tasks, but the operator console needs an admin key."}
          </p>
          <KeyForm autofocus />
          <p class="muted">
            Or see the grid without a key: <a href={PUBLIC_PATH}>the public view</a>.
          </p>
        </section>
      )}
      {access.kind === "console" && <Console live={live} theme={theme} canWrite={access.write} />}
      <footer class="foot muted">
        Tessera · <a href="/api/openapi.json">API</a> · <a href="/api/health">health</a> ·{" "}
        <a href={PUBLIC_PATH}>public view</a>
      </footer>
    </div>
  );
}

/** The live feed's connection state, for the header. */
function LivePill({ live }: { live: LiveClient }) {
  const { connection, snapshot } = useLive(live);
  return (
    <span
      class={`pill ${connection}`}
      data-testid="connection"
      data-state={connection}
      title={snapshot ? `last update ${clock(snapshot.at)}` : "waiting for the coordinator"}
    >
      <span class="dot" aria-hidden="true" />
      {CONNECTION_LABEL[connection]}
    </span>
  );
}

function Console(
  { live, theme, canWrite }: { live: LiveClient; theme: Theme; canWrite: boolean },
) {
  useEffect(() => {
    live.start();
    return () => live.stop();
  }, [live]);
  const { snapshot, connection } = useLive(live);
  const [picked, setPicked] = useState<string | null>(null);
  const now = snapshot?.at ?? Date.now();
  const windowLabel = snapshot ? duration(snapshot.latency.windowMs) : "5 min";
  const types = snapshot ? Object.keys(snapshot.stats.byType).sort() : [];
  const queues = snapshot ? Object.keys(snapshot.stats.byQueue).sort() : [];
  return (
    <>
      {connection !== "live" && snapshot && (
        <p class="banner" role="status">
          The coordinator is unreachable; the figures below are from{" "}
          {clock(snapshot.at)}. Reconnecting on its own.
        </p>
      )}
      <StallAlert snapshot={snapshot} />
      <Kpis snapshot={snapshot} />
      <main class="grid">
        <Card
          title="Why work waits"
          hint="open work per queue and type, from the coordinator's counters"
          wide="full"
          testid="card-backlog"
        >
          <Backlog rows={snapshot?.backlog ?? null} />
        </Card>
        <Card
          title="Throughput"
          hint="per second, the last 10 minutes: done on the left scale, submitted on the right"
          wide
          testid="card-throughput"
        >
          <ThroughputChart rates={snapshot?.stats.rates ?? null} theme={theme} />
        </Card>
        <Card
          title="Latency"
          hint={`tasks ended in the last ${windowLabel}`}
          testid="card-latency"
        >
          <Latency latency={snapshot?.latency ?? null} />
        </Card>
        <Card
          title="Jobs"
          hint="running jobs and the last few finished; open one for its counts, failures and results"
          wide
          testid="card-jobs"
        >
          <Jobs canWrite={canWrite} />
        </Card>
        <Card
          title="Live mosaic"
          hint="a Mandelbrot picture, one task per tile, painted as volunteers finish them"
          testid="card-mosaic"
        >
          <Mosaic live={live} canWrite={canWrite} />
        </Card>
        <Card
          title="Failures"
          hint={`by type and code, the last ${windowLabel}`}
          wide
          testid="card-failures"
        >
          <Failures
            snapshot={snapshot}
            canBrowse={canWrite}
            canWrite={canWrite}
            onPick={setPicked}
          />
        </Card>
        <Card title="Donors" hint="browser volunteers' totals" testid="card-donors">
          <Donors />
        </Card>
        <Card
          title="Workers"
          hint="online, idle, draining, offline and crashed; rate over the last 10 s"
          wide="full"
          testid="card-workers"
        >
          <Workers workers={snapshot?.workers ?? null} now={now} />
        </Card>
        <Card
          title="Tasks"
          hint={canWrite ? "filter, open, retry or cancel" : "open a task by its id"}
          wide="full"
          testid="card-tasks"
        >
          <TaskBrowser
            types={types}
            queues={queues}
            canBrowse={canWrite}
            canWrite={canWrite}
            now={now}
            picked={picked}
          />
        </Card>
      </main>
    </>
  );
}
