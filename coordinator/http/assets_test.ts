import assert from "node:assert/strict";
import { Hono } from "hono";
import { createLogger } from "../../shared/logger.ts";
import { serveViteApp, viteApp } from "./assets.ts";

/** A throwaway app: a source folder with one page, and a dist folder that does not exist yet. */
async function tempApp() {
  const root = await Deno.makeTempDir({ prefix: "tessera-assets-" });
  await Deno.mkdir(`${root}/src`);
  await Deno.writeTextFile(`${root}/src/index.html`, "<!doctype html><p>source</p>");
  const app = viteApp({ name: "test app", source: `${root}/src/`, dist: `${root}/dist/` });
  const routes = new Hono();
  const log = createLogger({ level: "error" });
  routes.get("/*", (c) => serveViteApp(c, app, log, c.req.path.slice(1)));
  return {
    root,
    app,
    get: (path: string) => routes.request(`http://x/${path}`),
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

Deno.test("serveViteApp() answers 503 naming `deno task build` when the app is not built, and builds nothing", async () => {
  await using t = await tempApp();
  const res = await t.get("");
  assert.equal(res.status, 503);
  assert.match(await res.text(), /deno task build/);
  const dist = await Deno.stat(`${t.root}/dist`).then(() => true, () => false);
  assert.equal(dist, false, "a request never starts a build");
});

Deno.test("serveViteApp() serves the build it finds, stale or not, without building", async () => {
  await using t = await tempApp();
  await Deno.mkdir(`${t.root}/dist/assets`, { recursive: true });
  await Deno.writeTextFile(`${t.root}/dist/index.html`, "<!doctype html><p>built</p>");
  await Deno.writeTextFile(`${t.root}/dist/assets/app-1a2b.js`, "export {};");
  const page = await t.get("");
  assert.equal(page.status, 200);
  assert.match(await page.text(), /built/);
  assert.equal(page.headers.get("cache-control"), "no-cache");
  const js = await t.get("assets/app-1a2b.js");
  assert.equal(js.status, 200);
  assert.match(js.headers.get("cache-control")!, /immutable/);
  await js.body?.cancel();
  const missing = await t.get("assets/nope.js");
  await missing.body?.cancel();
  assert.equal(missing.status, 404);
});

Deno.test("viteApp().isFresh() holds for the stamped sources and turns false when one changes", async () => {
  await using t = await tempApp();
  assert.equal(await t.app.isFresh(), false, "no build yet");
  await Deno.mkdir(`${t.root}/dist`);
  await Deno.writeTextFile(`${t.root}/dist/.build-stamp`, await t.app.fingerprint());
  assert.equal(await t.app.isFresh(), true);
  await Deno.writeTextFile(`${t.root}/src/index.html`, "<!doctype html><p>edited, longer</p>");
  assert.equal(await t.app.isFresh(), false);
});
