import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  findConfigPath,
  parseWorkerOptions,
  resolveTypes,
  workerHelp,
  type WorkerOptions,
} from "../shared/worker/deno/worker_options.ts";

function options(
  args: string[],
  env: Record<string, string> = {},
  file: string | null = null,
): WorkerOptions {
  const parsed = parseWorkerOptions(args, env, file);
  if (parsed.kind !== "options") throw new Error(`expected options, got ${JSON.stringify(parsed)}`);
  return parsed.options;
}

function error(args: string[], env: Record<string, string> = {}, file: string | null = null) {
  const parsed = parseWorkerOptions(args, env, file);
  if (parsed.kind !== "error") throw new Error(`expected an error, got ${JSON.stringify(parsed)}`);
  return parsed.message;
}

Deno.test("parseWorkerOptions() takes flags over env over file over defaults", () => {
  const file = "TESSERA_CONCURRENCY=3\nMAX_TASKS=30\nPOLL_INTERVAL=3000\nGRACE_MS=300\n";
  const env = { TESSERA_CONCURRENCY: "2", TESSERA_MAX_TASKS: "20" };
  const o = options(["--concurrency", "1"], env, file);
  strictEqual(o.concurrency, 1); // flag beats env and file
  strictEqual(o.maxTasks, 20); // env beats file
  strictEqual(o.pollInterval, 3000); // file beats default
  strictEqual(o.graceMs, 300);
  strictEqual(o.maxOfflineMs, 300_000); // default
  strictEqual(o.maxConsecutiveErrors, null); // deprecated: absent unless given
  strictEqual(o.coordinator, "http://127.0.0.1:8787");
});

Deno.test("parseWorkerOptions() defaults: every type the grid runs, hardware concurrency, 30 s long-poll", () => {
  const o = options([]);
  strictEqual(o.types, null);
  strictEqual(o.concurrency, navigator.hardwareConcurrency);
  strictEqual(o.pollInterval, 30_000);
  strictEqual(o.maxTasks, 0);
  strictEqual(o.graceMs, 30_000);
  strictEqual(o.logFormat, "text");
  strictEqual(o.debug, false);
  strictEqual(o.workerId, null);
  strictEqual(o.token, null);
  strictEqual(o.nice, 10);
  ok(Object.isFrozen(o));
});

Deno.test("parseWorkerOptions() reads a JSON config file with any key spelling", () => {
  const file = JSON.stringify({
    coordinator: "http://10.0.0.1:9000",
    workerId: "box-1",
    types: ["primes.count", "demo.echo"],
    "max-offline-ms": 60_000,
    TESSERA_DEBUG: true,
    log_format: "json",
  });
  const o = options([], {}, file);
  strictEqual(o.coordinator, "http://10.0.0.1:9000");
  strictEqual(o.workerId, "box-1");
  deepStrictEqual(o.types, ["primes.count", "demo.echo"]);
  strictEqual(o.maxOfflineMs, 60_000);
  strictEqual(o.debug, true);
  strictEqual(o.logFormat, "json");
});

Deno.test("parseWorkerOptions() reads KEY=VALUE lines like the seed's worker.conf", () => {
  const file = [
    "# worker.conf",
    "",
    "TESSERA_COORDINATOR=http://example.test:8787",
    'export WORKER_ID="worker-01"',
    "DEBUG=false",
    "TYPES=demo.echo, demo.sleep",
  ].join("\n");
  const o = options([], {}, file);
  strictEqual(o.coordinator, "http://example.test:8787");
  strictEqual(o.workerId, "worker-01");
  strictEqual(o.debug, false);
  deepStrictEqual(o.types, ["demo.echo", "demo.sleep"]);
});

Deno.test("parseWorkerOptions() --debug flag and TESSERA_DEBUG env", () => {
  strictEqual(options(["--debug"], { TESSERA_DEBUG: "false" }).debug, true);
  strictEqual(options([], { TESSERA_DEBUG: "1" }).debug, true);
  strictEqual(options([], { TESSERA_DEBUG: "no" }).debug, false);
});

Deno.test("parseWorkerOptions() subtracts --exclude-types from --types (or from all types)", () => {
  deepStrictEqual(
    options(["--types", "demo.echo,demo.sleep", "--exclude-types", "demo.sleep"]).types,
    ["demo.echo"],
  );
  const o = options([], { TESSERA_EXCLUDE_TYPES: "hash.search" });
  strictEqual(o.types, null, "taken from the grid's manifest once connected");
  deepStrictEqual(o.excludeTypes, ["hash.search"]);
  ok(
    error(["--types", "demo.echo", "--exclude-types", "demo.echo"]).includes("no task types"),
  );
});

Deno.test("parseWorkerOptions() caps --poll-interval at 30000 ms", () => {
  strictEqual(options(["--poll-interval", "120000"]).pollInterval, 30_000);
  strictEqual(options(["--poll-interval", "0"]).pollInterval, 0);
});

