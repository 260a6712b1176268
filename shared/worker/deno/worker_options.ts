/**
 * The worker's options: flags over environment variables over a config file over defaults,
 * validated with one zod schema. Pure (no `Deno.*`): the caller reads the arguments, the
 * environment and the file, so every rule here is testable as a plain function.
 *
 * The config file is JSON (`{"concurrency": 4, "types": ["primes.count"]}`) or `KEY=VALUE` lines
 * like the seed's worker.conf (`TESSERA_CONCURRENCY=4`, `# comments`). Keys may be spelled as the
 * flag (`max-tasks`), the environment variable (`TESSERA_MAX_TASKS`), without its prefix
 * (`MAX_TASKS`) or in camelCase (`maxTasks`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { LIMITS, QueueName, TaskType } from "../../protocol.ts";
import { profileLayer } from "./worker_profiles.ts";

/** What `--handler-permissions` may grant a task thread, as `--allow-<name>`. */
export const HANDLER_PERMISSIONS = ["net", "read", "write", "env", "sys", "run", "ffi"] as const;
export type HandlerPermission = typeof HANDLER_PERMISSIONS[number];

/** The validated options, frozen. */
export interface WorkerOptions {
  coordinator: string;
  /** Null: the caller picks one (hostname-based, with a random suffix). */
  workerId: string | null;
  /**
   * The types this worker claims (`--types`); null: every type the grid's manifest lists, minus
   * `--exclude-types`. Checked against the manifest once connected (see {@link resolveTypes}).
   */
  types: string[] | null;
  excludeTypes: string[];
  queues: string[];
  concurrency: number;
  /** 0: no limit. */
  maxTasks: number;
  /** Long-poll wait of one claim, in ms (at most 30000). */
  pollInterval: number;
  token: string | null;
  logFormat: "text" | "json";
  debug: boolean;
  config: string | null;
  graceMs: number;
  /** Exit 1 once every call to the coordinator has failed for this long; 0: never. */
  maxOfflineMs: number;
  /** Deprecated and ignored (task failures never stop a worker); null when not given. */
  maxConsecutiveErrors: number | null;
  /** Heap limit of each task thread, in MiB: a handler that needs more fails its attempt. */
  threadMemoryMb: number;
  /** Nice value of the task threads (0 to 19): the owner's programs, and heartbeats, go first. */
  nice: number;
  /** `ws`: leases pushed over a WebSocket; `http`: long-poll claims. */
  transport: "ws" | "http";
  /** The profile whose options sit between the environment and the config file. */
  profile: string | null;
  profilesFile: string | null;
  /** The coordinator's ed25519 public key (base64); null: pinned on first use. */
  coordinatorKey: string | null;
  /** Handler bundles, pinned keys; null: `$XDG_CACHE_HOME/tessera` or `~/.cache/tessera`. */
  cacheDir: string | null;
  /** Permissions granted to task threads (`--allow-<name>`); none by default. */
  handlerPermissions: HandlerPermission[];
}

export type ParsedWorkerOptions =
  | { kind: "options"; options: Readonly<WorkerOptions> }
  | { kind: "help"; text: string }
  | { kind: "error"; message: string };

type Flag =
  | "coordinator"
  | "worker-id"
  | "types"
  | "exclude-types"
  | "queues"
  | "concurrency"
  | "max-tasks"
  | "poll-interval"
  | "token"
  | "log-format"
  | "debug"
  | "config"
  | "grace-ms"
  | "max-offline-ms"
  | "max-consecutive-errors"
  | "thread-memory-mb"
  | "nice"
  | "transport"
  | "profile"
  | "profiles-file"
  | "coordinator-key"
  | "cache-dir"
  | "handler-permissions";

interface OptionSpec {
  field: keyof WorkerOptions;
  env: string;
  value: string;
  help: string;
  /** As shown in --help. */
  default: string;
}

