/**
 * Bundles handler files with `deno bundle` into content-addressed ES modules: one entry per
 * source file and the chunks they share (zod, the contract), every file renamed to the SHA-256
 * of its bytes and every import between them rewritten to the literal `"./<sha>.js"`
 * (PACKS_SPEC.md). Chunks are hashed before the files that import them, so an entry's hash
 * covers every byte it runs.
 *
 * `deno bundle` because it resolves exactly as the coordinator does (the repo's deno.json import
 * map and lockfile, npm packages from the same cache), so a pack outside the repo that imports
 * `zod` and `tessera/handler` bundles with no config of its own, and it needs no extra package.
 *
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { digestHex } from "./digest.ts";
import { PackError } from "./pack_error.ts";

const REPO_CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const SHARED_ENTRY = fileURLToPath(new URL("./_shared_entry.ts", import.meta.url));

/** One source file's entry bundle: its version and every chunk it needs, transitively. */
export interface BundledEntry {
  version: string;
  chunks: string[];
}

export interface Bundles {
  /** sha → bytes, entries and chunks alike. */
  files: Map<string, Uint8Array>;
  /** absolute source path → its entry. */
  entries: Map<string, BundledEntry>;
}

/** Bundles `sources` (absolute paths) together, so they share chunks. */
export async function bundleHandlers(sources: string[]): Promise<Bundles> {
  if (sources.length === 0) return { files: new Map(), entries: new Map() };
  const outdir = await Deno.makeTempDir({ prefix: "tessera-bundle-" });
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--config",
        REPO_CONFIG,
        "--code-splitting",
        "--minify",
        "--platform",
        "browser",
        "--format",
        "esm",
        "--outdir",
        outdir,
        ...sources,
        SHARED_ENTRY,
      ],
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) throw bundleError(sources, new TextDecoder().decode(stderr));
    return await hashOutputs(outdir, [...sources, SHARED_ENTRY], sources);
  } finally {
    await Deno.remove(outdir, { recursive: true }).catch(() => {});
  }
}

/** The one line worth showing from a failed `deno bundle`, attributed to the file it names. */
function bundleError(sources: string[], stderr: string): PackError {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const error = lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? "deno bundle failed";
  const named = sources.find((s) => stderr.includes(s) || stderr.includes(`file://${s}`));
  const detail = lines.find((l) => /^at |file:\/\//.test(l) && l !== error);
  const message = error.replace(/^\S*error\S*:?\s*/i, "").replace(/^\[ERROR\]\s*/, "");
  return new PackError(
    named ?? sources.join(", "),
    `does not bundle: ${message}${detail && !named ? ` (${detail})` : ""}`,
  );
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) out.push(...await listFiles(path));
    else if (e.isFile && e.name.endsWith(".js")) out.push(path);
  }
  return out;
}

/** esbuild mirrors the sources' common-ancestor tree under outdir; find each entry's output. */
function outputOf(outdir: string, sources: string[], source: string): string {
  const root = commonDir(sources);
  return join(outdir, relative(root, source)).replace(/\.[cm]?[jt]sx?$/, ".js");
}

function commonDir(paths: string[]): string {
  let dir = dirname(paths[0]);
  while (!paths.every((p) => p.startsWith(dir === "/" ? "/" : dir + "/"))) dir = dirname(dir);
  return dir;
}

const SPECIFIER = /(["'])(\.{1,2}\/[^"'\s]+?\.js)\1/g;

async function hashOutputs(
  outdir: string,
  entryPoints: string[],
  sources: string[],
): Promise<Bundles> {
  const paths = await listFiles(outdir);
  const text = new Map<string, string>();
  for (const p of paths) text.set(p, await Deno.readTextFile(p));
  // Each output's imports of other outputs (static and dynamic alike: any such literal).
  const deps = new Map<string, Set<string>>();
  for (const [p, t] of text) {
    const set = new Set<string>();
    for (const m of t.matchAll(SPECIFIER)) {
      const target = resolve(dirname(p), m[2]);
      if (text.has(target)) set.add(target);
    }
    deps.set(p, set);
  }
  const sha = new Map<string, string>();
  const files = new Map<string, Uint8Array>();
  const visiting = new Set<string>();
  const hashOf = async (p: string): Promise<string> => {
    const known = sha.get(p);
    if (known) return known;
    if (visiting.has(p)) throw new Error(`bundle chunks import each other in a cycle (${p})`);
    visiting.add(p);
    for (const d of deps.get(p)!) await hashOf(d);
    const rewritten = text.get(p)!.replace(SPECIFIER, (whole, _q, spec) => {
      const target = resolve(dirname(p), spec);
      return text.has(target) ? `"./${sha.get(target)}.js"` : whole;
    });
    const bytes = new TextEncoder().encode(rewritten);
    const h = await digestHex(bytes);
    sha.set(p, h);
    files.set(h, bytes);
    visiting.delete(p);
    return h;
  };
  const entries = new Map<string, BundledEntry>();
  for (const source of sources) {
    const out = outputOf(outdir, entryPoints, source);
    if (!text.has(out)) throw new PackError(source, `deno bundle wrote no output for it`);
    const version = await hashOf(out);
    // Dependencies first, so a loader that substitutes blob URLs can go in this order.
    const chunks = new Set<string>();
    const seen = new Set<string>();
    const walk = (p: string) => {
      for (const d of deps.get(p)!) {
        if (seen.has(d)) continue;
        seen.add(d);
        walk(d);
        chunks.add(sha.get(d)!);
      }
    };
    walk(out);
    entries.set(source, { version, chunks: [...chunks] });
  }
  // Only what some entry needs is kept (the shared entry itself is not, unless imported).
  const needed = new Set([...entries.values()].flatMap((e) => [e.version, ...e.chunks]));
  for (const sha of [...files.keys()]) if (!needed.has(sha)) files.delete(sha);
  return { files, entries };
}
