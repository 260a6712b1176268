/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The donate page's entry point: the volunteer (idle until Start), the page's signals, the app.
 *
 * @module
 */
import { render } from "preact";
import { App } from "./app.tsx";
import { watchPage } from "./page_signals.ts";
import { donorId, loadPrefs, newWorkerId } from "./prefs.ts";
import { createVolunteer } from "./volunteer.ts";
import "./style.css";

const prefs = loadPrefs();
const donor = donorId();
const volunteer = createVolunteer({
  url: location.origin,
  // Each task thread is a module Web Worker running the shared task thread and the handlers.
  spawn: () => new Worker(new URL("./task_thread.ts", import.meta.url), { type: "module" }),
  donorId: donor,
  workerId: newWorkerId(donor),
  workers: prefs.workers,
  duty: prefs.duty,
});
const watch = watchPage(volunteer, prefs);

render(
  <App volunteer={volunteer} watch={watch} initialPrefs={prefs} />,
  document.getElementById("app")!,
);
