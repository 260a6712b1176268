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

/**
 * A port for a coordinator that a test restarts on it: below Linux's ephemeral range (32768 on),
 * so that a client socket of a test running beside it cannot take the port while it is down.
 */
export const restartablePort = (): number => 12000 + Math.floor(Math.random() * 20000);

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

/**
 * A worker inside the test process, over the HTTP lease API, running the real handlers: claims
 * until `signal` aborts. Handler errors are reported as non-retryable failures.
 */
export function runInTestWorker(
  api: string,
  signal: AbortSignal,
  options: {
    workerId?: string;
    kind?: "deno" | "browser" | "other";
    max?: number;
    types?: string[];
  } = {},
): Promise<void> {
  const { workerId = "test-worker", kind = "other", max = 8, types } = options;
  return (async () => {
    const { loadHandler } = await import("../handlers/mod.ts");
    while (!signal.aborted) {
      const res = await callJson(api, "POST", "/leases", {
        workerId,
        kind,
        max,
        waitMs: 100,
        ...(types ? { types } : {}),
      });
      await Promise.all(
        res.body.leases.map(
          async (
            l: {
              taskId: string;
              leaseId: string;
              attempt: number;
              task: { type: string; params: unknown };
            },
          ) => {
            const handler = await loadHandler(l.task.type);
            try {
              const result = await handler.run(handler.params.parse(l.task.params), {
                signal,
                progress: () => {},
                log: console,
                taskId: l.taskId,
                attempt: l.attempt,
              });
              await callJson(api, "POST", `/tasks/${l.taskId}/complete`, {
                leaseId: l.leaseId,
                result,
              });
            } catch (e) {
              await callJson(api, "POST", `/tasks/${l.taskId}/fail`, {
                leaseId: l.leaseId,
                error: {
                  code: "handler",
                  message: String((e as Error).message ?? e),
                  retryable: false,
                },
              });
            }
          },
        ),
      );
    }
  })();
}

/** A coordinator in its own process (`deno run coordinator/main.ts`), for kill -9 tests. */
export interface CoordinatorProcess {
  child: Deno.ChildProcess;
  url: string;
  api: string;
  /** What it wrote to stderr so far (shown when it does not come up). */
  stderr(): string;
}

/** Spawns a coordinator on `db` and `port` and waits until it answers its health check. */
export async function spawnCoordinatorProcess(
  db: string,
  port: number,
  extraArgs: string[] = [],
): Promise<CoordinatorProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "coordinator/main.ts",
      "--port",
      String(port),
      "--hostname",
      "127.0.0.1",
      "--db",
      db,
      "--log-level",
      "error",
      ...extraArgs,
    ],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  (async () => {
    for await (const s of child.stderr.pipeThrough(new TextDecoderStream())) err += s;
  })().catch(() => {});
  const url = `http://127.0.0.1:${port}`;
  const api = `${url}/api`;
  const up = async () => {
    try {
      const res = await fetch(`${api}/health`);
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 30_000;
  while (!await up()) {
    if (Date.now() > deadline) {
      throw new Error(`coordinator on port ${port} did not come up in 30 s; stderr:\n${err}`);
    }
    await sleep(50);
  }
  return { child, url, api, stderr: () => err };
}

/** Runs `fn` with a KV on a fresh file in a temp dir, closed and removed afterwards. */
export async function withTempKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tessera-kv-" });
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  try {
    await fn(kv);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** `kv` that counts the calls of the methods named (the real KV does the work). */
export function countedKv(kv: Deno.Kv, methods: ReadonlyArray<keyof Deno.Kv>) {
  const counted = { kv, calls: 0 };
  counted.kv = new Proxy(kv, {
    get(target, p) {
      const v = Reflect.get(target, p, target);
      if (typeof v !== "function") return v;
      if (!methods.includes(p as keyof Deno.Kv)) return v.bind(target);
      return (...args: unknown[]) => {
        counted.calls++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return counted;
}

/** 2-of-2 quorum verification, not adaptive, with at most `maxReplicas` replicas. */
export const quorumOf2 = (maxReplicas: number) =>
  ({ mode: "quorum", replicas: 2, agree: 2, maxReplicas, adaptive: false }) as const;

/** Submits one `demo.echo` task of `{ x: 1 }` under `verification`; the task as answered. */
// deno-lint-ignore no-explicit-any
export async function submitEcho(c: TestCoordinator, verification: unknown): Promise<any> {
  return (await c.call("POST", "/tasks", { type: "demo.echo", params: { x: 1 }, verification }))
    .body;
}
