/**
 * The client SDK for projects outside this repository, built by `deno task build` (which `deno
 * task start` runs first) into `dist/client/` and served by the coordinator:
 *
 * - `GET /client.js`: `shared/client.ts` and zod in one ES module (`deno bundle`), for Deno
 *   (`import { createClient } from "http://HOST:8787/client.js"`) and browsers.
 * - `GET /client.tgz`: an npm package of that module with its `.d.ts` types, for Node:
 *   `npm install http://HOST:8787/client.tgz`. The types name zod's, so zod's declaration files
 *   ride inside the tarball as a bundled dependency (nothing is fetched from a registry; at run
 *   time zod is in the bundle).
 *
 * Both are answered with a strong ETag (their SHA-256) and revalidated by clients; `client.js`
 * gzipped (made once per build) to clients that accept it.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { fileURLToPath } from "node:url";
import { createTarGzip } from "nanotar";
import type { Logger } from "../../shared/logger.ts";
import { fingerprintSources, type ViteApp } from "./assets.ts";
import { VERSION } from "./routes/meta.ts";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const REPO = here("../../");
const SHARED = here("../../shared/");
export const CLIENT_DIST = here("../../dist/client/");
const ENTRY = "client.ts";
const STAMP = ".build-stamp";
/** The npm package's name: `import { createClient } from "@tessera/client"`. */
export const CLIENT_PACKAGE = "@tessera/client";

/**
 * The files whose declarations the package ships, relative to `shared/`: the entry and those its
 * declaration still imports (`deno bundle --declaration` inlines the rest). The build checks that
 * every relative import of every declaration is among them.
 */
const DECLARED = [ENTRY, "client/errors.ts", "protocol.ts"];

/** Relative `.ts` specifiers a declaration file imports, as paths relative to `shared/`. */
function relativeImports(dts: string, from: string): string[] {
  const dir = from.includes("/") ? from.replace(/[^/]*$/, "") : "";
  return [...dts.matchAll(/from\s+"(\.{1,2}\/[^"]+\.ts)"/g)].map((m) =>
    new URL(m[1]!, `file:///${dir}`).pathname.slice(1)
  );
}

/**
 * Writes into `out` the bundle of `shared/client.ts` (`client.js`, minified) and the
 * declarations of `DECLARED` at their paths (`client.d.ts`, `protocol.d.ts`, `client/…`), their
 * imports pointed at `.js` (TypeScript maps those to the `.d.ts` beside them). One `deno bundle`
 * run: emitting declarations starts TypeScript, which costs most of the build's time.
 */
