/**
 * The wire protocol: every HTTP body (and later every socket message) as a zod schema. This file is
 * the one source of truth; types are derived with `z.infer`. Times are milliseconds since the Unix
 * epoch.
 *
 * @module
 */
import { z } from "zod";

/** Limits that shape the protocol; the coordinator enforces them, clients can read them. */
export const LIMITS = Object.freeze({
  /**
   * UTF-8 bytes of one task's params as JSON. KV's own encoding of them may be 2.5× that
   * (floats, nested arrays): the coordinator sizes records and commits by it (encoded_size.ts).
   */
  paramsBytes: 16 * 1024,
  /** UTF-8 bytes of one result as JSON; kept beside its task record or, if too large, apart. */
  resultBytes: 32 * 1024,
  /** Tasks per submit request. */
  batchTasks: 1000,
  /** Tasks per claim request. */
  claimMax: 100,
  /** Items per batch report request. */
  reportItems: 500,
  /** Longest long-poll. */
  waitMs: 30_000,
  maxAttempts: 100,
  /** Nesting depth of params and results (deeper JSON overflows recursive serializers). */
  jsonDepth: 64,
  errorMessageChars: 2000,
});

export const DEFAULTS = Object.freeze({
  queue: "default",
  priority: 0,
  maxAttempts: 3,
  timeoutMs: 60_000,
  leaseMs: 30_000,
  backoffMs: 1000,
  /**
   * How long a quorum task whose replicas agree, but only among workers without a record, waits
   * for a voter with one before it fails `unverified`; counted from when it starts waiting.
   */
  verificationDeadlineMs: 600_000,
});

/** Who runs a worker: `deno` (worker.ts), `browser` (the donate page) or `other` (seed protocol). */
export const WorkerKind = z.enum(["deno", "browser", "other"]);
export type WorkerKind = z.infer<typeof WorkerKind>;

export const TaskStatus = z.enum(["pending", "processing", "completed", "failed", "cancelled"]);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const TaskErrorCode = z.enum([
  "validation",
  "timeout",
  "handler",
  "cancelled",
  "expired",
  "internal",
  /** Replicas of the task never agreed. */
  "verification",
  /** Replicas agreed, but no voter with a record confirmed it before the deadline. */
  "unverified",
]);

/** An error that ended an attempt: data, never a class, so it crosses `postMessage` and HTTP. */
export const TaskError = z.object({
  code: TaskErrorCode,
  message: z.string().max(LIMITS.errorMessageChars),
  retryable: z.boolean(),
});
export type TaskError = z.infer<typeof TaskError>;

const name = z.string().min(1).max(100).regex(
  /^[a-z0-9][a-z0-9_.:-]*$/i,
  "letters, digits and . _ : - only",
);
/** Task type names are namespaced: `primes.count`. */
export const TaskType = name.regex(/\./, "must be namespaced, like primes.count");
export const QueueName = name;
export const WorkerId = z.string().min(1).max(200);
/**
 * A task id, lease id, type or cursor in a request: bounded, since each becomes part of a KV key
 * (ULIDs and UUIDs are 26 and 36 characters).
 */
const Ref = z.string().min(1).max(100);

const jsonSize = (v: unknown) => new TextEncoder().encode(JSON.stringify(v) ?? "").length;

/** Nesting depth of a JSON value, counted without recursion; stops counting past `max`. */
function jsonDepth(value: unknown, max: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    const d = depth + 1;
    if (d > deepest) deepest = d;
    if (deepest > max) return deepest;
    for (const child of Object.values(v)) {
      if (child !== null && typeof child === "object") stack.push([child, d]);
    }
  }
  return deepest;
}

/** Any JSON value no deeper than `LIMITS.jsonDepth` and no larger than `max` bytes. */
const sizedJson = (max: number, what: string) =>
  z.unknown().superRefine((v, ctx) => {
    if (v === undefined) return;
    if (jsonDepth(v, LIMITS.jsonDepth) > LIMITS.jsonDepth) {
      ctx.addIssue({
        code: "custom",
        message: `${what} must nest at most ${LIMITS.jsonDepth} levels deep`,
      });
    } else if (jsonSize(v) > max) {
      ctx.addIssue({
        code: "custom",
        message: `${what} must serialize to at most ${max} bytes of JSON`,
      });
    }
  });

/**
 * How results are checked before acceptance: `none`, or `quorum`: `replicas` distinct workers
 * compute the task and `agree` identical results (by canonical hash) are needed; on disagreement
 * one more replica is added, up to `maxReplicas`. With `adaptive`, one result from a trusted
 * worker is enough.
 */
export const Verification = z.discriminatedUnion("mode", [
  z.object({ mode: z.literal("none") }),
  z.object({
    mode: z.literal("quorum"),
    replicas: z.number().int().min(1).max(5),
    agree: z.number().int().min(1).max(5),
    maxReplicas: z.number().int().min(1).max(9),
    adaptive: z.boolean().default(true),
    /**
     * How long the task may wait for a voter with a record (see `DEFAULTS`); the task type's
     * default, or 10 minutes, when absent.
     */
    deadlineMs: z.number().int().min(1000).max(7 * 24 * 3600_000).optional(),
  }).refine((v) => v.agree <= v.replicas && v.replicas <= v.maxReplicas, {
    message: "needs agree ≤ replicas ≤ maxReplicas",
    path: ["agree"],
  }),
]);
export type Verification = z.infer<typeof Verification>;

