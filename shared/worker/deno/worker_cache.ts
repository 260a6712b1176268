/**
 * The Deno worker's cache dir: handler bundles by hash (`handlers/<sha>.js`, re-hashed on every
 * read, so a damaged file is fetched again), the pinned coordinator keys (`keys.json`, one key
 * per origin: trust on first use) and the task-thread entry of a worker run from a URL.
 *
 * @module
 */
import { join } from "node:path";
import type { FileCache, KeyStore } from "../handler_source.ts";

/** `--cache-dir`, else `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`. */
export function defaultCacheDir(env: Record<string, string | undefined>): string {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "tessera");
  const home = env.HOME ?? env.USERPROFILE;
  return home ? join(home, ".cache", "tessera") : join(Deno.cwd(), ".tessera-cache");
}

export function diskFileCache(dir: string): FileCache {
  const folder = join(dir, "handlers");
  return {
    async get(sha) {
      try {
        return await Deno.readFile(join(folder, `${sha}.js`));
      } catch {
        return null;
      }
    },
    async put(sha, bytes) {
      await Deno.mkdir(folder, { recursive: true });
      // Written aside and renamed: a reader never sees half a file.
      const tmp = join(folder, `${sha}.${crypto.randomUUID()}.tmp`);
      await Deno.writeFile(tmp, bytes);
      await Deno.rename(tmp, join(folder, `${sha}.js`));
    },
  };
}

export function fileKeyStore(dir: string): KeyStore {
  const path = join(dir, "keys.json");
  const read = async (): Promise<Record<string, string>> => {
    try {
      const json = JSON.parse(await Deno.readTextFile(path));
      return typeof json === "object" && json !== null ? json : {};
    } catch {
      return {};
    }
  };
  return {
    async get(origin) {
      return (await read())[origin] ?? null;
    },
    async set(origin, publicKey) {
      const keys = { ...await read(), [origin]: publicKey };
      await Deno.mkdir(dir, { recursive: true });
      const tmp = `${path}.${crypto.randomUUID()}.tmp`;
      await Deno.writeTextFile(tmp, JSON.stringify(keys, null, 2) + "\n");
      await Deno.rename(tmp, path);
    },
  };
}
