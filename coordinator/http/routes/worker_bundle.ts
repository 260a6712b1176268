/**
 * The worker a volunteer runs without a clone (`deno run -A http://HOST:8787/worker.js`):
 * `GET /worker.js`, a small stable loader; `GET /api/worker`, the current version
 * ({@link WorkerRelease}); `GET /worker/<sha>.js`, the bundle, immutable. All public. The bundle
 * is built on first request (a second or two) and kept for the coordinator's life.
 *
 * @module
 */
import { Hono } from "hono";
import type { Logger } from "../../../shared/logger.ts";
import { PROTOCOL_VERSION, type WorkerRelease } from "../../../shared/protocol.ts";
import {
  buildWorkerBundle,
  WORKER_LOADER,
  type WorkerBundle,
} from "../../worker_bundle/build_worker_bundle.ts";
import { ApiFailure } from "../errors.ts";

const JS = "text/javascript; charset=utf-8";

/**
 * The routes, to mount at the root.
 *
 * @example
 * ```ts
 * app.route("/", workerBundleRoutes(log));
 * ```
 */
export function workerBundleRoutes(log: Logger, build = buildWorkerBundle): Hono {
  let pending: Promise<WorkerBundle> | null = null;
  const current = () => {
    pending ??= build().catch((e) => {
      pending = null; // a later request tries again
      log.error("cannot bundle the worker", { error: String(e) });
      throw new ApiFailure("internal", "the worker bundle could not be built");
    });
    return pending;
  };
  const app = new Hono();
  app.get("/worker.js", function workerLoader(c) {
    return c.body(WORKER_LOADER, 200, { "content-type": JS, "cache-control": "no-cache" });
  });
  app.get("/api/worker", async function workerRelease(c) {
    const { version } = await current();
    const release: WorkerRelease = {
      version,
      url: `/worker/${version}.js`,
      protocol: PROTOCOL_VERSION,
    };
    return c.json(release, 200, { "cache-control": "no-cache" });
  });
  app.get("/worker/:file", async function workerBundle(c) {
    const bundle = await current();
    if (c.req.param("file") !== `${bundle.version}.js`) {
      throw new ApiFailure("not_found", `no worker bundle ${c.req.param("file")}`);
    }
    return c.body(bundle.bytes as Uint8Array<ArrayBuffer>, 200, {
      "content-type": JS,
      "cache-control": "public, max-age=31536000, immutable",
    });
  });
  return app;
}