/** One replica's result, as a hash (the result itself is kept apart). */
export const Vote = z.object({
  leaseId: z.string(),
  workerId: z.string(),
  donorId: z.string().nullable(),
  kind: WorkerKind.optional(),
  /** The voter was trusted as the operator's own (a worker token, or this machine). */
  operator: z.boolean().optional(),
  /** Compute time the coordinator measured, credited to the donor if this vote wins. */
  computeMs: z.number().optional(),
  hash: z.string(),
  at: z.number(),
});
export type Vote = z.infer<typeof Vote>;

export const AttemptOutcome = z.enum(["completed", "failed", "expired", "cancelled", "released"]);
export const Attempt = z.object({
  attempt: z.number().int(),
  leaseId: z.string(),
  workerId: z.string(),
  startedAt: z.number(),
  endedAt: z.number(),
  outcome: AttemptOutcome,
  error: TaskError.nullable(),
  /** "seed": the lease came from the seed protocol's claim (see `LeaseRecord.via`). */
  via: z.literal("seed").optional(),
});
export type Attempt = z.infer<typeof Attempt>;

/** A task as clients see it. */
export const Task = z.object({
  id: z.string(),
  type: z.string(),
  queue: z.string(),
  priority: z.number().int(),
  params: z.unknown(),
  status: TaskStatus,
  /** Attempts started so far (a claim starts one). */
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  timeoutMs: z.number().int(),
  leaseMs: z.number().int(),
  /** Base delay before a retry; doubles per attempt, with jitter. */
  backoffMs: z.number().int(),
  runAt: z.number(),
  idempotencyKey: z.string().nullable(),
  createdAt: z.number(),
  claimedAt: z.number().nullable(),
  completedAt: z.number().nullable(),
  workerId: z.string().nullable(),
  leaseId: z.string().nullable(),
  result: z.unknown(),
  error: TaskError.nullable(),
  history: z.array(Attempt),
  verification: Verification,
  /** Results wanted before a decision (grows on disagreement). */
  replicas: z.number().int(),
  /** Replica leases live now (quorum tasks). */
  live: z.number().int(),
  votes: z.array(Vote),
  /** How many workers agreed on the accepted result, of how many that answered. */
  agreement: z.object({ agreed: z.number().int(), of: z.number().int() }).nullable(),
  /**
   * Why an open quorum task is not decided yet although replicas answered, e.g. "needs a voter
   * with a record: …"; null (or absent) when it waits for nothing in particular.
   */
  waiting: z.string().nullable().optional(),
  /** When a waiting task gives up and fails `unverified`. */
  verifyBy: z.number().nullable().optional(),
  /**
   * The id of the API key that submitted the task; null without one (open mode). Clients see
   * only their own tasks. Absent on tasks stored before keys existed.
   */
  owner: z.string().nullable().optional(),
  /**
   * The handler version (SHA-256 of its bundle) the task was submitted against; workers run
   * exactly that. Absent on tasks stored before packs existed: they run the type's current one.
   */
  handler: z.string().regex(/^[0-9a-f]{64}$/).nullable().optional(),
  /**
   * Its place among the lanes (clients, jobs) of its queue, type and priority: ready tasks are
   * handed out in this order, so lanes take turns. Absent on tasks stored before fair share.
   */
  fair: z.number().optional(),
  /** The job this task belongs to and its index in it; absent for a task of no job. */
  job: z.object({ id: z.string(), index: z.number().int().min(0) }).optional(),
  /**
   * A processing task's latest progress fraction in [0, 1], as its handler reported it
   * (`ctx.progress`, carried by heartbeats); null while processing without a report, absent
   * otherwise.
   */
  progress: z.number().min(0).max(1).nullable().optional(),
});
export type Task = z.infer<typeof Task>;

// ---------------------------------------------------------------------------------------------
// Handler packs: task types an operator loads at run time (`--handlers PATH`), bundled by the
// coordinator, named by content, signed, and fetched by workers.

/** A handler's version: the SHA-256 (hex) of its entry bundle's bytes, which name its chunks. */
export const HandlerVersion = z.string().regex(/^[0-9a-f]{64}$/, "must be a SHA-256 in hex");
export type HandlerVersion = z.infer<typeof HandlerVersion>;

/** One task type at one version, as `GET /api/handlers` lists it. */
export const UnsignedHandlerEntry = z.object({
  type: TaskType,
  description: z.string(),
  version: HandlerVersion,
  /** Where the entry bundle is served: `/handlers/<version>.js`. */
  bundle: z.string(),
  /**
   * Every chunk the entry imports, transitively, each named by its own SHA-256 and served at
   * `/handlers/<sha>.js`; the entry imports them by that name, so its hash covers them.
   */
  chunks: z.array(HandlerVersion),
  /** JSON Schema of params and result, from the zod schemas. */
  params: z.unknown(),
  result: z.unknown(),
  verification: Verification,
  timeoutMs: z.number().int(),
  maxTimeoutMs: z.number().int(),
  /** The pack it came from: `builtin` or the folder/file name given to `--handlers`. */
  pack: z.string(),
});
export type UnsignedHandlerEntry = z.infer<typeof UnsignedHandlerEntry>;

/** An entry with the coordinator's ed25519 signature (base64) over its canonical JSON. */
export const HandlerEntry = UnsignedHandlerEntry.extend({ signature: z.string() });
export type HandlerEntry = z.infer<typeof HandlerEntry>;

/** `GET /api/handlers`: the current version of every type, and the key that signed them. */
export const HandlerManifest = z.object({
  /** The coordinator's ed25519 public key, base64 (32 bytes); workers pin it. */
  publicKey: z.string(),
  /** Bumps whenever the registry changes (a reload), so pages can tell they are stale. */
  revision: z.number().int(),
  handlers: z.array(HandlerEntry),
});
export type HandlerManifest = z.infer<typeof HandlerManifest>;

