/**
 * Coordinator configuration: read once, from flags over environment over defaults, and handed on
 * as a frozen object.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";

export const CoordinatorConfig = z.object({
  port: z.coerce.number().int().min(0).max(65535),
  hostname: z.string().min(1),
  /** KV file path, ":memory:", or a KV Connect URL (`https://…`, opened as is). */
  db: z.string().min(1),
  logFormat: z.enum(["text", "json"]),
  logLevel: z.enum(["debug", "info", "warn", "error"]),
  /** How often expired leases and due delayed tasks are looked for. */
  reapIntervalMs: z.coerce.number().int().min(10).max(60_000),
  /**
   * How often every lease in the store is read for the expired ones no live coordinator
   * remembers (granted before a restart, or by a coordinator that stopped): the most such a
   * lease outlives its expiry. Leases granted or extended here expire on the reap timer.
   */
  leaseScanMs: z.coerce.number().int().min(50).max(600_000),
  /**
   * How often work made ready by other coordinators on the same store is looked for: the bound
   * on their wake-up latency.
   */
  wakePollMs: z.coerce.number().int().min(5).max(10_000),
  maxBodyBytes: z.coerce.number().int().min(1024),
  /** A worker unseen for this long is shown offline. */
  workerOfflineMs: z.coerce.number().int().min(1000),
  /**
   * The dashboard's stall alert: work is ready, a worker that takes it is idle, and nothing was
   * claimed for this long.
   */
  stallAlertMs: z.coerce.number().int().min(1000),
  /**
   * When set, worker calls (claim, heartbeat, complete, fail, release) need a worker token: this
   * one, or a worker key (`deno task keys create --role worker`).
   */
  workerToken: z.string().optional(),
  /**
   * When API keys are required: `on`, `off` (every route open to every address), or `auto` = as
   * soon as one client or admin key was ever created (`deno task keys create`), and only this
   * machine may submit or administer before that. See auth.ts.
   */
  auth: z.enum(["auto", "on", "off"]),
  /** Anonymous sockets one address may hold open (0 = no limit). */
  maxSocketsPerAddress: z.coerce.number().int().min(0),
  /** Messages per second one anonymous socket may send (0 = no limit); an address gets 4×. */
  socketMessageRate: z.coerce.number().min(0),
  /** HTTP requests per second per API key, or per address without one (0 = no limit). */
  rateLimit: z.coerce.number().min(0),
  /**
   * Which workers get known-answer spot checks: `untrusted` (browsers and server workers that are
   * not the operator's own; `browser` is its old name), `all`, or `off`.
   */
  spotChecks: z.enum(["untrusted", "browser", "all", "off"]),
  /**
   * How long finished tasks (and finished jobs, with their tasks) are kept before they are
   * purged, in ms; 0 keeps them for ever. Flags take `7d`, `12h`, `30m`, `45s` or ms.
   */
  retentionMs: z.preprocess(parseDuration, z.number().int().min(0)),
  /**
   * Task packs: folders (every `*.ts`/`*.js` file, not `*_test.ts`, not `_*`) or module files,
   * each default-exporting a handler or an array of them (`--handlers`, repeatable;
   * `TESSERA_HANDLERS`, comma-separated). See coordinator/packs/.
   */
  handlers: z.array(z.string().min(1)),
  /** Load the seven built-in task types as the pack `builtin` (`--no-builtin-handlers`: off). */
  builtinHandlers: z.boolean(),
  /**
   * Who runs this grid and why, shown to volunteers on the donate page and its embed box
   * (`GET /api/about`): the project's name, a sentence or two on what it computes and for whom,
   * who runs it, and a link to read more.
   */
  projectName: z.string().max(80).optional(),
  projectDescription: z.string().max(1000).optional(),
  projectOwner: z.string().max(120).optional(),
  projectUrl: z.url({ protocol: /^https?$/ }).max(500).optional(),
});
export type CoordinatorConfig = z.infer<typeof CoordinatorConfig>;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** `7d`, `12h`, `30m`, `45s`, `500ms` or a plain number of ms; anything else is left to zod. */
function parseDuration(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(v);
  return m ? Math.round(Number(m[1]) * UNIT_MS[m[2] ?? "ms"]) : v;
}

/**
 * The folder to create before opening `db`, or null: none for `:memory:`, a bare file name, or
 * a KV Connect URL (`http(s)://`), which `Deno.openKv` takes as is.
 *
 * @example
 * ```ts
 * dbFolder("./data/tessera.sqlite"); // "./data/"
 * dbFolder("https://api.deno.com/databases/x/connect"); // null
 * ```
 */
