/**
 * The handler registry over HTTP: the signed manifest, any stored version's entry, the admin
 * reload, and the bundle files themselves (outside `/api`: `GET /handlers/<sha>.js`, immutable).
 *
 * @module
 */
import { Hono } from "hono";
import { createRoute, z } from "@hono/zod-openapi";
import {
  ApiError,
  HandlerEntry,
  HandlerManifest,
  HandlerReload,
  HandlerVersion,
} from "../../../shared/protocol.ts";
import { ApiFailure } from "../errors.ts";
import { PackError } from "../../packs/pack_error.ts";
import type { HandlerRegistry } from "../../packs/registry.ts";
import { compress, type Compressed } from "../../packs/compress.ts";
import { type Deps, jsonResponse, refusals, router } from "./deps.ts";

export function handlerRoutes({ ctx }: Deps) {
  const app = router();
  const registry = () => {
    if (!ctx.registry) throw new ApiFailure("unavailable", "no handler registry");
    return ctx.registry;
  };

  app.openapi(
    createRoute({
      method: "get",
      path: "/handlers",
      summary: "The signed manifest: the current version of every task type",
      description: "Public: it describes the code the grid ships to volunteers. Each entry is " +
        "signed (ed25519, base64) by `publicKey` over its canonical JSON without `signature`; " +
        "`bundle` and `chunks` are served at `/handlers/<sha256>.js`.",
      security: [],
      responses: { 200: jsonResponse(HandlerManifest, "the manifest") },
    }),
    (c) => c.json(registry().manifest(), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/handlers/versions/{version}",
      summary: "One stored handler version's signed entry, current or not",
      description: "Any version still stored (tasks are pinned to the version they were " +
        "submitted against). One module may export several types under one version: `type` " +
        "picks one.",
      security: [],
      request: {
        params: z.object({ version: HandlerVersion }),
        query: z.object({ type: z.string().optional() }),
      },
      responses: {
        200: jsonResponse(HandlerEntry, "the entry"),
        400: jsonResponse(ApiError, "`validation`: not a SHA-256"),
        404: jsonResponse(ApiError, "`not_found`: no such version stored"),
      },
    }),
    async (c) => {
      const { version } = c.req.valid("param");
      const entry = await registry().entry(version, c.req.valid("query").type);
      if (!entry) throw new ApiFailure("not_found", `no handler version ${version}`, "version");
      return c.json(entry, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/handlers/reload",
      summary: "Loads this coordinator's packs again (admin)",
      description: "Bundles the `--handlers` packs again and publishes what changed to the " +
        "store; every coordinator on it follows within seconds. Queued tasks keep the version " +
        "they were submitted against. A bad file changes nothing: 422 `invalid_pack`.",
      responses: {
        200: jsonResponse(HandlerReload, "the registry's revision and the types that changed"),
        401: refusals[401],
        403: refusals[403],
        422: jsonResponse(ApiError, "`invalid_pack`: a pack file is bad; `field` names it"),
      },
    }),
    async (c) => {
      try {
        return c.json(await registry().reload(), 200);
      } catch (e) {
        if (!(e instanceof PackError)) throw e;
        ctx.log.error("handler reload failed; the previous handlers stay", { error: e.message });
        throw new ApiFailure("invalid_pack", e.message, e.file, { cause: e });
      }
    },
  );
  return app;
}

/**
 * `GET /handlers/<sha>.js`: a bundle file, compressed as the client accepts, cached forever.
 * Compressed once per file and process, off the event loop (compress.ts); gzip is served until
 * the brotli copy is ready.
 */
export function bundleRoutes(registry: () => HandlerRegistry | undefined): Hono {
  const app = new Hono();
  const packed = new Map<string, Compressed>();
  app.get("/handlers/:file{[0-9a-f]{64}\\.js}", async (c) => {
    const sha = c.req.param("file").slice(0, 64);
    const bytes = await registry()?.file(sha);
    if (!bytes) {
      const failure = new ApiFailure("not_found", `no handler bundle ${sha}`, "sha");
      return c.json(failure.toJSON(), 404);
    }
    const headers: Record<string, string> = {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "public, max-age=31536000, immutable",
      etag: `"${sha}"`,
      vary: "accept-encoding",
      // Workers and donate pages of other origins load bundles too.
      "access-control-allow-origin": "*",
    };
    if (c.req.header("if-none-match") === `"${sha}"`) return c.body(null, 304, headers);
    const accept = c.req.header("accept-encoding") ?? "";
    if (!/\b(br|gzip)\b/.test(accept) || bytes.length < 1024) {
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, headers);
    }
    let p = packed.get(sha);
    if (!p) packed.set(sha, p = compress(bytes));
    if (p.br && /\bbr\b/.test(accept)) {
      return c.body(p.br, 200, { ...headers, "content-encoding": "br" });
    }
    if (/\bgzip\b/.test(accept)) {
      return c.body(await p.gzip, 200, { ...headers, "content-encoding": "gzip" });
    }
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, headers);
  });
  return app;
}