/** `POST /api/handlers/reload`: the registry's revision after it, and the types that changed. */
export const HandlerReload = z.object({
  revision: z.number().int(),
  changed: z.array(z.string()),
});
export type HandlerReload = z.infer<typeof HandlerReload>;

/** The worker-to-coordinator protocol version carried in `hello`; older workers are told so. */
export const PROTOCOL_VERSION = 2;

/** `GET /api/worker`: the server worker `/worker.js` imports, named by its SHA-256. */
export const WorkerRelease = z.object({
  version: HandlerVersion,
  /** `/worker/<version>.js`, immutable. */
  url: z.string(),
  protocol: z.number().int(),
});
export type WorkerRelease = z.infer<typeof WorkerRelease>;

/** What a client submits for one task. */
export const SubmitTask = z.object({
  type: TaskType,
  params: sizedJson(LIMITS.paramsBytes, "params").default({}),
  queue: QueueName.default(DEFAULTS.queue),
  /** Higher runs first. */
  priority: z.number().int().min(-1000).max(1000).default(DEFAULTS.priority),
  maxAttempts: z.number().int().min(1).max(LIMITS.maxAttempts).default(DEFAULTS.maxAttempts),
  timeoutMs: z.number().int().min(1).max(24 * 3600_000).optional(),
  leaseMs: z.number().int().min(1000).max(3600_000).default(DEFAULTS.leaseMs),
  backoffMs: z.number().int().min(0).max(3600_000).default(DEFAULTS.backoffMs),
  /** Do not start before this time. */
  runAt: z.number().int().min(0).optional(),
  /** Alternative to runAt: start no earlier than this many ms from now. */
  delayMs: z.number().int().min(0).max(365 * 24 * 3600_000).optional(),
  /**
   * The same key always returns the same task, never a duplicate; the same key with other
   * params is refused (409 `idempotency_conflict`). Keys are stored as UTF-8, so a lone
   * surrogate (not well-formed UTF-16) would collide with others: refused.
   */
  idempotencyKey: z.string().min(1).max(200).refine((k) => k.isWellFormed(), {
    message: "must be well-formed UTF-16 (no lone surrogates)",
  }).optional(),
  /** Overrides the task type's default result verification. */
  verification: Verification.optional(),
});
export type SubmitTask = z.input<typeof SubmitTask>;
export type SubmitTaskParsed = z.infer<typeof SubmitTask>;

export const SubmitBatch = z.object({
  tasks: z.array(SubmitTask).min(1).max(LIMITS.batchTasks),
});

/** Native claim: up to `max` leases for one worker, long-polling up to `waitMs`. */
export const ClaimRequest = z.object({
  workerId: WorkerId,
  types: z.array(Ref).max(100).optional(),
  queues: z.array(QueueName).max(100).optional(),
  max: z.number().int().min(1).max(LIMITS.claimMax).default(1),
  waitMs: z.number().int().min(0).max(LIMITS.waitMs).default(0),
  kind: WorkerKind.default("other"),
  concurrency: z.number().int().min(1).max(1024).optional(),
});
export type ClaimRequest = z.input<typeof ClaimRequest>;

/** Seed-protocol claim (`POST /tasks/claim`): snake_case accepted, one task or null back. */
export const SeedClaimRequest = z.object({
  worker_id: WorkerId.optional(),
  workerId: WorkerId.optional(),
  task_types: z.array(Ref).max(100).optional(),
  types: z.array(Ref).max(100).optional(),
  queues: z.array(QueueName).max(100).optional(),
  waitMs: z.number().int().min(0).max(LIMITS.waitMs).optional(),
}).refine((b) => b.worker_id ?? b.workerId, {
  message: "worker_id is required",
  path: ["worker_id"],
});

export const Lease = z.object({
  leaseId: z.string(),
  taskId: z.string(),
  expiresAt: z.number(),
  attempt: z.number().int(),
  task: Task,
});
export type Lease = z.infer<typeof Lease>;

export const ClaimResponse = z.object({ leases: z.array(Lease) });

export const HeartbeatRequest = z.object({
  leaseId: Ref,
  /** Progress in [0, 1], shown on the dashboard. */
  progress: z.number().min(0).max(1).optional(),
});
export const HeartbeatResponse = z.object({
  expiresAt: z.number(),
});

/** Complete: `leaseId` is optional so a seed-protocol worker (no leases) works unchanged. */
export const CompleteRequest = z.object({
  leaseId: Ref.optional(),
  lease_id: Ref.optional(),
  worker_id: WorkerId.optional(),
  result: sizedJson(LIMITS.resultBytes, "result"),
});

/** Fail: the seed protocol sends a plain message; native workers send a typed error. */
export const FailRequest = z.object({
  leaseId: Ref.optional(),
  lease_id: Ref.optional(),
  worker_id: WorkerId.optional(),
  error: z.union([
    z.string().max(LIMITS.errorMessageChars),
    z.object({
      code: TaskErrorCode.default("handler"),
      message: z.string().max(LIMITS.errorMessageChars),
      retryable: z.boolean().default(true),
    }),
  ]),
});

export const ReleaseRequest = z.object({ leaseId: Ref });

/** One outcome in a batch report: completion when `result` is present, failure when `error` is. */
export const ReportItem = z.union([
  z.object({
    taskId: Ref,
    leaseId: Ref,
    result: sizedJson(LIMITS.resultBytes, "result"),
  }),
  z.object({
    taskId: Ref,
    leaseId: Ref,
    error: TaskError,
  }),
]);
export type ReportItem = z.infer<typeof ReportItem>;
export const ReportRequest = z.object({
  items: z.array(ReportItem).min(1).max(LIMITS.reportItems),
});
export const ReportOutcome = z.object({
  taskId: z.string(),
  ok: z.boolean(),
  /** Present when !ok: `stale_lease`, `not_found`, ... */
  code: z.string().optional(),
});

