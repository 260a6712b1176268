/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The donate page's entry point: the volunteer (idle until Start), the page's signals, the app.
 *
 * @module
 */
import { render } from "preact";
import { handlerTypes } from "../../handlers/mod.ts";
import { App } from "./app.tsx";
import { watchPage } from "./page_signals.ts";
import { donorId, loadPrefs, newWorkerId } from "./prefs.ts";
import { createVolunteer } from "./volunteer.ts";
import "./style.css";

const prefs = loadPrefs();
const donor = donorId();
// Opened over plain HTTP from another machine, the page is not a secure context and has no
// `crypto.subtle`, which hash.search needs: leave that type to others.
const types = globalThis.isSecureContext
  ? undefined
  : handlerTypes.filter((t) => t !== "hash.search");
const volunteer = createVolunteer({
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

render(
  <App volunteer={volunteer} watch={watch} initialPrefs={prefs} />,
  document.getElementById("app")!,
);
