/**
 * The browser apps' files: each is a Vite project (the dashboard in `dashboard/`, the donate page
 * in `web-worker/`) built into `dist/<name>/` by `deno task build` (which `deno task start` runs
 * first) when the build is missing or older than its sources, then served by the coordinator. A
 * request never builds: the coordinator process does not even load Vite.
 *
 * Freshness is a fingerprint of every source file's path, size and modification time (and of
 * `deno.lock`, which pins Vite and the libraries), written next to the build. A build goes to a
 * temporary folder and is swapped in whole, so a reader never sees half of one.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { fileURLToPath } from "node:url";
import type { Logger } from "../../shared/logger.ts";

export const DASHBOARD_SOURCE = fileURLToPath(new URL("../../dashboard/", import.meta.url));
export const DASHBOARD_DIST = fileURLToPath(new URL("../../dist/dashboard/", import.meta.url));
/** What the dashboard and the donate page share: theme tokens, base CSS, the theme hook. */
export const UI_SOURCE = fileURLToPath(new URL("../../ui/", import.meta.url));
const LOCK_FILE = fileURLToPath(new URL("../../deno.lock", import.meta.url));
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

export interface ViteAppOptions {
  /** Names the build in log lines, errors and temporary folders: `dashboard`. */
  name: string;
  /** The Vite project folder (with `index.html` and `vite.config.ts`), ending in `/`. */
  source: string;
  /** Other folders bundled into the app (shared code), watched for changes too. @default [] */
  alsoWatch?: string[];
  /** Where the build goes, ending in `/`. */
  dist: string;
}

export interface BuildViteAppOptions {
  /** Build even when the last build is fresh. @default {false} */
  force?: boolean;
  /** Told (one line) when a build starts. */
  log?: Logger;
}

/** One browser app: its fingerprint, build and files. */
export interface ViteApp {
  readonly name: string;
  readonly dist: string;
  /** Changes when any source file is added, removed or edited. */
  fingerprint(): Promise<string>;
  /** Whether `dist` holds a build of the current sources. */
  isFresh(fingerprint?: string): Promise<boolean>;
  /** Builds with Vite's JS API when missing or stale; resolves with whether it built. */
  build(options?: BuildViteAppOptions): Promise<boolean>;
}

/**
 * Describes a Vite app built on demand.
 *
 * @example
 * ```ts
 * const donate = viteApp({ name: "donate", source: "/repo/web-worker/", dist: "/repo/dist/donate/" });
 * await donate.build({ log }); // false when dist/donate/ is up to date
 * ```
 */
export function viteApp(options: ViteAppOptions): ViteApp {
  const { name, source, dist } = options;
  const watched = [source, ...(options.alsoWatch ?? [])];

  const fingerprint = () => fingerprintSources(watched);

  async function isFresh(fp?: string): Promise<boolean> {
    const stamp = await Deno.readTextFile(`${dist}${STAMP}`).catch(() => null);
    return stamp !== null && stamp.trim() === (fp ?? await fingerprint());
  }

  async function build(buildOptions: BuildViteAppOptions = {}): Promise<boolean> {
    const fp = await fingerprint();
    if (!buildOptions.force && await isFresh(fp)) return false;
    const out = dist.replace(/\/+$/, "");
    const parent = out.replace(/[^/]*$/, "");
    const base = out.slice(parent.length);
    buildOptions.log?.info(`building the ${name} with Vite into ${out}/`);
    const { build } = await import("vite");
    await Deno.mkdir(parent, { recursive: true });
    const id = crypto.randomUUID().slice(0, 8);
    const temp = `${parent}.${base}-${id}`;
    const old = `${parent}.${base}-old-${id}`;
    try {
      await build({
        root: source,
        configFile: `${source}vite.config.ts`,
        logLevel: "warn",
        build: { outDir: temp, emptyOutDir: true },
      });
      await Deno.writeTextFile(`${temp}/${STAMP}`, fp);
      const hadOld = await Deno.rename(out, old).then(() => true, () => false);
      await Deno.rename(temp, out);
      if (hadOld) await Deno.remove(old, { recursive: true });
    } finally {
      await Deno.remove(temp, { recursive: true }).catch(() => {});
    }
    return true;
  }

  return { name, dist, fingerprint, isFresh, build };
}