export const AwaitRequest = z.object({
  ids: z.array(Ref).min(1).max(LIMITS.batchTasks),
  waitMs: z.number().int().min(0).max(LIMITS.waitMs).default(LIMITS.waitMs),
});

export const ListQuery = z.object({
  status: TaskStatus.optional(),
  type: z.string().max(100).optional(),
  queue: z.string().max(100).optional(),
  /** The worker that last held the task (filtered on the records read: pages may be short). */
  worker: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(100).optional(),
});

/** `GET /whoami`: the caller's role, as the coordinator sees its token. */
export const WhoAmI = z.object({
  role: z.enum(["admin", "client", "worker", "anonymous"]),
  /** The API key's id and name (client, admin and worker keys). */
  keyId: z.string().optional(),
  name: z.string().optional(),
  /** Whether API keys are required now (`--auth on`, or `auto` once a client or admin key exists). */
  enforced: z.boolean(),
  /** Anonymous from this machine while enforced: the dashboard may be read, nothing else. */
  localReadOnly: z.boolean().optional(),
  /**
   * A worker calling with this token, from where this request came, is trusted as the operator's
   * own (its result alone may be accepted; no spot checks) unless it says it is a browser.
   */
  trustedWorker: z.boolean(),
  /** What the operator console may do with these credentials: read it, and change tasks. */
  console: z.object({ read: z.boolean(), write: z.boolean() }).optional(),
});
export type WhoAmI = z.infer<typeof WhoAmI>;

/**
 * Every error code the API answers with, and its HTTP status: `bad_request` (400: a request the
 * HTTP layer cannot take, such as a body shorter than its Content-Length or a broken WebSocket
 * handshake), `invalid_json`, `validation`, `unknown_type` (400), `unauthorized` (401),
 * `forbidden` (403), `not_found` (404), `stale_lease`, `cancelled`, `conflict` (409: also a
 * repeated report of an accepted lease with another result), `idempotency_conflict` (409: a known
 * idempotency key with other params), `payload_too_large` (413), `unsupported_media_type` (415:
 * a body that is not `application/json`), `rate_limited` (429), `quota_exceeded` (429: the API
 * key's quota of unfinished tasks or submits per second), `internal` (500), `unavailable`
 * (503).
 */
export const ApiErrorCode = z.enum([
  "bad_request",
  "invalid_json",
  "validation",
  "unknown_type",
  "unauthorized",
  "forbidden",
  "not_found",
  "stale_lease",
  "cancelled",
  "conflict",
  "idempotency_conflict",
  "payload_too_large",
  "unsupported_media_type",
  "rate_limited",
  "quota_exceeded",
  "internal",
  "unavailable",
  "storage_full",
  "invalid_pack",
]);
export type ApiErrorCode = z.infer<typeof ApiErrorCode>;

/** The one error shape of the API. */
export const ApiError = z.object({
  error: z.object({
    /** An `ApiErrorCode`; a string on the wire, so older clients read newer codes. */
    code: z.string().describe(`one of ${ApiErrorCode.options.join(", ")}`),
    message: z.string(),
    field: z.string().optional(),
  }),
});
export type ApiError = z.infer<typeof ApiError>;

export const WorkerInfo = z.object({
  id: z.string(),
  kind: WorkerKind,
  types: z.array(z.string()),
  concurrency: z.number().int().nullable(),
  firstSeen: z.number(),
  lastSeen: z.number(),
  online: z.boolean(),
  completed: z.number(),
  failed: z.number(),
  meanRunMs: z.number().nullable(),
  /** Agreements and disagreements with accepted results (replicated tasks, spot checks). */
  reputation: z.object({
    agree: z.number(),
    disagree: z.number(),
    trust: z.enum(["banned", "trusted", "established", "new"]),
  }).optional(),
});
export type WorkerInfo = z.infer<typeof WorkerInfo>;

export const Counts = z.record(z.string(), z.number());
export const Stats = z.object({
  /** Tasks per status, overall. */
  status: Counts,
  /** `type` → status → count. */
  byType: z.record(z.string(), Counts),
  /** `queue` → status → count. */
  byQueue: z.record(z.string(), Counts),
  /** Per-second series over the last 10 minutes, oldest first; `t0` is the first second. */
  rates: z.object({
    t0: z.number(),
    completed: z.array(z.number()),
    failed: z.array(z.number()),
    submitted: z.array(z.number()),
  }),
  workersOnline: z.number(),
  /** The coordinator's own known-answer spot checks (not in the counts above): made, completed … */
  spotChecks: Counts.optional(),
  /**
   * This coordinator process's group committer since it started (not fleet-wide): atomic
   * commits, intents packed into them, set/delete and sum mutations written, checks that failed.
   */
  committer: z.object({
    commits: z.number(),
    intents: z.number(),
    mutations: z.number(),
    sums: z.number(),
    conflicts: z.number(),
  }).optional(),
});
export type Stats = z.infer<typeof Stats>;

// ---------------------------------------------------------------------------------------------
// WebSocket lease protocol (`GET /api/ws`). Credit-based flow control: a worker announces free
// slots; the coordinator pushes at most that many leases, as soon as matching work exists.
// Replies to heartbeat/complete/fail/release carry the client's `ref`.

