/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The donate page's entry point: the volunteer (idle until Start, or started at once when the
 * volunteer chose "start automatically"), the page's signals, and the app: the full page at `/`,
 * the small box other sites embed at `/embed`.
 *
 * @module
 */
import { render } from "preact";
import { createHandlerSource, KeyChangedError } from "../../shared/worker/handler_source.ts";
import { App } from "./app.tsx";
import { EmbedApp } from "./embed_app.tsx";
import { watchPage } from "./page_signals.ts";
import { donorId, loadPrefs, newWorkerId } from "./prefs.ts";
import { createVolunteer } from "./volunteer.ts";
import "./style.css";

/** Coordinator keys pinned on first use, per origin (PACKS_SPEC). */
const KEYS = "tessera.donate.coordinatorKeys";
const keys = (): Record<string, string> => {
  try {
    return JSON.parse(localStorage.getItem(KEYS) ?? "{}");
  } catch {
    return {};
  }
};
const source = createHandlerSource({
  origin: location.origin,
  keyStore: {
    get: (origin) => keys()[origin] ?? null,
    set: (origin, key) => localStorage.setItem(KEYS, JSON.stringify({ ...keys(), [origin]: key })),
  },
});

// The grid's task types come from its manifest, whose key is checked (and pinned) first.
let gridTypes: string[] | null = null;
try {
  gridTypes = (await source.manifest()).handlers.map((h) => h.type);
} catch (e) {
  if (e instanceof KeyChangedError) {
    const app = document.getElementById("app")!;
    app.innerHTML = '<p class="error" data-testid="key-error"></p>';
    app.firstElementChild!.textContent = e.message;
    throw e;
  }
  // Unreachable for now: the page starts anyway, and loads each handler when a task needs it.
}

const prefs = loadPrefs();
const donor = donorId();
// Opened over plain HTTP from another machine, the page is not a secure context and has no
// `crypto.subtle`, which hash.search needs: leave that type to others.
const types = globalThis.isSecureContext || !gridTypes
  ? undefined
  : gridTypes.filter((t) => t !== "hash.search");
const volunteer = createVolunteer({
  source,
  url: location.origin,
  // Each task thread is a module Web Worker running the shared task thread and the handlers.
  spawn: () => new Worker(new URL("./task_thread.ts", import.meta.url), { type: "module" }),
  donorId: donor,
  workerId: newWorkerId(donor),
  workers: prefs.workers,
  duty: prefs.duty,
  types,
});
const watch = watchPage(volunteer, prefs);
// Their own opt-in, ticked on an earlier visit: the consent a press of Start gives otherwise.
if (prefs.autoStart) volunteer.start();

const embedded = location.pathname.replace(/\/+$/, "") === "/embed";
if (embedded) {
  document.documentElement.classList.add("embedded");
  // The embedding site may fix the box's theme: `/embed?theme=light` (or dark).
  const theme = new URLSearchParams(location.search).get("theme");
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
}
const Root = embedded ? EmbedApp : App;
render(
  <Root volunteer={volunteer} watch={watch} initialPrefs={prefs} />,
  document.getElementById("app")!,
);
