/**
 * The handler registry and the front door of `handlers/`. Each handler is loaded lazily with a
 * dynamic `import()` of a static specifier, so a worker (or a bundler splitting chunks) only loads
 * the task types it actually runs. The contract (types, `defineHandler`, `TaskFailure`) is
 * re-exported from here.
 *
 * @example
 * ```ts
 * import { loadHandler } from "./handlers/mod.ts";
 * const handler = await loadHandler("primes.count");
 * const params = handler.params.parse({ from: 0, to: 100 });
 * ```
 *
 * @module
 */
import type { Handler } from "./contract.ts";

export * from "./contract.ts";

/** Lazy loaders, one per task type. Keep the specifiers static string literals. */
export const handlerLoaders: Record<string, () => Promise<Handler>> = {
  "mandelbrot.tile": () => import("./mandelbrot_tile.ts").then((m) => m.default as Handler),
  "primes.count": () => import("./primes_count.ts").then((m) => m.default as Handler),
  "hash.search": () => import("./hash_search.ts").then((m) => m.default as Handler),
  "montecarlo.pi": () => import("./montecarlo_pi.ts").then((m) => m.default as Handler),
  "text.wordcount": () => import("./text_wordcount.ts").then((m) => m.default as Handler),
  "demo.echo": () => import("./demo_echo.ts").then((m) => m.default as Handler),
  "demo.sleep": () => import("./demo_sleep.ts").then((m) => m.default as Handler),
};

/** Every known task type. */
export const handlerTypes: readonly string[] = Object.freeze(Object.keys(handlerLoaders));

/** True if `type` names a known task type. */
export function isHandlerType(type: string): boolean {
  return Object.hasOwn(handlerLoaders, type);
}

const loaded = new Map<string, Promise<Handler>>();

/**
 * Loads (once, then from cache) the handler for `type`. Throws an Error naming the known types
 * when `type` is unknown, and when the module's handler declares a different type.
 */
export function loadHandler(type: string): Promise<Handler> {
  if (!isHandlerType(type)) {
    return Promise.reject(
      new Error(`Unknown task type "${type}"; known types: ${handlerTypes.join(", ")}`),
    );
  }
  let pending = loaded.get(type);
  if (!pending) {
    pending = handlerLoaders[type]().then((handler) => {
      if (handler.type !== type) {
        throw new Error(`Handler registered as "${type}" declares type "${handler.type}"`);
      }
      return handler;
    });
    // A failed import (e.g. a network hiccup in a browser) may be retried later.
    pending.catch(() => loaded.delete(type));
    loaded.set(type, pending);
  }
  return pending;
}

/** Loads every handler; keyed by task type. */
export async function loadAllHandlers(): Promise<Map<string, Handler>> {
  const handlers = await Promise.all(handlerTypes.map((type) => loadHandler(type)));
  return new Map(handlerTypes.map((type, i) => [type, handlers[i]]));
}