export const HelloMessage = z.object({
  type: z.literal("hello"),
  /**
   * The worker's {@link PROTOCOL_VERSION}; another one is closed with `CLOSE.outdated`. Absent
   * (raw clients, tests): accepted as the current one.
   */
  protocol: z.number().int().min(1).optional(),
  workerId: WorkerId,
  kind: WorkerKind,
  types: z.array(Ref).max(100).optional(),
  queues: z.array(QueueName).max(100).optional(),
  /** Free slots: how many leases the worker can take now. */
  slots: z.number().int().min(0).max(256),
  /** Browser volunteers: a stable id kept in localStorage, for the donor's totals. */
  donorId: z.string().min(1).max(100).optional(),
  concurrency: z.number().int().min(1).max(1024).optional(),
  /**
   * Leases this worker still holds from an earlier socket (it reconnected, say after a
   * coordinator restart): re-attached if KV still holds them for this workerId, so their reports
   * are accepted on this socket; the welcome lists those refused.
   */
  leases: z.array(z.object({ taskId: Ref, leaseId: Ref })).max(1024).optional(),
});

export const CreditMessage = z.object({
  type: z.literal("credit"),
  /** Free slots now (absolute, not a delta): 0 pauses delivery. */
  slots: z.number().int().min(0).max(256),
});

export const SocketHeartbeat = z.object({
  type: z.literal("heartbeat"),
  ref: z.number().int(),
  taskId: Ref,
  leaseId: Ref,
  progress: z.number().min(0).max(1).optional(),
});

export const SocketComplete = z.object({
  type: z.literal("complete"),
  ref: z.number().int(),
  taskId: Ref,
  leaseId: Ref,
  result: sizedJson(LIMITS.resultBytes, "result"),
  /** Handler run time as the worker saw it: it can lower the donor's credit, never raise it. */
  runMs: z.number().min(0).optional(),
});

/**
 * The worker started running a lease it holds after it waited for a free slot (prefetched).
 * Donor credit is the coordinator's time from this notice (without one, from the lease) to the
 * accepted report, capped by the task's timeout; no reply.
 */
export const SocketStarted = z.object({
  type: z.literal("started"),
  taskId: Ref,
  leaseId: Ref,
});

export const SocketFail = z.object({
  type: z.literal("fail"),
  ref: z.number().int(),
  taskId: Ref,
  leaseId: Ref,
  error: TaskError,
});

export const SocketRelease = z.object({
  type: z.literal("release"),
  ref: z.number().int(),
  taskId: Ref,
  leaseId: Ref,
});

