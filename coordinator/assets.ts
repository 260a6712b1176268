/**
 * The dashboard's files: built by Vite from `dashboard/` into `dist/dashboard/` when the build is
 * missing or older than its sources (checked once per process, on the first request for
 * `/dashboard`), then served under `/dashboard/`. Nobody needs to run a build command first;
 * `deno task build` forces one.
 *
 * Freshness is a fingerprint of every source file's path, size and modification time (and of
 * `deno.lock`, which pins Vite and the libraries), written next to the build. A build goes to a
 * temporary folder and is swapped in whole, so a reader never sees half of one.
 *
 * @module
 */
import { Hono } from "hono";
import { fileURLToPath } from "node:url";
import type { Logger } from "../shared/logger.ts";

export const DASHBOARD_SOURCE = fileURLToPath(new URL("../dashboard/", import.meta.url));
export const DASHBOARD_DIST = fileURLToPath(new URL("../dist/dashboard/", import.meta.url));
const LOCK_FILE = fileURLToPath(new URL("../deno.lock", import.meta.url));
const STAMP = ".build-stamp";

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  map: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  webp: "image/webp",
  woff2: "font/woff2",
  txt: "text/plain; charset=utf-8",
  webmanifest: "application/manifest+json",
};

/** A fingerprint of the dashboard's sources: changes when any file is added, removed or edited. */
export async function dashboardFingerprint(): Promise<string> {
  const parts: string[] = [];
  const walk = async (dir: string, rel: string) => {
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    entries.sort((a, b) => a.name < b.name ? -1 : 1);
    for (const e of entries) {
      if (e.name.startsWith(".") || e.name === "node_modules") continue;
      if (e.isDirectory) await walk(`${dir}${e.name}/`, `${rel}${e.name}/`);
      else if (e.isFile) parts.push(await describe(`${dir}${e.name}`, `${rel}${e.name}`));
    }
  };
  await walk(DASHBOARD_SOURCE, "");
  parts.push(await describe(LOCK_FILE, "deno.lock").catch(() => "deno.lock:none"));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\n")));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function describe(path: string, name: string): Promise<string> {
  const info = await Deno.stat(path);
  return `${name}:${info.size}:${info.mtime?.getTime() ?? 0}`;
}

/** Whether `dist/dashboard/` holds a build of the current sources. */
export async function dashboardIsFresh(fingerprint?: string): Promise<boolean> {
  const stamp = await Deno.readTextFile(`${DASHBOARD_DIST}${STAMP}`).catch(() => null);
  return stamp !== null && stamp.trim() === (fingerprint ?? await dashboardFingerprint());
}

export interface BuildDashboardOptions {
  /** Build even when the last build is fresh. @default {false} */
  force?: boolean;
  /** Told (one line) when a build starts. */
  log?: Logger;
}

/**
 * Builds the dashboard with Vite's JS API when it is missing or stale. Resolves with whether it
 * built.
 *
 * @example
 * ```ts
 * await buildDashboard({ log }); // false when dist/dashboard/ is up to date
 * ```
 */
export async function buildDashboard(options: BuildDashboardOptions = {}): Promise<boolean> {
  const fingerprint = await dashboardFingerprint();
  if (!options.force && await dashboardIsFresh(fingerprint)) return false;
  options.log?.info("building the dashboard with Vite (dashboard/ → dist/dashboard/)");
  const { build } = await import("vite");
  const parent = fileURLToPath(new URL("../dist/", import.meta.url));
  await Deno.mkdir(parent, { recursive: true });
  const id = crypto.randomUUID().slice(0, 8);
  const temp = `${parent}.dashboard-${id}`;
  const old = `${parent}.dashboard-old-${id}`;
  try {
    await build({
      root: DASHBOARD_SOURCE,
      configFile: `${DASHBOARD_SOURCE}vite.config.ts`,
      logLevel: "warn",
      build: { outDir: temp, emptyOutDir: true },
    });
    await Deno.writeTextFile(`${temp}/${STAMP}`, fingerprint);
    const hadOld = await Deno.rename(DASHBOARD_DIST, old).then(() => true, () => false);
    await Deno.rename(temp, DASHBOARD_DIST);
    if (hadOld) await Deno.remove(old, { recursive: true });
  } finally {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
  }
  return true;
}

let ready: Promise<unknown> | null = null;

/** Builds once per process when needed; a failed build is tried again on the next call. */
export function ensureDashboard(log?: Logger): Promise<unknown> {
  ready ??= buildDashboard(log ? { log } : {}).catch((e) => {
    ready = null;
    throw e;
  });
  return ready;
}

/**
 * Serves the built dashboard; mount at `/dashboard`. Hashed assets are cached for good; the page
 * itself is revalidated. Unknown paths without an extension get the page (client-side routes).
 *
 * @example
 * ```ts
 * app.route("/dashboard", dashboardRoutes(log));
 * ```
 */
export function dashboardRoutes(log: Logger): Hono {
  const app = new Hono();
  app.get("/*", async function dashboard(c) {
    if (c.req.path === "/dashboard") return c.redirect("/dashboard/", 308);
    try {
      await ensureDashboard(log);
    } catch (e) {
      log.error("dashboard build failed", { error: String(e) });
      return c.text(`The dashboard could not be built: ${(e as Error).message}\n`, 503);
    }
    let rel: string;
    try {
      rel = decodeURIComponent(c.req.path.slice("/dashboard/".length));
    } catch {
      return c.text("bad path\n", 400);
    }
    const segments = rel.split("/");
    if (segments.some((s) => s === ".." || s.startsWith("."))) return c.text("not found\n", 404);
    const ext = rel.match(/\.([a-z0-9]+)$/i)?.[1]?.toLowerCase();
    const file = rel === "" || !ext ? "index.html" : rel;
    const body = await Deno.readFile(`${DASHBOARD_DIST}${file}`).catch(() => null);
    if (!body) return c.text("not found\n", 404);
    const type = CONTENT_TYPES[file.split(".").pop()!.toLowerCase()] ?? "application/octet-stream";
    return c.body(body, 200, {
      "content-type": type,
      "cache-control": file.startsWith("assets/")
        ? "public, max-age=31536000, immutable"
        : "no-cache",
      "x-content-type-options": "nosniff",
    });
  });
  return app;
}

if (import.meta.main) {
  const { createLogger } = await import("../shared/logger.ts");
  const started = performance.now();
  const built = await buildDashboard({ force: Deno.args.includes("--force"), log: createLogger() });
  console.log(
    built
      ? `dashboard built in ${Math.round(performance.now() - started)} ms: ${DASHBOARD_DIST}`
      : `dashboard is up to date: ${DASHBOARD_DIST} (--force rebuilds)`,
  );
}