const OPTIONS: Record<Flag, OptionSpec> = {
  "coordinator": {
    field: "coordinator",
    env: "TESSERA_COORDINATOR",
    value: "URL",
    help: "coordinator base URL, or several on one store, comma-separated (failover)",
    default: "http://127.0.0.1:8787",
  },
  "worker-id": {
    field: "workerId",
    env: "TESSERA_WORKER_ID",
    value: "ID",
    help: "this worker's name",
    default: "<hostname>-<random>",
  },
  "types": {
    field: "types",
    env: "TESSERA_TYPES",
    value: "A,B",
    help: "only these task types (checked against the grid's manifest)",
    default: "all the grid runs",
  },
  "exclude-types": {
    field: "excludeTypes",
    env: "TESSERA_EXCLUDE_TYPES",
    value: "A,B",
    help: "never these task types",
    default: "none",
  },
  "queues": {
    field: "queues",
    env: "TESSERA_QUEUES",
    value: "Q,R",
    help: "only these queues",
    default: "all",
  },
  "concurrency": {
    field: "concurrency",
    env: "TESSERA_CONCURRENCY",
    value: "N",
    help: "tasks run at once, one thread each",
    default: "CPU cores",
  },
  "max-tasks": {
    field: "maxTasks",
    env: "TESSERA_MAX_TASKS",
    value: "N",
    help: "stop after this many tasks (0: no limit)",
    default: "0",
  },
  "poll-interval": {
    field: "pollInterval",
    env: "TESSERA_POLL_INTERVAL",
    value: "MS",
    help: "how long one claim waits for work (max 30000)",
    default: "30000",
  },
  "token": {
    field: "token",
    env: "TESSERA_TOKEN",
    value: "TOKEN",
    help: "worker token (Authorization: Bearer)",
    default: "none",
  },
  "log-format": {
    field: "logFormat",
    env: "TESSERA_LOG_FORMAT",
    value: "text|json",
    help: "log line format",
    default: "text",
  },
  "debug": {
    field: "debug",
    env: "TESSERA_DEBUG",
    value: "",
    help: "debug logging",
    default: "false",
  },
  "config": {
    field: "config",
    env: "TESSERA_CONFIG",
    value: "FILE",
    help: "JSON or KEY=VALUE config file",
    default: "none",
  },
  "grace-ms": {
    field: "graceMs",
    env: "TESSERA_GRACE_MS",
    value: "MS",
    help: "on SIGINT/SIGTERM, time to finish in-flight tasks",
    default: "30000",
  },
  "max-offline-ms": {
    field: "maxOfflineMs",
    env: "TESSERA_MAX_OFFLINE_MS",
    value: "MS",
    help: "exit 1 once the coordinator has been unreachable this long (0: never)",
    default: "300000",
  },
  "max-consecutive-errors": {
    field: "maxConsecutiveErrors",
    env: "TESSERA_MAX_CONSECUTIVE_ERRORS",
    value: "N",
    help: "deprecated, ignored: task failures never stop a worker",
    default: "none",
  },
  "thread-memory-mb": {
    field: "threadMemoryMb",
    env: "TESSERA_THREAD_MEMORY_MB",
    value: "MIB",
    help: "heap limit of each task thread; a task over it fails, the thread is replaced",
    default: "1024",
  },
  "nice": {
    field: "nice",
    env: "TESSERA_NICE",
    value: "N",
    help: "CPU priority of task threads, 0 (normal) to 19 (lowest)",
    default: "10",
  },
  "transport": {
    field: "transport",
    env: "TESSERA_TRANSPORT",
    value: "ws|http",
    help: "ws: leases pushed over a WebSocket; http: long-poll claims",
    default: "ws",
  },
  "profile": {
    field: "profile",
    env: "TESSERA_PROFILE",
    value: "NAME",
    help: "a named profile from the profiles file (types, queues, concurrency, nice)",
    default: "none",
  },
  "profiles-file": {
    field: "profilesFile",
    env: "TESSERA_PROFILES_FILE",
    value: "FILE",
    help: "YAML or JSON file of worker profiles",
    default: "none",
  },
  "coordinator-key": {
    field: "coordinatorKey",
    env: "TESSERA_COORDINATOR_KEY",
    value: "BASE64",
    help: "the coordinator's public key; handler code signed otherwise is refused",
    default: "pinned on first use",
  },
  "cache-dir": {
    field: "cacheDir",
    env: "TESSERA_CACHE_DIR",
    value: "DIR",
    help: "handler bundles and pinned coordinator keys",
    default: "~/.cache/tessera",
  },
  "handler-permissions": {
    field: "handlerPermissions",
    env: "TESSERA_HANDLER_PERMISSIONS",
    value: "net,read,...",
    help: `grant task threads these Deno permissions (${HANDLER_PERMISSIONS.join(",")})`,
    default: "none",
  },
};

