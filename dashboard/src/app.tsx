/** @jsxImportSource preact */
import { useEffect, useMemo, useState } from "preact/hooks";
import { Card } from "./components/card.tsx";
import { Donors } from "./components/donors.tsx";
import { Failures } from "./components/failures.tsx";
import { Kpis } from "./components/kpis.tsx";
import { Latency } from "./components/latency.tsx";
import { Mosaic } from "./components/mosaic.tsx";
import { Queues } from "./components/queues.tsx";
import { TaskLookup } from "./components/task_lookup.tsx";
import { ThroughputChart } from "./components/throughput_chart.tsx";
import { Workers } from "./components/workers.tsx";
import { clock, duration } from "./format.ts";
import { type Connection, LiveClient, useLive } from "./live_client.ts";
import { type ThemeChoice, useTheme } from "../../ui/theme.ts";
import { adminKey, askForKey } from "./admin_key.ts";

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

export function App() {
  // Task events are only needed for the mosaic's tiles; the filter keeps busy grids cheap.
  const live = useMemo(() => new LiveClient(["mandelbrot.tile"]), []);
  useEffect(() => {
    live.start();
    return () => live.stop();
  }, [live]);
  const { snapshot, connection } = useLive(live);
  const { theme, choice, choose } = useTheme();
  const [picked, setPicked] = useState<string | null>(null);
  const now = snapshot?.at ?? Date.now();
  const windowLabel = snapshot ? duration(snapshot.latency.windowMs) : "5 min";

  return (
    <div class="page">
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">
            <i />
            <i />
            <i />
            <i />
          </span>
          <div>
            <h1>Tessera</h1>
            <p class="muted">volunteer compute grid · live</p>
          </div>
        </div>
        <div class="top-right">
          <span
            class={`pill ${connection}`}
            data-testid="connection"
            data-state={connection}
            title={snapshot ? `last update ${clock(snapshot.at)}` : "waiting for the coordinator"}
          >
            <span class="dot" aria-hidden="true" />
            {CONNECTION_LABEL[connection]}
          </span>
          <button
            type="button"
            class="button ghost"
            data-testid="admin-key"
            title={adminKey ? "An admin key is set (click to change)" : "Enter an admin API key"}
            onClick={askForKey}
          >
            <span aria-hidden="true">⚿</span> {adminKey ? "key set" : "key"}
          </button>
          <ThemeToggle choice={choice} choose={choose} />
        </div>
      </header>

      {connection !== "live" && snapshot && (
        <p class="banner" role="status">
          The coordinator is unreachable; the figures below are from{" "}
          {clock(snapshot.at)}. Reconnecting on its own.
        </p>
      )}

      <Kpis snapshot={snapshot} />

      <main class="grid">
        <Card
          title="Throughput"
          hint="tasks per second, up to the last 10 minutes"
          wide
          testid="card-throughput"
        >
          <ThroughputChart rates={snapshot?.stats.rates ?? null} theme={theme} />
        </Card>
        <Card
          title="Live mosaic"
          hint="a Mandelbrot picture, one task per tile, painted as volunteers finish them"
          testid="card-mosaic"
        >
          <Mosaic live={live} />
        </Card>
        <Card title="Workers" hint="online now; rate over the last 10 s" testid="card-workers">
          <Workers workers={snapshot?.workers ?? null} />
        </Card>
        <Card title="Queue depth" hint="queued and running" testid="card-queues">
          <Queues stats={snapshot?.stats ?? null} />
        </Card>
        <Card
          title="Latency"
          hint={`tasks ended in the last ${windowLabel}`}
          testid="card-latency"
        >
          <Latency latency={snapshot?.latency ?? null} />
        </Card>
        <Card title="Recent failures" hint="newest first" testid="card-failures">
          <Failures failures={snapshot?.failures ?? null} now={now} onPick={setPicked} />
        </Card>
        <Card title="Task lookup" testid="card-lookup">
          <TaskLookup picked={picked} />
        </Card>
        <Card title="Donors" hint="browser volunteers' totals" testid="card-donors">
          <Donors />
        </Card>
      </main>
      <footer class="foot muted">
        Tessera · <a href="/api/openapi.json">API</a> · <a href="/api/health">health</a>
      </footer>
    </div>
  );
}
