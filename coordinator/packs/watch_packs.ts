/**
 * Reload on change: a file changed, added or removed under a `--handlers` folder (or the module
 * file itself) reloads the packs a moment later (editors write in bursts). A reload that fails
 * keeps the registry as it was and logs the one line that says why.
 *
 * @module
 */
import type { Logger } from "../../shared/logger.ts";
import type { HandlerRegistry } from "./registry.ts";

/** How long after the last change of a burst the reload starts. */
const SETTLE_MS = 300;

export function watchPacks(registry: HandlerRegistry, log: Logger): { close(): void } {
  const paths = registry.watched();
  if (paths.length === 0) return { close() {} };
  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs(paths, { recursive: true });
  } catch (e) {
    log.warn("handler packs are not watched for changes", { error: String(e) });
    return { close() {} };
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const reload = () => {
    timer = undefined;
    registry.reload().catch((e) => {
      log.error("handler reload failed; the previous handlers stay", { error: e.message ?? e });
    });
  };
  (async () => {
    for await (const event of watcher) {
      if (event.kind === "access" || event.paths.every((p) => /\.tmp$|~$|\.swp$/.test(p))) {
        continue;
      }
      clearTimeout(timer);
      timer = setTimeout(reload, SETTLE_MS);
    }
  })().catch((e) => {
    if (!closed) log.warn("handler pack watch stopped", { error: String(e) });
  });
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
    },
  };
}