const FLAGS = Object.keys(OPTIONS) as Flag[];
const LISTS = new Set<Flag>(["types", "exclude-types", "queues", "handler-permissions"]);
const INTS = new Set<Flag>([
  "concurrency",
  "max-tasks",
  "poll-interval",
  "grace-ms",
  "max-offline-ms",
  "max-consecutive-errors",
  "thread-memory-mb",
  "nice",
]);

const count = (min: number) =>
  z.number({ error: "must be a whole number" }).int("must be a whole number").min(
    min,
    `must be at least ${min}`,
  );
/** Which types exist is the grid's manifest's to say: only the form is checked here. */
const knownType = TaskType;

const Schema = z.object({
  /** One coordinator URL, or several (comma-separated) that share a store, for failover. */
  coordinator: z.string().refine(
    (v) => v.split(",").every((u) => z.url({ protocol: /^https?$/ }).safeParse(u.trim()).success),
    { error: "must be an http:// or https:// URL, or several separated by commas" },
  ),
  workerId: z.string().min(1, "must not be empty").max(200, "must be at most 200 characters")
    .nullable(),
  types: z.array(knownType).nullable(),
  excludeTypes: z.array(knownType),
  queues: z.array(QueueName),
  concurrency: count(1).max(1024, "must be at most 1024"),
  maxTasks: count(0),
  pollInterval: count(0).transform((ms) => Math.min(ms, LIMITS.waitMs)),
  token: z.string().min(1, "must not be empty").nullable(),
  logFormat: z.enum(["text", "json"], { error: 'must be "text" or "json"' }),
  debug: z.boolean({ error: "must be true or false" }),
  config: z.string().min(1).nullable(),
  graceMs: count(0),
  maxOfflineMs: count(0),
  maxConsecutiveErrors: count(0).nullable(),
  threadMemoryMb: count(16).max(65_536, "must be at most 65536"),
  nice: count(0).max(19, "must be at most 19"),
  transport: z.enum(["ws", "http"], { error: 'must be "ws" or "http"' }),
  profile: z.string().min(1, "must not be empty").nullable(),
  profilesFile: z.string().min(1, "must not be empty").nullable(),
  coordinatorKey: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, "must be a base64 ed25519 public key")
    .nullable(),
  cacheDir: z.string().min(1, "must not be empty").nullable(),
  handlerPermissions: z.array(
    z.enum(HANDLER_PERMISSIONS, { error: `must be among ${HANDLER_PERMISSIONS.join(", ")}` }),
  ),
});

function defaults(): Record<Flag, unknown> {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  return {
    "coordinator": "http://127.0.0.1:8787",
    "worker-id": null,
    "types": null,
    "exclude-types": [],
    "queues": [],
    "concurrency": cores && cores > 0 ? cores : 1,
    "max-tasks": 0,
    "poll-interval": LIMITS.waitMs,
    "token": null,
    "log-format": "text",
    "debug": false,
    "config": null,
    "grace-ms": 30_000,
    "max-offline-ms": 300_000,
    "max-consecutive-errors": null,
    "thread-memory-mb": 1024,
    "nice": 10,
    "transport": "ws",
    "profile": null,
    "profiles-file": null,
    "coordinator-key": null,
    "cache-dir": null,
    "handler-permissions": [],
  };
}

/** The usage text: every option with its environment variable and default. */
export function workerHelp(): string {
  const rows = FLAGS.map((flag) => {
    const o = OPTIONS[flag];
    const left = `--${flag}${o.value ? " " + o.value : ""}`;
    return `  ${left.padEnd(30)} ${o.env.padEnd(31)} ${o.help} (default: ${o.default})`;
  });
  return [
    "Usage: deno run -A worker.ts [options]",
    "   or: deno run -A http://HOST:8787/worker.js [options]  (--coordinator: that origin)",
    "",
    "Runs tasks from a Tessera coordinator. SIGINT/SIGTERM stop claiming, let in-flight tasks",
    "finish within --grace-ms and hand the rest back; a second signal exits at once.",
    "Precedence: flags > environment variables > --profile > config file > defaults.",
    "",
    `  ${"flag".padEnd(30)} ${"environment variable".padEnd(31)} meaning`,
    ...rows,
    `  ${"--help".padEnd(30)} ${"".padEnd(31)} this text`,
    "",
  ].join("\n");
}