/** Everything a worker may send. */
export const ClientMessage = z.discriminatedUnion("type", [
  HelloMessage,
  CreditMessage,
  SocketHeartbeat,
  SocketComplete,
  SocketFail,
  SocketRelease,
  SocketStarted,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

/** Everything the coordinator sends. */
export const ServerMessage = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("welcome"),
    workerId: z.string(),
    serverTime: z.number(),
    /** Leases named in the hello that were not re-attached (ended, or not this worker's). */
    refused: z.array(z.string()).optional(),
  }),
  z.object({ type: z.literal("lease"), lease: Lease }),
  z.object({
    type: z.literal("ack"),
    ref: z.number().int(),
    ok: z.boolean(),
    /** When !ok: `stale_lease`, `cancelled`, `not_found`, `validation`, ... */
    code: z.string().optional(),
    message: z.string().optional(),
    expiresAt: z.number().optional(),
  }),
  /** A task this worker holds was cancelled: stop working on it. */
  z.object({ type: z.literal("cancel"), taskId: z.string(), leaseId: z.string() }),
  z.object({
    type: z.literal("error"),
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
  }),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** WebSocket close codes the coordinator uses (4000–4999 are the application's). */
export const CLOSE = Object.freeze({
  /** The first message was not a valid hello. */
  badHello: 4000,
  unauthorized: 4001,
  tooManySockets: 4002,
  rateLimited: 4003,
  /** Too many invalid messages. */
  protocol: 4004,
  /** The hello's protocol version is not this coordinator's: upgrade the worker. */
  outdated: 4005,
  shuttingDown: 1001,
});

// ---------------------------------------------------------------------------------------------
// Replies that had no schema of their own here: health, batch reports, donors.

/**
 * A code read off the wire (an `ApiError`, a report outcome, a socket ack) as an `ApiErrorCode`;
 * undefined when absent or newer than this build, so transports branch only on codes in the list.
 */
export const knownErrorCode = (code: unknown): ApiErrorCode | undefined =>
  ApiErrorCode.safeParse(code).data;

/** `GET /health`: liveness, and the task types this coordinator accepts. */
export const Health = z.object({
  status: z.literal("ok"),
  version: z.string(),
  uptimeMs: z.number(),
  types: z.array(z.string()),
});
export type Health = z.infer<typeof Health>;

/** `POST /leases/report`: one outcome per item, in the items' order. */
export const ReportResponse = z.object({ outcomes: z.array(ReportOutcome) });
export type ReportResponse = z.infer<typeof ReportResponse>;

/** `POST /tasks`: one task for one submitted, `{ tasks }` in order for a batch. */
export const SubmitResponse = z.union([Task, z.object({ tasks: z.array(Task) })]);
export type SubmitResponse = z.infer<typeof SubmitResponse>;

/** `GET /tasks`: one page, and the cursor of the next (null after the last). */
export const TaskPage = z.object({ tasks: z.array(Task), cursor: z.string().nullable() });
export type TaskPage = z.infer<typeof TaskPage>;

/** `POST /tasks/await`: the tasks in the order asked; null for unknown ids. */
export const AwaitResponse = z.object({ tasks: z.array(Task.nullable()) });
export type AwaitResponse = z.infer<typeof AwaitResponse>;

/** `GET /workers`. */
export const WorkersResponse = z.object({ workers: z.array(WorkerInfo) });
export type WorkersResponse = z.infer<typeof WorkersResponse>;

/** A browser volunteer's totals, kept from its accepted results. */
export const Donor = z.object({ id: z.string(), completed: z.number(), computeMs: z.number() });
export type Donor = z.infer<typeof Donor>;

/** `GET /donors`: most tasks first. */
export const DonorsResponse = z.object({ donors: z.array(Donor) });
export type DonorsResponse = z.infer<typeof DonorsResponse>;

/** Tasks and compute time, as one donor's credit counts them. */
export const CreditFigures = z.object({ tasks: z.number().int(), computeMs: z.number() });
export type CreditFigures = z.infer<typeof CreditFigures>;

/**
 * `GET /donors/{id}`: one donor's credit as the coordinator saw it. `checked`: results it
 * accepted (agreed by a quorum, a passed spot check, or a type that needs no check); `pending`:
 * results it holds as votes on tasks not yet decided, worth nothing until another volunteer's
 * result agrees (`waitingForRecord` of them need a voter with a record).
 */
export const DonorCredit = z.object({
  id: z.string(),
  checked: CreditFigures,
  pending: CreditFigures.extend({ waitingForRecord: z.number().int() }),
});
export type DonorCredit = z.infer<typeof DonorCredit>;

/** One task type as volunteers read it: its name and its handler's description. */
export const TypeAbout = z.object({ type: TaskType, description: z.string() });
export type TypeAbout = z.infer<typeof TypeAbout>;

/**
 * `GET /about`: who runs this grid and why (the operator's `--project-*` options; null when
 * unset), and the task types it runs with their descriptions.
 */
export const About = z.object({
  project: z.object({
    name: z.string().nullable(),
    description: z.string().nullable(),
    owner: z.string().nullable(),
    url: z.string().nullable(),
  }),
  types: z.array(TypeAbout),
});
export type About = z.infer<typeof About>;

// ---------------------------------------------------------------------------------------------
// The live feed (`GET /api/live`, Server-Sent Events): a `stats` event once a second and a `task`
// event for each task that ends, fleet-wide.

/** Percentiles of a window of samples, in milliseconds; null when there are none. */
export const Percentiles = z.object({
  p50: z.number().nullable(),
  p90: z.number().nullable(),
  p99: z.number().nullable(),
  count: z.number().int(),
});
export type Percentiles = z.infer<typeof Percentiles>;

/**
 * What a worker is doing, as the coordinator sees it: `busy` (holds leases), `idle` (connected or
 * seen lately, holding none), `draining` (holds leases, takes no more: a shutdown or a pause),
 * `offline` (left: its socket closed cleanly, or it stopped calling), `crashed` (its socket broke
 * off, or a lease of its expired unreported).
 */
export const WorkerState = z.enum(["busy", "idle", "draining", "offline", "crashed"]);
export type WorkerState = z.infer<typeof WorkerState>;

export const LiveWorker = z.object({
  id: z.string(),
  kind: WorkerKind,
  /** Tasks per second completed over the last `rateWindowS` seconds. */
  rate: z.number(),
  completed: z.number(),
  failed: z.number(),
  meanRunMs: z.number().nullable(),
  lastSeen: z.number(),
  state: WorkerState,
  types: z.array(z.string()),
  concurrency: z.number().int().nullable(),
  /** Leases it holds on a socket of this coordinator (null: not connected here). */
  held: z.number().int().nullable(),
  /** The last error one of its attempts ended with. */
  lastError: z.object({ code: z.string(), message: z.string(), at: z.number() }).nullable(),
});
export type LiveWorker = z.infer<typeof LiveWorker>;

export const LiveFailure = z.object({
  id: z.string(),
  type: z.string(),
  code: z.string(),
  message: z.string(),
  /** When the task failed for good. */
  at: z.number(),
});
export type LiveFailure = z.infer<typeof LiveFailure>;

/**
 * Why the open work of one (queue, type) waits, from counters (never a scan of the tasks): `ready`
 * to claim now, `delayed` (a start time or retry backoff), `leased` (running), `votes` (replicated
 * tasks that answered but need `voters` more distinct volunteers), `held` (slots held back for a
 * voter with a record); `takers`: online workers that accept the type.
 */
export const BacklogRow = z.object({
  queue: z.string(),
  type: z.string(),
  ready: z.number().int(),
  delayed: z.number().int(),
  leased: z.number().int(),
  votes: z.number().int(),
  voters: z.number().int(),
  held: z.number().int(),
  takers: z.number().int(),
});
export type BacklogRow = z.infer<typeof BacklogRow>;

/** Work is ready, workers that take it are idle, and nothing was claimed since `since`. */
export const Stall = z.object({
  since: z.number(),
  ready: z.number().int(),
  idle: z.number().int(),
  types: z.array(z.string()),
});
export type Stall = z.infer<typeof Stall>;

/** One task type's latency, kept apart: queue wait, run time, wait for verification. */
export const TypeLatency = z.object({
  queueWait: Percentiles,
  run: Percentiles,
  verify: Percentiles,
});
export type TypeLatency = z.infer<typeof TypeLatency>;

/** The `stats` event. */
export const LiveSnapshot = z.object({
  at: z.number(),
  stats: Stats,
  workers: z.object({
    online: z.record(WorkerKind, z.number().int()),
    /** Workers by state: online first (busy, idle, draining), then offline and crashed. */
    states: z.record(WorkerState, z.number().int()),
    /** Online workers, fastest first, then those that left lately (at most 50). */
    list: z.array(LiveWorker),
    rateWindowS: z.number(),
  }),
  latency: z.object({
    windowMs: z.number(),
    queueWait: Percentiles,
    run: Percentiles,
    /** From the first replica's answer to the decision (replicated tasks only). */
    verify: Percentiles,
    byType: z.record(z.string(), TypeLatency),
  }),
  backlog: z.array(BacklogRow),
  stall: Stall.nullable(),
  /** The last failed tasks, newest first. */
  failures: z.array(LiveFailure),
  /** Failed tasks in the latency window, by type and error code. */
  failureCounts: z.array(z.object({ type: z.string(), code: z.string(), count: z.number() })),
  /** How long the stall alert waits (`--stall-alert-ms`). */
  stallAlertMs: z.number(),
});
export type LiveSnapshot = z.infer<typeof LiveSnapshot>;

/** The `task` event: a task reached a final status. */
export const LiveTaskEvent = z.object({
  id: z.string(),
  type: z.string(),
  status: TaskStatus,
  workerId: z.string().nullable(),
  workerKind: WorkerKind.nullable(),
});
export type LiveTaskEvent = z.infer<typeof LiveTaskEvent>;

// ---------------------------------------------------------------------------------------------
// Jobs: many tasks of one type as one unit of work (`/api/jobs`). A job's tasks are ordinary
// tasks that carry their job's id and their index in it (`Task.job`); their ids are
// `<jobId>-<index, 8 digits>`, so input order is key order.

/** Limits of jobs, beside `LIMITS` (a create or an append is also bounded by the body size). */
export const JOB_LIMITS = Object.freeze({
  /** Inputs per create or append request; more go in further appends to an open job. */
  inputsPerRequest: 100_000,
  /** Tasks one job may hold in all (index width: 8 digits). */
  tasks: 99_999_999,
  /** Lines per page of `GET /jobs/{id}/results` reads (the stream itself is unbounded). */
  resultsPage: 1000,
  /** Running tasks whose progress fractions a status view reads at most. */
  progressSamples: 1000,
});

/**
 * `running`: tasks may still end (or the job is open for appends). A job is finished when it is
 * closed and every task has ended: `completed` when all completed, `cancelled` when it was
 * cancelled, `failed` otherwise (some task failed or was cancelled on its own).
 */
export const JobStatus = z.enum(["running", "completed", "failed", "cancelled"]);
export type JobStatus = z.infer<typeof JobStatus>;

/** The job a task belongs to, and its place in the job's inputs. */
export const TaskJobRef = Task.shape.job.unwrap();
export type TaskJobRef = z.infer<typeof TaskJobRef>;

const JobInput = sizedJson(LIMITS.paramsBytes, "params");
const JobInputs = z.array(JobInput).max(
  JOB_LIMITS.inputsPerRequest,
  `at most ${JOB_LIMITS.inputsPerRequest} inputs per request: append the rest to an open job`,
);

/** `POST /jobs`: `inputs` are the params of each task, in order (index 0, 1, ...). */
export const CreateJob = z.object({
  type: TaskType,
  inputs: JobInputs,
  name: z.string().min(1).max(200).optional(),
  queue: QueueName.default(DEFAULTS.queue),
  priority: z.number().int().min(-1000).max(1000).default(DEFAULTS.priority),
  maxAttempts: z.number().int().min(1).max(LIMITS.maxAttempts).default(DEFAULTS.maxAttempts),
  timeoutMs: z.number().int().min(1).max(24 * 3600_000).optional(),
  leaseMs: z.number().int().min(1000).max(3600_000).default(DEFAULTS.leaseMs),
  backoffMs: z.number().int().min(0).max(3600_000).default(DEFAULTS.backoffMs),
  verification: Verification.optional(),
  /** Open: more inputs may be appended (`POST /jobs/{id}/tasks`) until `POST /jobs/{id}/close`. */
  open: z.boolean().default(false),
  /** The same key returns the same job (200), never a second one. */
  idempotencyKey: z.string().min(1).max(200).refine((k) => k.isWellFormed(), {
    message: "must be well-formed UTF-16 (no lone surrogates)",
  }).optional(),
  /** POSTed a `JobWebhook` once the job finishes (http or https). */
  callbackUrl: z.string().max(2000).url().refine((u) => /^https?:\/\//i.test(u), {
    message: "must be an http or https URL",
  }).optional(),
  /**
   * How long the finished job, its tasks and results are kept before they are purged, in ms;
   * overrides the coordinator's `--retention` for this job.
   */
  retentionMs: z.number().int().min(0).max(10 * 365 * 24 * 3600_000).optional(),
}).refine((j) => j.open || j.inputs.length > 0, {
  message: "a job that is not open needs at least one input",
  path: ["inputs"],
});
export type CreateJob = z.input<typeof CreateJob>;
export type CreateJobParsed = z.infer<typeof CreateJob>;

