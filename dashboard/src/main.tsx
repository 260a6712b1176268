/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The dashboard's entry point: mounts the app.
 *
 * @module
 */
import { render } from "preact";
import { App } from "./app.tsx";
import "./style.css";

render(<App />, document.getElementById("app")!);