/**
 * A fingerprint of every file's path, size and modification time under `folders` (and of
 * `deno.lock`, which pins the libraries a build bundles): it changes when a file is added,
 * removed or edited.
 *
 * @example
 * ```ts
 * const fp = await fingerprintSources(["/repo/shared/"]);
 * ```
 */
export async function fingerprintSources(folders: readonly string[]): Promise<string> {
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
  for (const [i, dir] of folders.entries()) await walk(dir, i === 0 ? "" : `+${i}/`);
  parts.push(await describe(LOCK_FILE, "deno.lock").catch(() => "deno.lock:none"));
  const bytes = new TextEncoder().encode(parts.join("\n"));
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function describe(path: string, name: string): Promise<string> {
  const info = await Deno.stat(path);
  return `${name}:${info.size}:${info.mtime?.getTime() ?? 0}`;
}

/** Told once per app and process when its build is missing, so the log says what to run. */
const warnedUnbuilt = new Set<string>();

/**
 * Answers with one built file of `app` (`rel` is relative to its `dist`; `""` or a path without
 * an extension is the page). Hashed assets are cached for good; the page itself is revalidated.
 * Without a build: 503, naming the command that makes one.
 *
 * @example
 * ```ts
 * routes.get("/", (c) => serveViteApp(c, donate, log, ""));
 * ```
 */
export async function serveViteApp(
  c: Context,
  app: ViteApp,
  log: Logger,
  rel: string,
): Promise<Response> {
  const built = await Deno.stat(`${app.dist}index.html`).then(() => true, () => false);
  if (!built) {
    const hint =
      `The ${app.name} is not built: run \`deno task build\` (\`deno task start\` does).`;
    if (!warnedUnbuilt.has(app.dist)) log.warn(hint, { dist: app.dist });
    warnedUnbuilt.add(app.dist);
    return c.text(`${hint}\n`, 503);
  }
  let path: string;
  try {
    path = decodeURIComponent(rel);
  } catch {
    return c.text("bad path\n", 400);
  }
  const segments = path.split("/");
  if (segments.some((s) => s === ".." || s.startsWith("."))) return c.text("not found\n", 404);
  const ext = path.match(/\.([a-z0-9]+)$/i)?.[1]?.toLowerCase();
  const file = path === "" || !ext ? "index.html" : path;
  const body = await Deno.readFile(`${app.dist}${file}`).catch(() => null);
  if (!body) return c.text("not found\n", 404);
  const type = CONTENT_TYPES[file.split(".").pop()!.toLowerCase()] ?? "application/octet-stream";
  return c.body(body, 200, {
    "content-type": type,
    "cache-control": file.startsWith("assets/")
      ? "public, max-age=31536000, immutable"
      : "no-cache",
    "x-content-type-options": "nosniff",
  });
}

/** The live dashboard. */
export const dashboardApp: ViteApp = viteApp({
  name: "dashboard",
  source: DASHBOARD_SOURCE,
  alsoWatch: [UI_SOURCE],
  dist: DASHBOARD_DIST,
});

/**
 * Serves the built dashboard; mount at `/dashboard`. Unknown paths without an extension get the
 * page (client-side routes).
 *
 * @example
 * ```ts
 * app.route("/dashboard", dashboardRoutes(log));
 * ```
 */
export function dashboardRoutes(log: Logger): Hono {
  const app = new Hono();
  app.get("/*", function dashboard(c) {
    if (c.req.path === "/dashboard") return c.redirect("/dashboard/", 308);
    return serveViteApp(c, dashboardApp, log, c.req.path.slice("/dashboard/".length));
  });
  return app;
}
