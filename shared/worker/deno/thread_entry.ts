/**
 * The main module of the task-thread subprocesses. In the repository it is `task_process.ts`.
 * A worker run from a coordinator (`deno run -A http://HOST:8787/worker.js`) has no such file:
 * its bundle carries the thread's own bundle as text (set on `globalThis` by the bundle's first
 * module, see `coordinator/worker_bundle/`), written once to the cache dir under its hash and
 * run from there (a local main module: the thread itself needs no permission to load it).
 *
 * @module
 */
import { join } from "node:path";
import { sha256Hex } from "../../packs/signature.ts";

/** Where the worker bundle puts the thread bundle's text. */
export const THREAD_SOURCE_GLOBAL = "__tesseraThreadSource";

export async function threadEntry(cacheDir: string): Promise<string | URL> {
  const here = new URL("./task_process.ts", import.meta.url);
  const text = (globalThis as Record<string, unknown>)[THREAD_SOURCE_GLOBAL];
  if (typeof text !== "string") {
    if (here.protocol === "file:") return here;
    throw new Error(`no task-thread entry: ${import.meta.url} was bundled without one`);
  }
  const bytes = new TextEncoder().encode(text);
  const path = join(cacheDir, `thread-${sha256Hex(bytes)}.js`);
  try {
    await Deno.stat(path);
  } catch {
    await Deno.mkdir(cacheDir, { recursive: true });
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  }
  return path;
}