/** `POST /jobs/{id}/tasks`: more inputs for an open job (409 `conflict` once it is closed). */
export const AppendJob = z.object({ inputs: JobInputs.min(1) });
export type AppendJob = z.input<typeof AppendJob>;

/** Tasks of a job per status (`pending` includes delayed retries); `total` is their sum. */
export const JobCounts = z.object({
  total: z.number().int(),
  pending: z.number().int(),
  processing: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
});
export type JobCounts = z.infer<typeof JobCounts>;

/** A job as clients see it (`GET /jobs/{id}`). */
export const Job = z.object({
  id: z.string(),
  name: z.string().nullable(),
  type: z.string(),
  queue: z.string(),
  priority: z.number().int(),
  maxAttempts: z.number().int(),
  timeoutMs: z.number().int().nullable(),
  verification: Verification.nullable(),
  status: JobStatus,
  /** Still accepting appends. */
  open: z.boolean(),
  counts: JobCounts,
  progress: z.object({
    /** Tasks that ended (completed, failed or cancelled). */
    finished: z.number().int(),
    total: z.number().int(),
    /**
     * (finished + the sum of running tasks' latest progress fractions) / total, in [0, 1]: a job
     * of a few long tasks still moves. 0 for an empty open job.
     */
    fraction: z.number().min(0).max(1),
    /** Running tasks that reported progress, latest fraction each (at most `progressSamples`). */
    running: z.array(
      z.object({ taskId: z.string(), index: z.number().int(), progress: z.number() }),
    ),
  }),
  /** Tasks finished per second since the job was created (until it finished). */
  throughput: z.number(),
  /** Estimated ms until every task has ended, from throughput; null when unknown or finished. */
  etaMs: z.number().nullable(),
  createdAt: z.number(),
  /** When it was closed (at creation unless created open); null while open. */
  closedAt: z.number().nullable(),
  /** When the last task ended, once the job is finished. */
  finishedAt: z.number().nullable(),
  cancelledAt: z.number().nullable(),
  idempotencyKey: z.string().nullable(),
  /** The id of the API key that created it; null without one (open mode). */
  owner: z.string().nullable(),
  callbackUrl: z.string().nullable(),
  /** When a finished job is purged, with its tasks and results (`--retention` or its own). */
  purgeAt: z.number().nullable().optional(),
  /** The webhook's delivery, when there is a callbackUrl. */
  webhook: z.object({
    deliveredAt: z.number().nullable(),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
  }).nullable(),
});
export type Job = z.infer<typeof Job>;

