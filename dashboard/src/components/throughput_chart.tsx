/** @jsxImportSource preact */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Stats } from "../../../shared/protocol.ts";
import type { Theme } from "../../../ui/theme.ts";

const MIN_HEIGHT = 200;

type Rates = Stats["rates"];

/** The shortest span shown: a fresh grid gets a readable chart, not a spike at the right edge. */
const MIN_SPAN_S = 120;

/**
 * Seconds on x, from shortly before the first activity (at most 10 minutes back, at least
 * {@link MIN_SPAN_S}). The last second is still filling, so it is left out: no false dip.
 */
function toData(rates: Rates, failed = true): uPlot.AlignedData {
  const n = Math.max(0, rates.completed.length - 1);
  const active = (i: number) =>
    (rates.completed[i] ?? 0) + (rates.submitted[i] ?? 0) + (rates.failed[i] ?? 0) > 0;
  let first = 0;
  while (first < n && !active(first)) first++;
  const start = Math.max(0, Math.min(first - 10, n - MIN_SPAN_S));
  const t0 = rates.t0 / 1000;
  const x = Array.from({ length: n - start }, (_, i) => t0 + start + i);
  const series = [x, rates.completed.slice(start, n), rates.submitted.slice(start, n)];
  if (failed) series.push(rates.failed.slice(start, n));
  return series as uPlot.AlignedData;
}

const cssVar = (name: string) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** With the cursor away, the legend shows the latest second instead of dashes. */
function showLatest(u: uPlot): void {
  if (u.cursor.idx === null || u.cursor.idx === undefined) {
    const n = u.data[0].length;
    if (n > 0) u.setLegend({ idx: n - 1 }, false);
  }
}

const minutes = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const seconds = new Intl.DateTimeFormat(undefined, {
  hour: "numeric",
  minute: "2-digit",
  second: "2-digit",
});

/** Clock times on the x axis: minutes when ticks are whole minutes apart, else seconds. */
const timeTicks = (_u: uPlot, splits: number[], _axis: number, _space: number, incr: number) =>
  splits.map((s) => (incr % 60 === 0 ? minutes : seconds).format(s * 1000));

function options(width: number, height: number, failed: boolean): uPlot.Options {
  const text = cssVar("--muted");
  const grid = cssVar("--grid");
  const axis = {
    stroke: text,
    grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1 },
  };
  const line = (label: string, color: string, fill: boolean): uPlot.Series => ({
    label,
    stroke: color,
    width: 1.6,
    points: { show: false },
    value: (_u, v) => v === null ? "–" : `${v}/s`,
    ...(fill ? { fill: `${color}22` } : {}),
  });
  return {
    width,
    height,
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    legend: { live: true },
    hooks: { setCursor: [showLatest], setData: [showLatest] },
    // Submitted has its own scale (right): a burst of submits must not flatten the completed line.
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, Math.max(4, max * 1.1)] },
      submitted: { range: (_u, _min, max) => [0, Math.max(4, max * 1.1)] },
    },
    axes: [
      { ...axis, space: 90, values: timeTicks },
      { ...axis, size: 48, label: "done/s", labelSize: 14 },
      {
        ...axis,
        scale: "submitted",
        side: 1,
        size: 48,
        grid: { show: false },
        stroke: cssVar("--c-submitted"),
        label: "submitted/s",
        labelSize: 14,
      },
    ],
    series: [
      { value: (_u, v) => v === null ? "–" : new Date(v * 1000).toLocaleTimeString() },
      line("completed", cssVar("--c-completed"), true),
      { ...line("submitted", cssVar("--c-submitted"), false), scale: "submitted", dash: [4, 3] },
      ...(failed ? [line("failed", cssVar("--c-failed"), false)] : []),
    ],
  };
}

/**
 * Completed and failed per second (left scale) and submitted per second (right scale, dashed) over
 * the last 10 minutes (uPlot).
 */
export function ThroughputChart(
  { rates, theme, failed = true }: { rates: Rates | null; theme: Theme; failed?: boolean },
) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(rates);
  latest.current = rates;

  useEffect(() => {
    const el = box.current!;
    const u = new uPlot(
      options(el.clientWidth || 600, MIN_HEIGHT, failed),
      latest.current
        ? toData(latest.current, failed)
        : (failed ? [[], [], [], []] : [[], [], []]) as uPlot.AlignedData,
      el,
    );
    plot.current = u;
    // The chart fills its box (the card's spare height), less the legend under it.
    const fit = () => {
      const legend = u.root.querySelector<HTMLElement>(".u-legend")?.offsetHeight ?? 0;
      const height = Math.max(MIN_HEIGHT, el.clientHeight - legend - 4);
      if (u.width !== el.clientWidth || u.height !== height) {
        u.setSize({ width: el.clientWidth, height });
      }
    };
    const resize = new ResizeObserver(fit);
    resize.observe(el);
    fit();
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [theme]);

  useEffect(() => {
    if (rates) plot.current?.setData(toData(rates, failed));
  }, [rates]);

  return <div class="chart" ref={box} data-testid="throughput-chart" />;
}