Deno.test("parseWorkerOptions() names the option and where a bad value came from", () => {
  strictEqual(
    error(["--concurrency", "abc"]),
    "invalid --concurrency (from the command line): must be a whole number",
  );
  strictEqual(
    error([], { TESSERA_MAX_TASKS: "-1" }),
    "invalid --max-tasks (from TESSERA_MAX_TASKS): must be at least 0",
  );
  strictEqual(
    error([], {}, "GRACE_MS=soon"),
    "invalid --grace-ms (from the config file): must be a whole number",
  );
  ok(error(["--log-format", "xml"]).startsWith("invalid --log-format"));
  ok(error(["--coordinator", "ftp://x"]).startsWith("invalid --coordinator"));
  ok(error(["--types", "nodot"]).includes("must be namespaced"));
  ok(error(["--bogus"]).includes("--bogus"));
  ok(error([], {}, "COLOUR=blue").includes('unknown option "COLOUR"'));
  ok(error([], {}, "{not json").startsWith("config file: invalid JSON"));
  ok(!error([], {}, "{not json").includes("\n"));
});

Deno.test("parseWorkerOptions() --help lists every option with its env var and default", () => {
  const parsed = parseWorkerOptions(["--help"], {}, null);
  strictEqual(parsed.kind, "help");
  const text = workerHelp();
  for (
    const [flag, env] of [
      ["--coordinator", "TESSERA_COORDINATOR"],
      ["--worker-id", "TESSERA_WORKER_ID"],
      ["--types", "TESSERA_TYPES"],
      ["--exclude-types", "TESSERA_EXCLUDE_TYPES"],
      ["--queues", "TESSERA_QUEUES"],
      ["--concurrency", "TESSERA_CONCURRENCY"],
      ["--max-tasks", "TESSERA_MAX_TASKS"],
      ["--poll-interval", "TESSERA_POLL_INTERVAL"],
      ["--token", "TESSERA_TOKEN"],
      ["--log-format", "TESSERA_LOG_FORMAT"],
      ["--debug", "TESSERA_DEBUG"],
      ["--config", "TESSERA_CONFIG"],
      ["--grace-ms", "TESSERA_GRACE_MS"],
      ["--max-offline-ms", "TESSERA_MAX_OFFLINE_MS"],
      ["--max-consecutive-errors", "TESSERA_MAX_CONSECUTIVE_ERRORS"],
      ["--thread-memory-mb", "TESSERA_THREAD_MEMORY_MB"],
      ["--nice", "TESSERA_NICE"],
    ]
  ) {
    const line = text.split("\n").find((l) => l.trimStart().startsWith(flag + " "));
    ok(line?.includes(env!) && line.includes("default:"), `${flag}: ${line}`);
  }
});

Deno.test("findConfigPath() takes --config over TESSERA_CONFIG", () => {
  strictEqual(findConfigPath(["--config", "a.conf"], { TESSERA_CONFIG: "b.conf" }), "a.conf");
  strictEqual(findConfigPath([], { TESSERA_CONFIG: "b.conf" }), "b.conf");
  strictEqual(findConfigPath([], {}), null);
});

Deno.test("resolveTypes() checks --types and --exclude-types against the grid's manifest", () => {
  const grid = ["demo.echo", "hash.search", "primes.count"];
  deepStrictEqual(resolveTypes({ types: null, excludeTypes: [] }, grid), { ok: true, types: null });
  deepStrictEqual(resolveTypes({ types: null, excludeTypes: ["hash.search"] }, grid), {
    ok: true,
    types: ["demo.echo", "primes.count"],
  });
  deepStrictEqual(resolveTypes({ types: ["no.such", "demo.echo"], excludeTypes: [] }, grid), {
    ok: false,
    message: "unknown task type no.such: the grid runs demo.echo, hash.search, primes.count",
  });
});

Deno.test("parseWorkerOptions() takes --coordinator-key, --cache-dir, --handler-permissions, and a default coordinator", () => {
  const key = "A".repeat(43) + "=";
  const o = options(["--coordinator-key", key, "--cache-dir", "/tmp/c"], {
    TESSERA_HANDLER_PERMISSIONS: "net,read",
  });
  strictEqual(o.coordinatorKey, key);
  strictEqual(o.cacheDir, "/tmp/c");
  deepStrictEqual(o.handlerPermissions, ["net", "read"]);
  deepStrictEqual(options([]).handlerPermissions, []);
  ok(error(["--handler-permissions", "all"]).startsWith("invalid --handler-permissions"));
  ok(error(["--coordinator-key", "nope"]).startsWith("invalid --coordinator-key"));
  const loaded = parseWorkerOptions([], {}, null, null, "http://grid.example:8787");
  strictEqual(loaded.kind === "options" && loaded.options.coordinator, "http://grid.example:8787");
});
