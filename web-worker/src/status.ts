/**
 * The status line: what the volunteer is doing, in words, and how it is kept steady.
 *
 * Two things made it flicker. "Running" meant "a thread is busy at this instant", so between two
 * short tasks it said "waiting for work" several times a second; now the page is running while
 * a thread has computed (or rested for the CPU share) within {@link ACTIVE_MS} or holds a task,
 * and a page that has just started is "Connecting…" until its threads have loaded and the first
 * tasks had {@link ACTIVE_MS} to arrive. And every change
 * was shown at once, so a socket that dropped and came back in a moment said "Reconnecting…"
 * for a frame; now a change the volunteer did not make is shown only once it has held for
 * {@link SETTLE_MS}. What the volunteer does (Start, Pause, a hold such as the tab hidden) is
 * shown at once. The status is an aria-live region, so each change is also read aloud: it must
 * change only when the state does.
 *
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { Hold, VolunteerSnapshot } from "./volunteer.ts";

/** Work seen this recently still counts as running. */
export const ACTIVE_MS = 3_000;
/** How long a change the volunteer did not make must hold before it is shown. */
export const SETTLE_MS = 1_000;

export type Tone = "idle" | "running" | "waiting" | "paused" | "reconnecting";

export interface StatusView {
  tone: Tone;
  title: string;
  detail: string;
}

const HOLD_TEXT: Record<Hold, string> = {
  user: "you paused it",
  hidden: "this tab is hidden",
  battery: "this device is on battery power",
  frozen: "the page is in the background",
};

/** The status the snapshot implies right now, before it is steadied. */
export function statusOf(s: VolunteerSnapshot): StatusView {
  if (s.phase === "stopped") {
    return {
      tone: "idle",
      title: "Ready when you are",
      detail: "Press Start to lend this device's spare processor time to the grid.",
    };
  }
  if (s.phase === "paused") {
    const why = s.holds.map((h) => HOLD_TEXT[h]);
    const list = why.length > 1 ? `${why.slice(0, -1).join(", ")} and ${why.at(-1)}` : why[0];
    return {
      tone: "paused",
      title: "Paused",
      detail: s.holds.includes("user")
        ? "Paused by you. Nothing runs, and tasks in progress were handed back."
        : `Because ${list}. It resumes by itself when that changes.`,
    };
  }
  const connecting = {
    tone: "reconnecting",
    title: "Connecting…",
    detail: "Reaching the coordinator and getting this page's workers ready.",
  } as const;
  if (s.link === "connecting" || s.link === "offline") return connecting;
  if (s.link !== "open") {
    return {
      tone: "reconnecting",
      title: "Reconnecting…",
      detail: "The coordinator is unreachable right now. This page keeps trying by itself.",
    };
  }
  // Nothing computed (or rested) lately, and no task handed to a thread.
  const idle = s.idleMs >= ACTIVE_MS && s.running.length === 0;
  // Just started: the threads load, the first leases are on their way. Still getting ready, not
  // yet "waiting for work", unless nothing comes for a while.
  if (idle && (s.warmingUp || (s.sinceStartMs < ACTIVE_MS && s.idleMs > s.sinceStartMs))) {
    return connecting;
  }
  if (idle) {
    return {
      tone: "waiting",
      title: "Running, waiting for work",
      detail: "Connected. Tasks start here the moment the grid has some.",
    };
  }
  const each = s.duty < 100 ? `, each at most ${s.duty} % of the time` : "";
  return {
    tone: "running",
    title: "Running",
    detail: `Computing on ${s.workers} worker${s.workers === 1 ? "" : "s"}${each}. Thank you!`,
  };
}

/**
 * The status to show: {@link statusOf}, steadied as the module comment says.
 *
 * @example
 * ```ts
 * const view = useSteadyStatus(snapshot);
 * <h2>{view.title}</h2>
 * ```
 */
export function useSteadyStatus(s: VolunteerSnapshot): StatusView {
  const raw = statusOf(s);
  // What the volunteer did, or a hold they asked for: shown at once.
  const cause = `${s.phase}:${s.holds.join(",")}`;
  const [shown, setShown] = useState<{ view: StatusView; cause: string }>({ view: raw, cause });
  const timer = useRef<{ key: string; id: ReturnType<typeof setTimeout> } | null>(null);
  const key = `${raw.tone}\u0001${raw.title}\u0001${raw.detail}`;
  const shownKey = `${shown.view.tone}\u0001${shown.view.title}\u0001${shown.view.detail}`;
  const now = cause !== shown.cause || raw.tone === shown.view.tone;

  useEffect(() => {
    if (key === shownKey && cause === shown.cause) {
      if (timer.current) clearTimeout(timer.current.id);
      timer.current = null;
      return;
    }
    if (now) {
      if (timer.current) clearTimeout(timer.current.id);
      timer.current = null;
      setShown({ view: raw, cause });
      return;
    }
    // Wait for it to hold; a different raw state starts the wait again.
    if (timer.current?.key === key) return;
    if (timer.current) clearTimeout(timer.current.id);
    const view = raw;
    timer.current = {
      key,
      id: setTimeout(() => {
        timer.current = null;
        setShown({ view, cause });
      }, SETTLE_MS),
    };
  }, [key, cause, shownKey, now]);

  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current.id);
  }, []);
  return now ? raw : shown.view;
}
