/**
 * Where the coordinator imports bundles from: a folder of `<sha>.js` files shared by every
 * coordinator process on this machine. Files are named by their content, so a file once written
 * never changes and any process may use any other's; each is written to a temporary name and
 * renamed, so nobody imports half a file.
 *
 * The coordinator imports the very bytes it serves (not the source files), so the schemas it
 * validates with are exactly the ones of the version a task is pinned to, and a pack outside the
 * repo needs no import map of its own.
 *
 * @module
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Handler } from "../../handlers/contract.ts";

let folder: Promise<string> | null = null;

/** The cache folder (created once per process). */
export function cacheFolder(): Promise<string> {
  folder ??= (async () => {
    const base = Deno.env.get("TMPDIR") || "/tmp";
    const dir = join(base, `tessera-handler-cache-${Deno.uid?.() ?? "user"}`);
    await Deno.mkdir(dir, { recursive: true });
    return dir;
  })();
  return folder;
}

/** Writes `<sha>.js` unless it is already there. */
export async function writeCached(sha: string, bytes: Uint8Array): Promise<void> {
  const dir = await cacheFolder();
  const path = join(dir, `${sha}.js`);
  try {
    await Deno.stat(path);
    return;
  } catch { /* not there yet */ }
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeFile(tmp, bytes);
  await Deno.rename(tmp, path);
}

/** The default export of the entry bundle `version` (its chunks must be written first). */
export async function importEntry(version: string): Promise<unknown> {
  const dir = await cacheFolder();
  const mod = await import(pathToFileURL(join(dir, `${version}.js`)).href);
  return (mod as { default?: unknown }).default;
}

/** The handler of `type` in an entry's default export (one Handler, or an array of them). */
export function handlerOfType(exported: unknown, type: string): Handler | null {
  const list = Array.isArray(exported) ? exported : [exported];
  return (list.find((h) => (h as Handler | null)?.type === type) as Handler | undefined) ?? null;
}