export function dbFolder(db: string): string | null {
  if (db === ":memory:" || /^https?:\/\//i.test(db)) return null;
  return db.replace(/[^/]*$/, "") || null;
}

export const COORDINATOR_DEFAULTS: CoordinatorConfig = {
  port: 8787,
  hostname: "0.0.0.0",
  db: "./data/tessera.sqlite",
  logFormat: "text",
  logLevel: "info",
  reapIntervalMs: 200,
  leaseScanMs: 5_000,
  wakePollMs: 25,
  maxBodyBytes: 4 * 1024 * 1024,
  workerOfflineMs: 30_000,
  stallAlertMs: 30_000,
  workerToken: undefined,
  spotChecks: "untrusted",
  auth: "auto",
  maxSocketsPerAddress: 16,
  socketMessageRate: 200,
  rateLimit: 0,
  retentionMs: 7 * 24 * 3600_000,
  handlers: [],
  builtinHandlers: true,
  projectName: undefined,
  projectDescription: undefined,
  projectOwner: undefined,
  projectUrl: undefined,
};

/** flag name → [config field, environment variable, help]. */
const OPTIONS = {
  port: ["port", "TESSERA_PORT", "HTTP port (0 picks a free one)"],
  hostname: ["hostname", "TESSERA_HOSTNAME", "interface to listen on"],
  db: ["db", "TESSERA_DB", 'KV file, ":memory:", or a KV Connect URL'],
  "log-format": ["logFormat", "TESSERA_LOG_FORMAT", "text | json"],
  "log-level": ["logLevel", "TESSERA_LOG_LEVEL", "debug | info | warn | error"],
  "reap-interval-ms": [
    "reapIntervalMs",
    "TESSERA_REAP_INTERVAL_MS",
    "how often expired leases and due delayed tasks are looked for",
  ],
  "lease-scan-ms": [
    "leaseScanMs",
    "TESSERA_LEASE_SCAN_MS",
    "how often all leases are read for expired ones no coordinator remembers",
  ],
  "wake-poll-ms": [
    "wakePollMs",
    "TESSERA_WAKE_POLL_MS",
    "how often other coordinators' new work is looked for",
  ],
  "max-body-bytes": ["maxBodyBytes", "TESSERA_MAX_BODY_BYTES", "largest request body (413 above)"],
  "worker-offline-ms": [
    "workerOfflineMs",
    "TESSERA_WORKER_OFFLINE_MS",
    "worker shown offline after",
  ],
  "stall-alert-ms": [
    "stallAlertMs",
    "TESSERA_STALL_ALERT_MS",
    "dashboard alert: ready work, idle workers, no claim for this long",
  ],
  "worker-token": [
    "workerToken",
    "TESSERA_WORKER_TOKEN",
    "one worker token (worker keys add more); worker calls then need one",
  ],
  auth: ["auth", "TESSERA_AUTH", "auto | on | off: when API keys are required"],
  "max-sockets-per-address": [
    "maxSocketsPerAddress",
    "TESSERA_MAX_SOCKETS_PER_ADDRESS",
    "anonymous sockets per address (0 = no limit)",
  ],
  "socket-message-rate": [
    "socketMessageRate",
    "TESSERA_SOCKET_MESSAGE_RATE",
    "messages/s per anonymous socket (0 = no limit)",
  ],
  "rate-limit": ["rateLimit", "TESSERA_RATE_LIMIT", "requests/s per key or address (0 = off)"],
  retention: [
    "retentionMs",
    "TESSERA_RETENTION",
    "keep finished tasks and jobs this long, then purge (7d, 12h, 0 = for ever; ms)",
  ],
  "spot-checks": [
    "spotChecks",
    "TESSERA_SPOT_CHECKS",
    "untrusted | all | off: known-answer checks",
  ],
  "project-name": ["projectName", "TESSERA_PROJECT_NAME", "the project, as volunteers see it"],
  "project-description": [
    "projectDescription",
    "TESSERA_PROJECT_DESCRIPTION",
    "what the grid computes and for whom, in plain words",
  ],
  "project-owner": ["projectOwner", "TESSERA_PROJECT_OWNER", "who runs this grid"],
  "project-url": ["projectUrl", "TESSERA_PROJECT_URL", "an http(s) link to read more"],
} as const satisfies Record<string, readonly [keyof CoordinatorConfig, string, string]>;

export function coordinatorHelp(): string {
  const rows = Object.entries(OPTIONS).map(([flag, [field, env, help]]) =>
    `  --${flag.padEnd(24)} ${env.padEnd(32)} ${help} (default: ${
      COORDINATOR_DEFAULTS[field] ?? "none"
    })`
  );
  return `Usage: deno task start [options]\n\n  ${"flag".padEnd(26)} environment variable\n${
    rows.join("\n")
  }\n  --handlers PATH            ${
    "TESSERA_HANDLERS".padEnd(32)
  } a task pack: folder or module file (repeatable; env: comma-separated)\n  --no-builtin-handlers      ${
    "TESSERA_NO_BUILTIN_HANDLERS=1".padEnd(32)
  } leave the seven built-in task types out\n  --help                     this text\n`;
}

/** Reads the configuration: CLI flags over environment variables over defaults. */
export function loadCoordinatorConfig(
  args: string[],
  env: Record<string, string | undefined>,
): CoordinatorConfig | { help: string } {
  const { values } = parseArgs({
    args,
    options: {
      ...Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: "string" as const }])),
      handlers: { type: "string", multiple: true },
      "no-builtin-handlers": { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return { help: coordinatorHelp() };
  const raw: Record<string, unknown> = { ...COORDINATOR_DEFAULTS };
  for (const [flag, [field, envName]] of Object.entries(OPTIONS)) {
    const v = (values as Record<string, unknown>)[flag] ?? env[envName];
    // An empty value (TESSERA_WORKER_TOKEN= in a .env file) means "not set".
    if (v !== undefined && v !== "") raw[field] = v;
  }
  const handlers = (values.handlers as string[] | undefined) ??
    (env.TESSERA_HANDLERS ?? "").split(",");
  raw.handlers = handlers.map((h) => h.trim()).filter(Boolean);
  const noBuiltin = env.TESSERA_NO_BUILTIN_HANDLERS;
  raw.builtinHandlers = !(values["no-builtin-handlers"] ||
    (noBuiltin !== undefined && noBuiltin !== "" && noBuiltin !== "0" && noBuiltin !== "false"));
  const parsed = CoordinatorConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid option ${String(issue.path[0])}: ${issue.message}`);
  }
  return Object.freeze(parsed.data);
}