type Layer = Partial<Record<Flag, unknown>>;
type Parsed = { ok: true; values: Layer & { help?: boolean } } | { ok: false; message: string };

function parseFlags(args: string[]): Parsed {
  try {
    const { values } = parseArgs({
      args,
      options: {
        ...Object.fromEntries(
          FLAGS.map((f) => [f, { type: f === "debug" ? "boolean" as const : "string" as const }]),
        ),
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    return { ok: true, values: values as Layer & { help?: boolean } };
  } catch (e) {
    // node's messages go on with advice about "--"; the first sentence is the news.
    return {
      ok: false,
      message: String((e as Error).message).split(/\.\s/)[0]!.replace(/\.$/, ""),
    };
  }
}

/** The config file named by `--config` or `TESSERA_CONFIG`, so the caller can read it first. */
export function findConfigPath(
  args: string[],
  env: Record<string, string | undefined>,
): string | null {
  const flags = parseFlags(args);
  const fromFlag = flags.ok ? flags.values.config : undefined;
  return typeof fromFlag === "string" ? fromFlag : env[OPTIONS.config.env] || null;
}

/**
 * The profiles file named by `--profiles-file`, `TESSERA_PROFILES_FILE` or the config file
 * (`fileText`), so the caller can read it before {@link parseWorkerOptions}.
 */
export function findProfilesPath(
  args: string[],
  env: Record<string, string | undefined>,
  fileText: string | null,
): string | null {
  const flags = parseFlags(args);
  const fromFlag = flags.ok ? flags.values["profiles-file"] : undefined;
  if (typeof fromFlag === "string") return fromFlag;
  if (env[OPTIONS["profiles-file"].env]) return env[OPTIONS["profiles-file"].env]!;
  const file = fileText === null ? null : parseFile(fileText);
  const fromFile = file?.ok ? file.layer["profiles-file"] : undefined;
  return typeof fromFile === "string" && fromFile ? fromFile : null;
}

/** `TESSERA_MAX_TASKS`, `MAX_TASKS`, `maxTasks`, `max_tasks` → `max-tasks`. */
function flagOf(key: string): Flag | null {
  const flag = key.trim()
    .replace(/^TESSERA_/i, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/_/g, "-")
    .toLowerCase();
  return (FLAGS as string[]).includes(flag) ? flag as Flag : null;
}

function parseFile(text: string): { ok: true; layer: Layer } | { ok: false; message: string } {
  const layer: Layer = {};
  const put = (key: string, value: unknown): string | null => {
    const flag = flagOf(key);
    if (!flag || flag === "config") return `config file: unknown option "${key}"`;
    layer[flag] = value;
    return null;
  };
  if (text.trimStart().startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return { ok: false, message: `config file: invalid JSON: ${(e as Error).message}` };
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return { ok: false, message: "config file: expected a JSON object" };
    }
    for (const [key, value] of Object.entries(json)) {
      const problem = put(key, value);
      if (problem) return { ok: false, message: problem };
    }
    return { ok: true, layer };
  }
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    if (!m) return { ok: false, message: `config file line ${i + 1}: expected KEY=VALUE` };
    const value = m[2]!.replace(/^(["'])(.*)\1$/, "$2");
    const problem = put(m[1]!, value);
    if (problem) return { ok: false, message: `${problem} (line ${i + 1})` };
  }
  return { ok: true, layer };
}

/** Brings a raw value (a string from flags, env or a KEY=VALUE file; any JSON) to its type. */
function normalize(flag: Flag, value: unknown): unknown {
  if (LISTS.has(flag)) {
    if (typeof value === "string") return value.split(",").map((s) => s.trim()).filter(Boolean);
    return value;
  }
  if (INTS.has(flag) && typeof value === "string" && /^\s*-?\d+\s*$/.test(value)) {
    return Number(value);
  }
  if (flag === "debug" && typeof value === "string") {
    const v = value.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off", ""].includes(v)) return false;
  }
  return value;
}

/**
 * Parses the worker's options. `fileText` is the content of the config file (see
 * {@link findConfigPath}), or null when there is none; `profilesText` the content of the
 * profiles file ({@link findProfilesPath}), read only when a profile is named.
 *
 * @example
 * ```ts
 * const parsed = parseWorkerOptions(["--concurrency", "4"], { TESSERA_TYPES: "primes.count" }, null);
 * if (parsed.kind === "options") console.log(parsed.options.concurrency); // 4
 * ```
 */
export function parseWorkerOptions(
  args: string[],
  env: Record<string, string | undefined>,
  fileText: string | null,
  profilesText: string | null = null,
  /** A worker loaded from a coordinator (`/worker.js`) defaults to that coordinator. */
  defaultCoordinator?: string,
): ParsedWorkerOptions {
  const flags = parseFlags(args);
  if (!flags.ok) return { kind: "error", message: flags.message };
  if (flags.values.help) return { kind: "help", text: workerHelp() };

  const file = fileText === null ? { ok: true as const, layer: {} } : parseFile(fileText);
  if (!file.ok) return { kind: "error", message: file.message };

  const profileName = flags.values.profile ?? env[OPTIONS.profile.env] ?? file.layer.profile;
  let profile: Layer = {};
  if (typeof profileName === "string" && profileName !== "") {
    const found = profileLayer(profilesText, profileName);
    if (!found.ok) return { kind: "error", message: found.message };
    profile = found.layer;
  }

  const merged = defaults();
  if (defaultCoordinator) merged.coordinator = defaultCoordinator;
  const source: Partial<Record<Flag, string>> = {};
  const layers: Array<[string, Layer]> = [
    ["the config file", file.layer],
    [`profile "${profileName}"`, profile],
    [
      "environment",
      Object.fromEntries(FLAGS.flatMap((f) => {
        const v = env[OPTIONS[f].env];
        return v === undefined ? [] : [[f, v]];
      })),
    ],
    ["the command line", flags.values],
  ];
  for (const [name, layer] of layers) {
    for (const flag of FLAGS) {
      if (layer[flag] === undefined) continue;
      merged[flag] = normalize(flag, layer[flag]);
      source[flag] = name === "environment" ? OPTIONS[flag].env : name;
    }
  }
  const input = Object.fromEntries(FLAGS.map((f) => [OPTIONS[f].field, merged[f]]));
  const parsed = Schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = FLAGS.find((f) => OPTIONS[f].field === issue.path[0])!;
    const from = source[flag] ? ` (from ${source[flag]})` : "";
    return { kind: "error", message: `invalid --${flag}${from}: ${issue.message}` };
  }
  const o = parsed.data;
  const exclude = new Set(o.excludeTypes);
  const types = o.types?.filter((t) => !exclude.has(t)) ?? null;
  if (types?.length === 0) {
    return { kind: "error", message: "invalid --exclude-types: no task types are left to run" };
  }
  return { kind: "options", options: Object.freeze({ ...o, types }) };
}

/**
 * The types to claim, once the grid's manifest says which exist: `--types` must all be in it
 * (else an error naming them), `--exclude-types` is taken out. Null: claim every type, also
 * those the grid adds later.
 */
export function resolveTypes(
  options: Pick<WorkerOptions, "types" | "excludeTypes">,
  gridTypes: readonly string[],
): { ok: true; types: string[] | null } | { ok: false; message: string } {
  const known = new Set(gridTypes);
  const unknown = [...options.types ?? [], ...options.excludeTypes].filter((t) => !known.has(t));
  if (unknown.length > 0) {
    return {
      ok: false,
      message: `unknown task type${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}: ` +
        `the grid runs ${gridTypes.join(", ") || "no types"}`,
    };
  }
  if (options.types) return { ok: true, types: options.types };
  if (options.excludeTypes.length === 0) return { ok: true, types: null };
  const types = gridTypes.filter((t) => !options.excludeTypes.includes(t));
  if (types.length === 0) {
    return { ok: false, message: "--exclude-types leaves none of the grid's types to run" };
  }
  return { ok: true, types };
}
