/**
 * `deno task build`: builds the browser apps (the dashboard and the donate page) and the client
 * SDK bundle (`/client.js`, `/client.tgz`) whose build is missing or older than their sources; `--force` builds them all. `deno task start` runs it
 * first, so the coordinator only ever serves finished builds and never builds inside a request.
 *
 * @module
 */
import type { Logger } from "../shared/logger.ts";
import { dashboardApp, type ViteApp } from "./http/assets.ts";
import { donateApp } from "./http/donate_assets.ts";
import { clientBundle } from "./http/client_assets.ts";

/** Every browser app the coordinator serves, and the client SDK bundle (`/client.js`). */
export const APPS: readonly ViteApp[] = [dashboardApp, donateApp, clientBundle];

export interface BuildAppsOptions {
  /** Build even the apps whose build is fresh. @default {false} */
  force?: boolean;
  /** Told (one line) when a build starts. */
  log?: Logger;
}

/**
 * Builds the apps that need it, one after the other (Vite uses every core). Resolves with the
 * names of those it built.
 *
 * @example
 * ```ts
 * await buildApps(); // [] when dist/ is up to date
 * ```
 */
export async function buildApps(options: BuildAppsOptions = {}): Promise<string[]> {
  const built: string[] = [];
  for (const app of APPS) if (await app.build(options)) built.push(app.name);
  return built;
}

if (import.meta.main) {
  const { createLogger } = await import("../shared/logger.ts");
  const started = performance.now();
  const built = await buildApps({ force: Deno.args.includes("--force"), log: createLogger() });
  const ms = Math.round(performance.now() - started);
  console.log(
    built.length > 0
      ? `built ${built.join(" and ")} in ${ms} ms`
      : `${APPS.map((a) => a.name).join(" and ")}: up to date (--force rebuilds)`,
  );
}
