/**
 * The volunteer's choices as UI state: applied to the volunteer and the page's holds, and kept
 * (prefs.ts); and what the Battery API says, read on a tick.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import type { PageWatch, Power } from "./page_signals.ts";
import { type Prefs, savePrefs } from "./prefs.ts";
import type { Volunteer } from "./volunteer.ts";

/**
 * The choices, a setter that applies and saves them, and the power state.
 *
 * @example
 * ```ts
 * const { prefs, change, power } = useControls(volunteer, watch, initialPrefs);
 * change({ duty: 50 });
 * ```
 */
export function useControls(volunteer: Volunteer, watch: PageWatch, initial: Prefs) {
  const [prefs, setPrefs] = useState(initial);
  const [power, setPower] = useState<Power>(watch.power());
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
  return { prefs, change, power };
}
