/**
 * Loads packs: bundles every source file together (so they share one chunk), imports each
 * entry bundle, and checks what it exports. Any problem is a `PackError` naming the file: a
 * file that exports no handler, a schema that is not zod, a type that is not namespaced, a type
 * registered twice.
 *
 * @module
 */
import type { Handler } from "../../handlers/contract.ts";
import { TaskType } from "../../shared/protocol.ts";
import { join } from "node:path";
import { type BundledEntry, bundleHandlers, type Bundles } from "./bundle.ts";
import { cacheFolder, importEntry, writeCached } from "./bundle_cache.ts";
import { PackError } from "./pack_error.ts";
import type { PackSource } from "./pack_sources.ts";
import { digestHex } from "./digest.ts";

/** One handler as loaded from a pack, with the bundle it runs from. */
export interface LoadedHandler {
  handler: Handler;
  pack: string;
  file: string;
  version: string;
  chunks: string[];
}

export interface LoadedPacks {
  handlers: LoadedHandler[];
  /** Every bundle file, sha → bytes. */
  files: Map<string, Uint8Array>;
}

export async function loadPacks(sources: PackSource[]): Promise<LoadedPacks> {
  const all = sources.flatMap((s) => s.files);
  const bundles = await bundleMemo(all);
  for (const [sha, bytes] of bundles.files) await writeCached(sha, bytes);
  const handlers: LoadedHandler[] = [];
  const where = new Map<string, string>();
  for (const source of sources) {
    for (const file of source.files) {
      const { version, chunks } = bundles.entries.get(file)!;
      let exported: unknown;
      try {
        exported = await importEntry(version);
      } catch (e) {
        throw new PackError(file, `fails to load: ${oneLine(e)}`);
      }
      for (const handler of checkExport(file, exported)) {
        const other = where.get(handler.type);
        if (other !== undefined) {
          throw new PackError(file, `type "${handler.type}" is already registered by ${other}`);
        }
        where.set(handler.type, file);
        handlers.push({ handler, pack: source.name, file, version, chunks });
      }
    }
  }
  return { handlers, files: bundles.files };
}

/** The handlers a module's default export declares, or a PackError saying what is wrong. */
function checkExport(file: string, exported: unknown): Handler[] {
  const list = Array.isArray(exported) ? exported : [exported];
  if (exported === undefined || exported === null || list.length === 0) {
    throw new PackError(
      file,
      "exports no handler (its default export must be a handler, from defineHandler, or an array of them)",
    );
  }
  return list.map((h, i) => {
    const at = Array.isArray(exported) ? ` (default export [${i}])` : "";
    if (typeof h !== "object" || h === null || typeof (h as Handler).run !== "function") {
      throw new PackError(
        file,
        `exports no handler${at}: the default export must be an object with type, params, result and run`,
      );
    }
    const handler = h as Handler;
    const type = TaskType.safeParse(handler.type);
    if (!type.success) {
      throw new PackError(
        file,
        `type ${JSON.stringify(handler.type)}${at} is not namespaced (${
          type.error.issues[0].message
        })`,
      );
    }
    for (const part of ["params", "result"] as const) {
      if (!isZodSchema(handler[part])) {
        throw new PackError(file, `${handler.type}: ${part} is not a zod schema`);
      }
    }
    return handler;
  });
}

/** A zod 4 schema, from any copy of zod (each bundle carries its own). */
export function isZodSchema(value: unknown): boolean {
  const v = value as { _zod?: { def?: unknown }; safeParse?: unknown } | null;
  return typeof v === "object" && v !== null && typeof v.safeParse === "function" &&
    typeof v._zod === "object" && v._zod?.def !== undefined;
}

function oneLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0];
}

/**
 * Bundling takes a second or two; the same sources (by content, helpers in their folders, the
 * import map, the lockfile and the Deno version included) are bundled once per machine: the
 * result is remembered in the process and in the bundle cache folder, so a restart, and the
 * many coordinators a test run starts, skip `deno bundle`.
 */
const memo = new Map<string, Promise<Bundles>>();
async function bundleMemo(files: string[]): Promise<Bundles> {
  const key = await contentKey(files);
  let pending = memo.get(key);
  if (!pending) {
    pending = (async () => {
      const known = await readBuild(key);
      if (known) return known;
      const built = await bundleHandlers(files);
      await writeBuild(key, built);
      return built;
    })();
    pending.catch(() => memo.delete(key));
    memo.set(key, pending);
  }
  return pending;
}

interface BuildRecord {
  entries: Array<[string, BundledEntry]>;
  files: string[];
}

async function readBuild(key: string): Promise<Bundles | null> {
  try {
    const dir = await cacheFolder();
    const record = JSON.parse(
      await Deno.readTextFile(join(dir, `build-${key}.json`)),
    ) as BuildRecord;
    const files = new Map<string, Uint8Array>();
    for (const sha of record.files) {
      const bytes = await Deno.readFile(join(dir, `${sha}.js`));
      if ((await digestHex(bytes)) !== sha) return null;
      files.set(sha, bytes);
    }
    return { files, entries: new Map(record.entries) };
  } catch {
    return null; // not built yet, or the cache was cleaned
  }
}

async function writeBuild(key: string, built: Bundles): Promise<void> {
  for (const [sha, bytes] of built.files) await writeCached(sha, bytes);
  const record: BuildRecord = { entries: [...built.entries], files: [...built.files.keys()] };
  const dir = await cacheFolder();
  const path = join(dir, `build-${key}.json`);
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(record));
  await Deno.rename(tmp, path);
}

async function contentKey(files: string[]): Promise<string> {
  const folders = [...new Set(files.map((f) => f.replace(/[^/]*$/, "")))].sort();
  const parts: string[] = [Deno.version.deno, files.join("\n")];
  // The bundler's own code too: a change to how bundles are made must not reuse old builds.
  for (
    const f of [
      "deno.json",
      "deno.lock",
      "coordinator/packs/bundle.ts",
      "coordinator/packs/_shared_entry.ts",
    ]
  ) {
    const bytes = await Deno.readFile(new URL(`../../${f}`, import.meta.url)).catch(() => null);
    parts.push(`${f}:${bytes ? await digestHex(bytes) : "-"}`);
  }
  for (const dir of folders) {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.isFile && /\.[jt]s$/.test(e.name)) names.push(e.name);
      }
    } catch { /* gone: bundling will say so */ }
    for (const name of names.sort()) {
      const bytes = await Deno.readFile(dir + name).catch(() => new Uint8Array());
      parts.push(`${dir}${name}:${await digestHex(bytes)}`);
    }
  }
  return await digestHex(parts.join("\n"));
}