/** `POST /jobs` (201, or 200 for a known idempotency key) and the job routes that change it. */
export const JobResponse = Job;

/** `POST /jobs/{id}/tasks`: the indexes the appended inputs got. */
export const AppendJobResponse = z.object({
  job: Job,
  /** Index of the first appended input; the rest follow in order. */
  firstIndex: z.number().int(),
  count: z.number().int(),
});
export type AppendJobResponse = z.infer<typeof AppendJobResponse>;

/** `POST /jobs/{id}/cancel` and `/retry`: how many tasks it touched, and the job after. */
export const JobActionResponse = z.object({ job: Job, affected: z.number().int() });
export type JobActionResponse = z.infer<typeof JobActionResponse>;

/** `DELETE /jobs/{id}` (a finished job only: 409 otherwise): how many tasks were purged. */
export const JobDeleteResponse = z.object({ id: z.string(), purged: z.number().int() });
export type JobDeleteResponse = z.infer<typeof JobDeleteResponse>;

/** `GET /jobs?status=&limit=&cursor=`: newest first; clients see only their own jobs. */
export const JobListQuery = z.object({
  status: JobStatus.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(100).optional(),
});
export const JobPage = z.object({ jobs: z.array(Job), cursor: z.string().nullable() });
export type JobPage = z.infer<typeof JobPage>;

/**
 * `GET /jobs/{id}/results?order=completion|input&follow=1&after=CURSOR`: NDJSON (or, with
 * `Accept: text/event-stream`, SSE events named `result`, data one line, id its cursor, then one
 * `end` event), one line per ended task. `cursor` resumes right after this line (`?after=`) in
 * the same order. Without `follow` the stream ends after the tasks ended so far; with it, once
 * the job is finished.
 */
export const JobResultsQuery = z.object({
  order: z.enum(["completion", "input"]).default("completion"),
  follow: z.enum(["0", "1", "true", "false"]).optional(),
  after: z.string().max(200).optional(),
});
export const JobResultLine = z.object({
  index: z.number().int(),
  id: z.string(),
  status: z.enum(["completed", "failed", "cancelled"]),
  result: z.unknown().optional(),
  error: TaskError.optional(),
  cursor: z.string(),
});
export type JobResultLine = z.infer<typeof JobResultLine>;

/**
 * The webhook body POSTed to `callbackUrl` once a job finishes, with header
 * `x-tessera-signature: sha256=<hex HMAC-SHA256 of the raw body>` (the coordinator's secret),
 * `x-tessera-job` and `x-tessera-delivery` (stable per job: deliveries are retried with backoff
 * until a 2xx, so a receiver dedupes by it).
 */
export const JobWebhook = z.object({
  event: z.literal("job.finished"),
  job: Job,
  deliveryId: z.string(),
  sentAt: z.number(),
});
export type JobWebhook = z.infer<typeof JobWebhook>;
/**
 * `GET /api/public`: the grid as anyone may see it (the donate page links here): totals, task
 * types with their descriptions, throughput, donors. No task, worker or key data.
 */
export const PublicStats = z.object({
  at: z.number(),
  totals: z.object({
    completed: z.number(),
    queued: z.number(),
    running: z.number(),
    workersOnline: z.number(),
    browsersOnline: z.number(),
  }),
  types: z.array(z.object({
    type: z.string(),
    description: z.string(),
    completed: z.number(),
    queued: z.number(),
  })),
  /** Per-second series over the last 10 minutes, oldest first; `t0` is the first second. */
  rates: z.object({
    t0: z.number(),
    completed: z.array(z.number()),
    submitted: z.array(z.number()),
  }),
  donors: z.object({ count: z.number(), completed: z.number(), computeMs: z.number() }),
});
export type PublicStats = z.infer<typeof PublicStats>;
