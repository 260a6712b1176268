/**
 * Number, duration and time formatting for the panels.
 *
 * @module
 */

const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

/** 1234 → "1,234"; above a million, "1.2M". */
export function count(n: number): string {
  return n >= 1_000_000 ? compact.format(n) : integer.format(n);
}

/** Tasks per second: one decimal below 10, none above. */
export function rate(n: number): string {
  if (n === 0) return "0";
  if (n < 10) return n.toFixed(1);
  return count(Math.round(n));
}

/** Milliseconds, in the unit that reads best. */
export function duration(ms: number | null): string {
  if (ms === null) return "–";
  if (ms < 1) return "<1 ms";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** "12 s ago", "3 min ago". */
export function ago(at: number, now: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(at).toLocaleDateString();
}

export function clock(at: number | null): string {
  return at === null ? "–" : new Date(at).toLocaleTimeString();
}

/** The tail of a long id, enough to tell ids apart. */
export function shortId(id: string, keep = 10): string {
  return id.length <= keep + 1 ? id : `…${id.slice(-keep)}`;
}
