/**
 * Reload on change: a file changed, added or removed under a `--handlers` folder (or the module
 * file itself) reloads the packs a moment later (editors write in bursts). A reload that fails
 * keeps the registry as it was and logs the one line that says why.
 *
 * @module
 */
import { dirname } from "node:path";
import type { Logger } from "../../shared/logger.ts";
import type { HandlerRegistry } from "./registry.ts";

/** How long after the last change of a burst the reload starts. */
const SETTLE_MS = 300;

export function watchPacks(registry: HandlerRegistry, log: Logger): { close(): void } {
  const paths = registry.watched();
  if (paths.length === 0) return { close() {} };
  // A module file is watched through its folder (not recursively): editors replace a file on
  // save, and a watch on the file itself would follow the old one.
  const folders: string[] = [];
  const files = new Set<string>();
  for (const p of paths) {
    if (Deno.statSync(p).isDirectory) folders.push(p);
    else files.add(p);
  }
  const watchers: Deno.FsWatcher[] = [];
  try {
    if (folders.length) watchers.push(Deno.watchFs(folders, { recursive: true }));
    if (files.size) {
      watchers.push(Deno.watchFs([...files].map((f) => dirname(f)), { recursive: false }));
    }
  } catch (e) {
    log.warn("handler packs are not watched for changes", { error: String(e) });
    for (const w of watchers) w.close();
    return { close() {} };
  }
  const inFolders = (p: string) => folders.some((f) => p.startsWith(f + "/"));
  const relevant = (p: string) =>
    !/\.tmp$|~$|\.swp$/.test(p) && (inFolders(p) || files.has(p) || /\.[jt]s$/.test(p));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const reload = () => {
    timer = undefined;
    registry.reload().catch((e) => {
      log.error("handler reload failed; the previous handlers stay", { error: e.message ?? e });
    });
  };
  for (const watcher of watchers) {
    (async () => {
      for await (const event of watcher) {
        if (event.kind === "access" || !event.paths.some(relevant)) continue;
        clearTimeout(timer);
        timer = setTimeout(reload, SETTLE_MS);
      }
    })().catch((e) => {
      if (!closed) log.warn("handler pack watch stopped", { error: String(e) });
    });
  }
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
