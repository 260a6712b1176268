/**
 * Numbers and durations for the donate page.
 *
 * @module
 */

const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });

/** 1234 → "1,234". */
export function count(n: number): string {
  return integer.format(n);
}

/** Tasks per second: one decimal below 10, none above. */
export function rate(n: number): string {
  if (n === 0) return "0";
  return n < 10 ? n.toFixed(1) : integer.format(Math.round(n));
}

/** Compute time, in the unit that reads best: "850 ms", "12.4 s", "3 min 20 s", "2 h 05 min". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor(s / 60) % 60).padStart(2, "0")} min`;
}

/** Cores in use, averaged: "0", "0.4", "1.9", "2". */
export function cores(n: number): string {
  if (n < 0.05) return "0";
  const r = Math.round(n * 10) / 10;
  return Number.isInteger(r) ? String(r) : r.toFixed(1);
}
