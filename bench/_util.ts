/**
 * Benchmark helpers: a coordinator in its own process (so the load generator does not share its
 * thread), percentiles, and a JSON caller.
 *
 * @module
 */

export const REPO_ROOT = new URL("..", import.meta.url).pathname;

export interface SpawnedCoordinator {
  api: string;
  url: string;
  dir: string;
  pid: number;
  /** Resident memory of the coordinator process, in MiB. */
  rssMiB(): number;
  stop(): Promise<void>;
}

export async function spawnCoordinator(
  extraArgs: string[] = [],
  shared?: { dir: string },
): Promise<SpawnedCoordinator> {
  const dir = shared?.dir ?? await Deno.makeTempDir({ prefix: "tessera-bench-" });
  // Below Linux's ephemeral range (32768 on): 10,000 client sockets of a run just ended hold
  // that many of those ports in TIME_WAIT, and listening on one of them fails.
  const port = 12000 + Math.floor(Math.random() * 20000);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      // BENCH_INSPECT=PORT: the coordinator listens for an inspector (CPU profiles from DevTools).
      ...(Deno.env.get("BENCH_INSPECT")
        ? [`--inspect=127.0.0.1:${Deno.env.get("BENCH_INSPECT")}`]
        : []),
      "coordinator/main.ts",
      "--port",
      String(port),
      "--hostname",
      "127.0.0.1",
      "--db",
      `${dir}/tessera.sqlite`,
      "--log-level",
      "error",
      ...extraArgs,
    ],
    cwd: REPO_ROOT,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const api = `http://127.0.0.1:${port}/api`;
  const deadline = Date.now() + 30_000;
  while (true) {
    try {
      const res = await fetch(`${api}/health`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error("coordinator did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    api,
    url: `http://127.0.0.1:${port}`,
    dir,
    pid: child.pid,
    rssMiB: () => {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    },
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      if (!shared) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

// deno-lint-ignore no-explicit-any
export async function post(api: string, path: string, body: unknown): Promise<any> {
  const res = await fetch(`${api}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function progress(line: string): void {
  console.error(`  … ${line}`);
}

export interface CommitterFigures {
  commits: number;
  intents: number;
  mutations: number;
  sums: number;
  conflicts: number;
}

/** The coordinator process's committer counters (GET /api/stats). */
export async function committerStats(api: string): Promise<CommitterFigures> {
  const s = await (await fetch(`${api}/stats`)).json();
  return s.committer;
}

/** KV writes per task between two readings: what the mutation budget counts. */
export function perTask(
  before: CommitterFigures,
  after: CommitterFigures,
  tasks: number,
): {
  mutationsPerTask: number;
  sumsPerTask: number;
  commitsPerTask: number;
  conflictsPerTask: number;
} {
  return {
    mutationsPerTask: (after.mutations - before.mutations) / tasks,
    sumsPerTask: (after.sums - before.sums) / tasks,
    commitsPerTask: (after.commits - before.commits) / tasks,
    // Intents refused by a failed check: each splits the commit it shared.
    conflictsPerTask: (after.conflicts - before.conflicts) / tasks,
  };
}

export const describePerTask = (p: ReturnType<typeof perTask>) =>
  `${fmt(p.mutationsPerTask, 2)} set/delete + ${fmt(p.sumsPerTask, 2)} sum mutations per task, ${
    fmt(p.commitsPerTask, 3)
  } commits and ${fmt(p.conflictsPerTask, 3)} refused checks per task`;

/** A fleet of `worker.ts` processes of demo.echo against `c`; `stop()` kills them all. */
export interface Fleet {
  stop(): Promise<void>;
}

/** Starts `workers` worker processes and resolves once the coordinator sees them all. */
export async function startFleet(
  c: SpawnedCoordinator,
  o: { workers: number; concurrency: number; idPrefix: string; args?: string[] },
): Promise<Fleet> {
  const procs = Array.from({ length: o.workers }, (_, i) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "worker.ts",
        "--coordinator",
        c.url,
        ...(o.args ?? []),
        "--concurrency",
        String(o.concurrency),
        "--worker-id",
        `${o.idPrefix}-${i}`,
        "--types",
        "demo.echo",
        "--nice",
        "0",
      ],
      cwd: REPO_ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn());
  const fleet: Fleet = {
    async stop() {
      for (const p of procs) {
        try {
          p.kill("SIGKILL");
        } catch { /* gone */ }
        await p.status;
      }
    },
  };
  try {
    const deadline = Date.now() + 30_000;
    while ((await (await fetch(`${c.api}/stats`)).json()).workersOnline < o.workers) {
      if (Date.now() > deadline) throw new Error("workers did not connect");
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await fleet.stop();
    throw e;
  }
  return fleet;
}
