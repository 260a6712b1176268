/**
 * What the volunteer chose, kept in localStorage: worker count, CPU duty cycle, auto-pause
 * options, whether to start by itself on the next visit, and a random donor id that stays the same across visits (the coordinator keeps the
 * donor's totals under it). Storage may be unavailable (private mode): then the choices last for
 * this page only.
 *
 * @module
 */

export interface Prefs {
  /** Web Workers computing at once, 1 … `navigator.hardwareConcurrency`. */
  workers: number;
  /** Percent of the time each worker may compute. */
  duty: Duty;
  /** Pause while the tab is hidden. */
  pauseWhenHidden: boolean;
  /** Pause while the device runs on battery (where the Battery API exists). */
  pauseOnBattery: boolean;
  /**
   * Start donating as soon as the page opens, without a click: the volunteer's own opt-in, off
   * until they tick it (the press of Start is the consent otherwise).
   */
  autoStart: boolean;
}

export const DUTIES = [25, 50, 75, 100] as const;
export type Duty = typeof DUTIES[number];

const PREFS_KEY = "tessera.donate.prefs";
const DONOR_KEY = "tessera.donorId";

/** The most workers this device offers. */
export function maxWorkers(): number {
  return Math.max(1, Math.floor(navigator.hardwareConcurrency || 4));
}

export function defaultPrefs(): Prefs {
  // Leave a core to the owner by default, on machines that have more than one.
  const max = maxWorkers();
  return {
    workers: max > 2 ? max - 1 : max,
    duty: 100,
    pauseWhenHidden: true,
    pauseOnBattery: true,
    autoStart: false,
  };
}

/** The saved choices, each checked and defaulted on its own. */
export function loadPrefs(): Prefs {
  const d = defaultPrefs();
  let raw: Record<string, unknown> = {};
  try {
    raw = JSON.parse(localStorage.getItem(PREFS_KEY) ?? "{}") ?? {};
  } catch { /* unavailable or damaged: defaults */ }
  const workers = Number(raw.workers);
  return {
    workers: Number.isInteger(workers) ? Math.min(maxWorkers(), Math.max(1, workers)) : d.workers,
    duty: (DUTIES as readonly unknown[]).includes(raw.duty) ? raw.duty as Duty : d.duty,
    pauseWhenHidden: typeof raw.pauseWhenHidden === "boolean"
      ? raw.pauseWhenHidden
      : d.pauseWhenHidden,
    pauseOnBattery: typeof raw.pauseOnBattery === "boolean" ? raw.pauseOnBattery : d.pauseOnBattery,
    autoStart: raw.autoStart === true,
  };
}

export function savePrefs(prefs: Prefs): void {
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
  } catch { /* private mode */ }
}

/** A random id, created on the first visit and kept. */
export function donorId(): string {
  try {
    const saved = localStorage.getItem(DONOR_KEY);
    if (saved && /^[0-9a-f]{8,64}$/.test(saved)) return saved;
    const id = randomHex(16);
    localStorage.setItem(DONOR_KEY, id);
    return id;
  } catch {
    return (sessionDonor ??= randomHex(16));
  }
}
let sessionDonor: string | undefined;

/** One id per page: `browser-<donor prefix>-<random>`. */
export function newWorkerId(donor: string): string {
  return `browser-${donor.slice(0, 8)}-${randomHex(3)}`;
}

/** `crypto.getRandomValues` works on plain-HTTP pages too, unlike `crypto.randomUUID`. */
function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}
