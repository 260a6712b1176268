/**
 * The volunteer's state for the UI, redrawn at most every {@link UI_EVERY_MS} and at least once
 * a second.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import type { Volunteer, VolunteerSnapshot } from "./volunteer.ts";

/**
 * How often the figures are redrawn at most. Every redraw is main-thread work (and paint) taken
 * from the very cores being donated, and the page's main thread also hands tasks to the workers:
 * a few frames a second read just as well.
 */
export const UI_EVERY_MS = 250;

/**
 * The snapshot, kept fresh.
 *
 * @example
 * ```ts
 * const s = useSnapshot(volunteer);
 * ```
 */
export function useSnapshot(volunteer: Volunteer): VolunteerSnapshot {
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
      // Rates decay and averages move even when nothing happens: redraw once a second anyway.
      if (dirty || ++ticks % 4 === 0) draw();
    }, UI_EVERY_MS);
    return () => {
      off();
      clearInterval(timer);
    };
  }, [volunteer]);
  return snap;
}
