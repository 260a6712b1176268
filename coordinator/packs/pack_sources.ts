/**
 * Which files make up which pack: the built-in pack (the seven handlers in `handlers/`) and
 * every `--handlers PATH`. A folder is every `*.ts`/`*.js` file directly in it, except
 * `*_test.ts` and files starting with `_` (helpers they import); a module file is itself.
 *
 * @module
 */
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PackError } from "./pack_error.ts";

export interface PackSource {
  /** `builtin`, or the folder's (file's) name; unique among the sources. */
  name: string;
  /** Absolute paths of the handler modules, sorted. */
  files: string[];
  /** The folder or file to watch for changes; null for the built-ins. */
  watch: string | null;
}

const HANDLERS_DIR = fileURLToPath(new URL("../../handlers/", import.meta.url));

/** The built-in task types' modules: the default pack. */
export const BUILTIN_FILES = [
  "demo_echo.ts",
  "demo_sleep.ts",
  "hash_search.ts",
  "mandelbrot_tile.ts",
  "montecarlo_pi.ts",
  "primes_count.ts",
  "text_wordcount.ts",
].map((f) => HANDLERS_DIR + f);

const isHandlerFile = (name: string) =>
  /\.(ts|js)$/.test(name) && !name.endsWith(".d.ts") && !/_test\.(ts|js)$/.test(name) &&
  !name.startsWith("_") && !name.startsWith(".");

/** The packs to load: the built-ins (unless left out), then each path in order. */
export async function packSources(paths: string[], builtin: boolean): Promise<PackSource[]> {
  const sources: PackSource[] = builtin
    ? [{ name: "builtin", files: [...BUILTIN_FILES], watch: null }]
    : [];
  for (const path of paths) {
    const abs = resolve(path);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(abs);
    } catch {
      throw new PackError(path, "no such file or folder (--handlers)");
    }
    let files: string[];
    if (info.isDirectory) {
      files = [];
      for await (const e of Deno.readDir(abs)) {
        if (e.isFile && isHandlerFile(e.name)) files.push(`${abs}/${e.name}`);
      }
      files.sort();
    } else {
      if (!/\.(ts|js|mts|mjs)$/.test(abs)) {
        throw new PackError(path, "not a TypeScript or JavaScript module");
      }
      files = [abs];
    }
    let name = basename(abs).replace(/\.[mc]?[jt]s$/, "");
    if (name === "builtin" || sources.some((s) => s.name === name)) name = abs;
    sources.push({ name, files, watch: abs });
  }
  const seen = new Map<string, string>();
  for (const s of sources) {
    for (const f of s.files) {
      if (seen.has(f)) throw new PackError(f, `is in two packs (${seen.get(f)} and ${s.name})`);
      seen.set(f, s.name);
    }
  }
  return sources;
}