async function buildBundle(out: string): Promise<string[]> {
  const scratch = await Deno.makeTempDir({ prefix: "tessera-client-bundle-" });
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--minify",
        "--declaration",
        "--outdir",
        scratch,
        ...DECLARED.map((f) => `${SHARED}${f}`),
      ],
      cwd: REPO,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(`deno bundle shared/${ENTRY} failed:\n${new TextDecoder().decode(stderr)}`);
    }
    await Deno.rename(`${scratch}/client.js`, `${out}/client.js`);
    const declared = DECLARED.map((f) => f.replace(/\.ts$/, ".d.ts"));
    for (const [i, file] of DECLARED.entries()) {
      // Declarations land in --outdir by base name; they go back to their source's path.
      const text = await Deno.readTextFile(
        `${scratch}/${file.replace(/^.*\//, "").replace(/\.ts$/, ".d.ts")}`,
      );
      const missing = relativeImports(text, file).filter((f) => !DECLARED.includes(f));
      if (missing.length > 0) {
        throw new Error(`the client's declarations import ${missing.join(", ")}: add to DECLARED`);
      }
      const dts = `${out}/${declared[i]}`;
      await Deno.mkdir(dts.replace(/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(dts, text.replace(/(from\s+"\.{1,2}\/[^"]+)\.ts"/g, '$1.js"'));
    }
    return declared;
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

/** zod's package.json and declaration files: what the package's types need of it. */
async function zodDeclarations(): Promise<{ version: string; files: Map<string, Uint8Array> }> {
  const root = await Deno.realPath(`${REPO}node_modules/zod`);
  const files = new Map<string, Uint8Array>();
  const walk = async (dir: string, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory && e.name !== "src") await walk(`${dir}/${e.name}`, `${rel}${e.name}/`);
      else if (
        e.isFile && (/\.d\.c?ts$/.test(e.name) || (rel === "" && e.name === "package.json"))
      ) {
        files.set(`${rel}${e.name}`, await Deno.readFile(`${dir}/${e.name}`));
      }
    }
  };
  await walk(root, "");
  const version = JSON.parse(new TextDecoder().decode(files.get("package.json"))).version;
  return { version, files };
}

/** The npm package (`package/…` inside, as npm expects), gzipped; the same bytes for the same files. */
async function buildPackage(out: string, declarations: string[]): Promise<void> {
  const zod = await zodDeclarations();
  const manifest = {
    name: CLIENT_PACKAGE,
    version: VERSION,
    description: "The Tessera client SDK: submit tasks and jobs to a Tessera coordinator",
    type: "module",
    main: "./client.js",
    types: "./client.d.ts",
    exports: { ".": { types: "./client.d.ts", default: "./client.js" } },
    // Only for the types: at run time zod is inside client.js.
    dependencies: { zod: zod.version },
    bundleDependencies: ["zod"],
    engines: { node: ">=18" },
  };
  const files = [
    { name: "package/package.json", data: JSON.stringify(manifest, null, 2) + "\n" },
    { name: "package/client.js", data: await Deno.readFile(`${out}/client.js`) },
    ...await Promise.all(
      declarations.map(async (d) => ({
        name: `package/${d}`,
        data: await Deno.readFile(`${out}/${d}`),
      })),
    ),
    ...[...zod.files].sort(([a], [b]) => a < b ? -1 : 1).map(([name, data]) => ({
      name: `package/node_modules/zod/${name}`,
      data,
    })),
  ];
  // A fixed time and owner make the tarball (and so its ETag) depend on the files alone.
  const tgz = await createTarGzip(files, {
    attrs: { mode: "644", mtime: Date.UTC(2000, 0, 1), uid: 0, gid: 0 },
  });
  await Deno.writeFile(`${out}/client.tgz`, tgz);
}

async function isFresh(fp?: string): Promise<boolean> {
  const stamp = await Deno.readTextFile(`${CLIENT_DIST}${STAMP}`).catch(() => null);
  return stamp !== null && stamp.trim() === (fp ?? await fingerprintSources([SHARED]));
}

/**
 * The client bundle and package as a build of `deno task build`: rebuilt when `shared/` or
 * `deno.lock` changed. Built into a temporary folder and swapped in whole.
 */
export const clientBundle: ViteApp = {
  name: "client SDK",
  dist: CLIENT_DIST,
  fingerprint: () => fingerprintSources([SHARED]),
  isFresh,
  async build(options = {}) {
    const fp = await fingerprintSources([SHARED]);
    if (!options.force && await isFresh(fp)) return false;
    options.log?.info(`bundling the client SDK into ${CLIENT_DIST}`);
    const out = CLIENT_DIST.replace(/\/+$/, "");
    const parent = out.replace(/[^/]*$/, "");
    await Deno.mkdir(parent, { recursive: true });
    const id = crypto.randomUUID().slice(0, 8);
    const temp = `${parent}.client-${id}`;
    const old = `${parent}.client-old-${id}`;
    try {
      await Deno.mkdir(temp);
      await buildPackage(temp, await buildBundle(temp));
      await Deno.writeTextFile(`${temp}/${STAMP}`, fp);
      const hadOld = await Deno.rename(out, old).then(() => true, () => false);
      await Deno.rename(temp, out);
      if (hadOld) await Deno.remove(old, { recursive: true });
    } finally {
      await Deno.remove(temp, { recursive: true }).catch(() => {});
    }
    return true;
  },
};

interface Served {
  mtime: number;
  body: Uint8Array<ArrayBuffer>;
  etag: string;
  /** The body gzipped, made on first demand (the tarball is gzip already). */
  gzip?: Promise<Uint8Array<ArrayBuffer>>;
}
const served = new Map<string, Served>();

/** A built file with its ETag, read again only when the build changed it. */
async function readServed(file: string): Promise<Served | null> {
  const path = `${CLIENT_DIST}${file}`;
  const info = await Deno.stat(path).catch(() => null);
  if (!info) return null;
  const mtime = info.mtime?.getTime() ?? 0;
  const known = served.get(file);
  if (known && known.mtime === mtime) return known;
  const body = await Deno.readFile(path);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  const hex = [...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const entry: Served = { mtime, body, etag: `"${hex}"` };
  served.set(file, entry);
  return entry;
}

const gzipped = (body: Uint8Array<ArrayBuffer>) =>
  new Response(new Blob([body]).stream().pipeThrough(new CompressionStream("gzip"))).bytes();

let warnedUnbuilt = false;

async function serveBuilt(c: Context, log: Logger, file: string, type: string, compress: boolean) {
  const entry = await readServed(file);
  if (!entry) {
    const hint = "The client SDK is not built: run `deno task build` (`deno task start` does).";
    if (!warnedUnbuilt) log.warn(hint, { dist: CLIENT_DIST });
    warnedUnbuilt = true;
    return c.text(`${hint}\n`, 503);
  }
  // The gzipped body is another representation, so it has an ETag of its own.
  const gzip = compress && /\bgzip\b/.test(c.req.header("accept-encoding") ?? "");
  const etag = gzip ? entry.etag.replace(/"$/, '-gz"') : entry.etag;
  const headers: Record<string, string> = {
    etag,
    // Revalidated on every use: a coordinator upgrade must reach clients at once.
    "cache-control": "public, no-cache",
    "access-control-allow-origin": "*",
    "x-content-type-options": "nosniff",
    ...(compress ? { vary: "accept-encoding" } : {}),
  };
  const asked = c.req.header("if-none-match")?.split(",").map((t) => t.trim().replace(/^W\//, ""));
  if (asked?.includes(etag) || asked?.includes("*")) return c.body(null, 304, headers);
  if (!gzip) return c.body(entry.body, 200, { ...headers, "content-type": type });
  entry.gzip ??= gzipped(entry.body);
  return c.body(await entry.gzip, 200, {
    ...headers,
    "content-type": type,
    "content-encoding": "gzip",
  });
}

/**
 * Serves `/client.js` and `/client.tgz`; mount at the root. Public: the SDK is no secret, the
 * API behind it asks for keys.
 *
 * @example
 * ```ts
 * app.route("/", clientRoutes(log));
 * ```
 */
export function clientRoutes(log: Logger): Hono {
  const app = new Hono();
  app.get("/client.js", function clientModule(c) {
    return serveBuilt(c, log, "client.js", "text/javascript; charset=utf-8", true);
  });
  app.get("/client.tgz", function clientPackage(c) {
    return serveBuilt(c, log, "client.tgz", "application/gzip", false);
  });
  return app;
}
