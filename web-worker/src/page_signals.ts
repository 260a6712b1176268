/**
 * What the page tells the volunteer: the tab hidden or shown, the device on battery or charging
 * (where the Battery API exists), and the page frozen, resumed, left or restored. Hidden and
 * battery are holds the volunteer's options may turn off; freezing and leaving always hand the
 * leases back.
 *
 * @module
 */
/// <reference lib="dom" />
import type { Prefs } from "./prefs.ts";
import type { Volunteer } from "./volunteer.ts";

/** What the Battery API says, or that it is missing. */
export type Power = "unknown" | "unsupported" | "charging" | "battery";

interface BatteryManager extends EventTarget {
  charging: boolean;
}

export interface PageWatch {
  /** Applies changed options to the holds. */
  refresh(prefs: Prefs): void;
  /** What the Battery API says now (the page reads it on its tick). */
  power(): Power;
  stop(): void;
}

/**
 * Wires the page's events to the volunteer's holds.
 *
 * @example
 * ```ts
 * const watch = watchPage(volunteer, prefs);
 * watch.refresh({ ...prefs, pauseWhenHidden: false });
 * ```
 */
export function watchPage(volunteer: Volunteer, initial: Prefs): PageWatch {
  let prefs = initial;
  let battery: BatteryManager | null = null;
  let power: Power = "unknown";

  const apply = () => {
    volunteer.hold("hidden", prefs.pauseWhenHidden && document.visibilityState === "hidden");
    volunteer.hold("battery", prefs.pauseOnBattery && battery !== null && !battery.charging);
  };
  const onBattery = () => {
    power = battery!.charging ? "charging" : "battery";
    apply();
  };
  const onFreeze = () => volunteer.freeze();
  const onResume = () => volunteer.thaw();
  const onPageShow = (e: PageTransitionEvent) => {
    if (e.persisted) volunteer.thaw();
  };

  document.addEventListener("visibilitychange", apply);
  document.addEventListener("freeze", onFreeze);
  document.addEventListener("resume", onResume);
  globalThis.addEventListener("pagehide", onFreeze);
  globalThis.addEventListener("pageshow", onPageShow);

  const getBattery = (navigator as { getBattery?: () => Promise<BatteryManager> }).getBattery;
  if (getBattery) {
    getBattery.call(navigator).then((b) => {
      battery = b;
      b.addEventListener("chargingchange", onBattery);
      onBattery();
    }, () => {
      power = "unsupported";
    });
  } else {
    power = "unsupported";
  }
  apply();

  return {
    refresh(next) {
      prefs = next;
      apply();
    },
    power: () => power,
    stop() {
      document.removeEventListener("visibilitychange", apply);
      document.removeEventListener("freeze", onFreeze);
      document.removeEventListener("resume", onResume);
      globalThis.removeEventListener("pagehide", onFreeze);
      globalThis.removeEventListener("pageshow", onPageShow);
      battery?.removeEventListener("chargingchange", onBattery);
    },
  };
}
