/**
 * Test helpers: a real coordinator on 127.0.0.1 with a KV file in a temp dir, and a tiny JSON
 * HTTP caller.
 *
 * @module
 */
import { COORDINATOR_DEFAULTS, type CoordinatorConfig } from "../coordinator/config.ts";
import { type Coordinator, startCoordinator } from "../coordinator/server.ts";

export const REPO_ROOT = new URL("..", import.meta.url).pathname;

export interface TestCoordinator extends Coordinator {
  api: string;
  dir: string;
  db: string;
  call: typeof callJson extends (base: string, ...rest: infer R) => infer O ? (...rest: R) => O
    : never;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a coordinator on a fresh KV file (or on `db` when given, to test restarts). */
export async function testCoordinator(
  overrides: Partial<CoordinatorConfig> = {},
): Promise<TestCoordinator> {
  const dir = overrides.db ? "" : await Deno.makeTempDir({ prefix: "tessera-test-" });
  const db = overrides.db ?? `${dir}/tessera.sqlite`;
  const c = await startCoordinator({
    ...COORDINATOR_DEFAULTS,
    port: 0,
    hostname: "127.0.0.1",
    logLevel: "error",
    reapIntervalMs: 50,
    ...overrides,
    db,
  });
  const api = `${c.url}/api`;
  return {
    ...c,
    api,
    dir,
    db,
    call: (method, path, body, headers = {}) => callJson(api, method, path, body, headers),
    async [Symbol.asyncDispose]() {
      await c.close();
      if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Sends JSON, returns status and parsed body (null when empty). */
export async function callJson(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body !== undefined ? { "content-type": "application/json", ...headers } : headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function eventually<T>(fn: () => Promise<T> | T, ms = 5000, every = 25): Promise<T> {
  const deadline = Date.now() + ms;
  while (true) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(every);
  }
}
