/**
 * The donate page: the Vite app in `web-worker/` (with the shared worker core and the handlers it
 * bundles), built into `dist/donate/` by `deno task build` like the dashboard and served at `/`,
 * its files under `/assets/`; the same app as a small box at `/embed`, and `/embed.js`, the one
 * tag other sites add to show that box in an iframe.
 *
 * @module
 */
import { Hono } from "hono";
import { fileURLToPath } from "node:url";
import type { Logger } from "../../shared/logger.ts";
import { serveViteApp, UI_SOURCE, type ViteApp, viteApp } from "./assets.ts";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** The donate page, rebuilt when its sources, the shared code, the handlers or ui/ change. */
export const donateApp: ViteApp = viteApp({
  name: "donate page",
  source: here("../../web-worker/"),
  alsoWatch: [here("../../shared/"), here("../../handlers/"), UI_SOURCE],
  dist: here("../../dist/donate/"),
});

/**
 * Serves the donate page at `/`, the embed box at `/embed`, its script at `/embed.js` and their
 * hashed files at `/assets/*`; mount at the root. Nothing else is claimed, so unknown paths keep
 * the API's 404. No framing headers: being framed by other sites is what `/embed` is for, and
 * nothing runs in it before the visitor presses Start there.
 *
 * @example
 * ```ts
 * app.route("/", donateRoutes(log));
 * ```
 */
export function donateRoutes(log: Logger): Hono {
  const app = new Hono();
  app.get("/", function donatePage(c) {
    return serveViteApp(c, donateApp, log, "");
  });
  app.get("/embed", function embedBox(c) {
    return serveViteApp(c, donateApp, log, "");
  });
  app.get("/embed.js", function embedScript(c) {
    return serveViteApp(c, donateApp, log, "embed.js");
  });
  app.get("/assets/*", function donateAsset(c) {
    return serveViteApp(c, donateApp, log, c.req.path.slice(1));
  });
  return app;
}
