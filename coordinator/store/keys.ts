/**
 * The KV key layout, all of it, in one place. No other file builds a key.
 *
 * | key                                        | value            | written by                 |
 * | ------------------------------------------ | ---------------- | -------------------------- |
 * | ["task", id]                               | StoredTask       | enqueue, end of an attempt |
 * | ["ready", queue, type, prio, fair, id, slot]| 1               | enqueue, requeue, retry    |
 * | ["delayed", runAt, id, slot]               | 1                | enqueue with runAt, backoff|
 * | ["lease", taskId, leaseId]                 | LeaseRecord      | claim, heartbeat           |
 * | ["failed", id]                             | 1                | fail for good              |
 * | ["by_status", bucket, queue, id]           | {type, owner}    | submit; a task ends, retry |
 * | ["by_owner", ownerKeyId, id]               | {type, queue}    | submit by an API key       |
 * | ["owner_open", ownerKeyId]                 | KvU64 (wrapping) | submit, a task ends (sum)  |
 * | ["idem", idempotencyKey]                   | task id (*)      | enqueue (no owner)         |
 * | ["idem_owner", ownerKeyId, idempotencyKey] | task id (*)      | enqueue by an API key      |
 * | ["queue", name]                            | 1                | enqueue (first time seen)  |
 * | ["count", type, queue, status]             | KvU64 (wrapping) | every transition (sum)     |
 * | ["wait", queue, type, state]               | KvU64 (wrapping) | why open work waits (sum)  |
 * | ["count_spot", status]                     | KvU64            | spot checks (sum)          |
 * | ["rate", kind, epochSecond]                | KvU64            | submit, complete, fail     |
 * | ["worker", id]                             | WorkerRecord     | claim (at most every few s)|
 * | ["wstat", workerId, stat]                  | KvU64            | complete, fail (sum)       |
 * | ["signal", "ready", queue, type]           | KvU64            | anything that adds ready   |
 * | ["bus", at, uid]                           | BusEvent (60 s)  | cancel (for other procs)   |
 * | ["coordinator", instanceId]                | Presence (5 s)   | every coordinator, each 1 s|
 * | ["ended", at, instanceId, part]            | EndedTask[] (60s)| coordinators with peers    |
 * | ["batch", batchId]  / [.., part]           | phase / task ids | batches over one commit    |
 * | ["donor", donorId, stat]                   | KvU64            | socket completions (sum)   |
 * | ["donor_pending", donorId, taskId]         | PendingCredit    | a vote on an open task     |
 * | ["replica", taskId, leaseId]               | result (UTF-8)   | replica completion         |
 * | ["result", taskId, part]                   | UTF-8 JSON bytes | completion, when too large |
 * | ["rep", "w" | "d", id, "agree"|"disagree"] | KvU64            | quorum decision, spot check|
 * | ["spot", taskId]                           | expected hash    | spot-check task creation   |
 * | ["meta", "layout"]                         | layout version   | start (migrate.ts)         |
 * | ["meta", "migration", version]             | resume cursor    | a migration under way      |
 * | ["verify_by", verifyBy, taskId]            | 1                | quorum task starts waiting |
 * | ["apikey", keyId]                          | ApiKeyRecord     | keys CLI: create, revoke   |
 * | ["apikey_hash", sha256(key)]               | ApiKeyRef        | create; deleted on revoke  |
 * | ["apikey_role", role]                      | true             | create (never deleted)     |
 * | ["job", jobId]                             | JobRecord        | create, append, close, end |
 * | ["job_owner", ownerKeyId, jobId]           | 1                | create by an API key       |
 * | ["job_idem", ownerKeyId | "", key]         | job id           | create with idempotencyKey |
 * | ["job_count", jobId, bucket]               | KvU64 (wrapping) | claim, a job task's change |
 * | ["job_done", jobId, at, taskId]            | line bytes (**)  | a job task ends (retry: -) |
 * | ["job_active", jobId]                      | 1                | create; gone once finished |
 * | ["job_hook", jobId]                        | WebhookState     | finish (with callbackUrl)  |
 * | ["job_hook_due", jobId]                    | 1                | finish; gone once delivered|
 * | ["hfile", sha]                             | {parts, bytes}   | pack load (after its parts)|
 * | ["hfile", sha, part]                       | Uint8Array ≤60 KB| pack load                  |
 * | ["hentry", version, type]                  | UnsignedEntry    | pack load (immutable)      |
 * | ["hcurrent", type]                         | {version, pack}  | pack load, reload          |
 * | ["hrevision"]                              | number           | pack load that changed any |
 * | ["meta", "handlers_key"]                   | ed25519 key pair | first start on KV Connect  |
 *
 * (*) `{ id, batch }` when written by a batch over one commit.
 * (**) the result line's UTF-8 JSON without its closing brace, or a `JobDoneEntry` pointing at
 * the task when the result is too large to copy (jobs/job_writes.ts).
 *
 * Why this shape:
 * - A task's status is "pending" in its record while it is leased: the lease records say it is
 *   processing. A claim therefore writes no task record (3 mutations, not 4), and the task
 *   record changes only when an attempt ends. `taskView()` derives the status clients see.
 * - `slot` tells replicas of one task apart (quorum verification): 0 for ordinary tasks.
 * - `prio` is `1000 - priority`, so the natural key order is highest priority first, then by
 *   `fair`, the task's place among the lanes (clients, jobs) of its priority, so that lanes take
 *   turns (fair_share.ts), then by id, which is time-sortable (ULID): FIFO within a lane.
 * - Every change to a pending task also touches its ready (or delayed) entry, and every change
 *   to a leased task also touches its lease, so checking that one key's versionstamp is enough.
 * - Counters are `sum` mutations: they commute, so they never conflict and are packed freely.
 * - Idempotency keys are scoped per owner (the API key that submitted), so two clients never
 *   see each other's tasks through a shared key. Tasks without an owner (open mode) keep the
 *   original `["idem", key]` layout.
 * - Listing by status, queue or owner reads an index, so every page is full however many other
 *   tasks sit in between. `bucket` is `open` (pending or processing: a claim writes nothing, so
 *   the open entry stays while a task is leased; `processing` is listed from the leases),
 *   `completed`, `failed` or `cancelled`. Cost per task: 1 mutation at submit, 2 when it ends
 *   (delete the open entry, set the final one), 2 on a retry, plus 1 at submit for a task with
 *   an owner. A lifecycle is 9 mutations instead of 6 (10 with an owner). The entry's value
 *   carries what never changes (type, owner; type, queue), so other filters need no task read.
 * - A task record must fit one KV value (64 KiB of V8 encoding, where a float costs 9 bytes):
 *   a result that would not fit beside it is kept under `["result", id, part]` and the record
 *   says how many parts (task_record.ts).
 * - A batch over one commit marks its idempotency keys `{ id, batch }` and its records
 *   `batch`: while the batch head is in phase 1 (it may still be rolled back) lookups wait and
 *   reads do not see them (idempotency_lookup.ts, task_record.ts).
 * - A donor's pending credit (its votes on tasks not yet decided) is an index per donor, kept by
 *   the one write path of every transition (`transition.ts`): set with the vote, deleted when
 *   the task ends however it ends, so one donor's pending credit is one short range read.
 * - API keys are stored hashed: the raw key is shown once and never written. The hash index
 *   answers "which key is this?" in one read; revoking deletes it in the same operation that
 *   marks the record revoked, so a revoked key stops working at once, in every process.
 *
 * - A job's tasks have ids `<jobId>-<index, 8 digits>` (`jobTaskId`), so every per-task key of
 *   a job (`["task", …]`, `["lease", …]`, `["failed", …]`) is one key range in input order: input
 *   order results, a job's running leases (progress) and its failed tasks are range reads, with
 *   no index of their own. Per task a job adds 1 set at its end (`job_done`, deleted again by a
 *   retry) and up to 3 sums (claim +processing; end −processing +final), which the committer
 *   merges per key and commit; `pending` is derived (`nextIndex` − the others).
 * - `job_done` orders completion-order results by the ending transition's time and task id. KV
 *   has no versionstamped keys and a per-job sequence would be one hot key; readers re-read a
 *   window behind their cursor and dedupe by task id (job_results.ts).
 * - Handler bundles are named by content, so `["hfile", sha, …]` and `["hentry", …]` are written
 *   once and never change; a file's parts are written before its head, its head before an entry
 *   names it, and entries before `["hcurrent", …]` points at them (with the revision bump, in one
 *   operation), so a reader that follows the pointers never finds half of anything. Every
 *   version stays stored (see coordinator/packs/registry.ts for why).
 *
 * Decoding is as central as encoding: every key another file takes apart has a `decode…Key()`
 * here, so no file reads a key by position.
 *
 * @module
 */

export const PRIORITY_OFFSET = 1000;

export const taskKey = (id: string): Deno.KvKey => ["task", id];
export const taskPrefix = (): Deno.KvKey => ["task"];

/** What places a task in the ready index: its queue, type, priority, fair-share place and id. */
export interface ReadyPlace {
  queue: string;
  type: string;
  priority: number;
  id: string;
  /** Its place among the lanes of its (queue, type, priority) (fair_share.ts); 0 if none. */
  fair?: number;
}
export const readyKey = (t: ReadyPlace, slot = 0): Deno.KvKey => [
  "ready",
  t.queue,
  t.type,
  PRIORITY_OFFSET - t.priority,
  t.fair ?? 0,
  t.id,
  slot,
];
/** Every ready slot of one task. */
export const readySlotsPrefix = (t: ReadyPlace): Deno.KvKey => [
  "ready",
  t.queue,
  t.type,
  PRIORITY_OFFSET - t.priority,
  t.fair ?? 0,
  t.id,
];
/** The ready entries of one priority of one (queue, type), in fair-share order. */
export const readyPriorityPrefix = (queue: string, type: string, priority: number): Deno.KvKey => [
  "ready",
  queue,
  type,
  PRIORITY_OFFSET - priority,
];
export const readyPrefix = (queue: string, type: string): Deno.KvKey => ["ready", queue, type];

export const delayedKey = (runAt: number, id: string, slot = 0): Deno.KvKey => [
  "delayed",
  runAt,
  id,
  slot,
];
export const delayedPrefix = (): Deno.KvKey => ["delayed"];

export const leaseKey = (taskId: string, leaseId: string): Deno.KvKey => ["lease", taskId, leaseId];
export const leasesOfTask = (taskId: string): Deno.KvKey => ["lease", taskId];
export const leasePrefix = (): Deno.KvKey => ["lease"];

export const failedKey = (id: string): Deno.KvKey => ["failed", id];
/** Quorum tasks waiting for a voter with a record, by the time they give up. */
export const verifyByKey = (at: number, taskId: string): Deno.KvKey => ["verify_by", at, taskId];
export const verifyByPrefix = (): Deno.KvKey => ["verify_by"];
export const failedPrefix = (): Deno.KvKey => ["failed"];

export type ListBucket = "open" | "completed" | "failed" | "cancelled";
export const statusIndexKey = (bucket: ListBucket, queue: string, id: string): Deno.KvKey => [
  "by_status",
  bucket,
  queue,
  id,
];
export const statusIndexPrefix = (bucket: ListBucket, queue: string): Deno.KvKey => [
  "by_status",
  bucket,
  queue,
];
export const ownerIndexKey = (owner: string, id: string): Deno.KvKey => ["by_owner", owner, id];
export const ownerIndexPrefix = (owner: string): Deno.KvKey => ["by_owner", owner];
/** How many of one API key's tasks are not finished: what its `maxQueued` quota counts. */
export const ownerOpenKey = (owner: string): Deno.KvKey => ["owner_open", owner];
/** Whether a key is a list index entry (kept with its task record in a two-phase batch). */
export const isListIndexKey = (key: Deno.KvKey): boolean =>
  key[0] === "by_status" || key[0] === "by_owner";
/** The task id in an index, task or lease key: the last part, or the second for a lease. */
export const taskIdOf = (key: Deno.KvKey): string =>
  (key[0] === "lease" ? key[1] : key.at(-1)) as string;

/** Where an idempotency key points at its task; scoped by owner when there is one. */
export const idempotencyKey = (key: string, owner: string | null = null): Deno.KvKey =>
  owner === null ? ["idem", key] : ["idem_owner", owner, key];

export const queueKey = (name: string): Deno.KvKey => ["queue", name];
export const queuePrefix = (): Deno.KvKey => ["queue"];

export const countKey = (type: string, queue: string, status: string): Deno.KvKey => [
  "count",
  type,
  queue,
  status,
];
export const countPrefix = (): Deno.KvKey => ["count"];

/**
 * Why open work of one (queue, type) waits, kept as sums beside the status counts (see
 * `wait_counts.ts`): `delayed` slots (a start time or retry backoff not reached), `votes`
 * (replicated tasks that answered but need more distinct volunteers), `voters` (how many more
 * volunteers those need, summed), `held` (tasks whose slots are held back for a voter with a
 * record).
 */
export type WaitState = "delayed" | "votes" | "voters" | "held";
export const waitKey = (queue: string, type: string, state: WaitState): Deno.KvKey => [
  "wait",
  queue,
  type,
  state,
];
export const waitPrefix = (): Deno.KvKey => ["wait"];
export const decodeWaitKey = (
  key: Deno.KvKey,
): { queue: string; type: string; state: WaitState } => ({
  queue: String(key[1]),
  type: String(key[2]),
  state: key[3] as WaitState,
});
/** Whether a queue entry is a delayed one (not ready yet). */
export const isDelayedKey = (key: Deno.KvKey): boolean => key[0] === "delayed";

/** The coordinator's own known-answer checks, counted apart from clients' tasks. */
export const spotCountKey = (status: string): Deno.KvKey => ["count_spot", status];
export const spotCountPrefix = (): Deno.KvKey => ["count_spot"];
export const decodeSpotCountKey = (key: Deno.KvKey): { status: string } => ({
  status: String(key[1]),
});

export type RateKind = "submitted" | "completed" | "failed";
export const rateKey = (kind: RateKind, second: number): Deno.KvKey => ["rate", kind, second];
export const ratePrefix = (kind: RateKind): Deno.KvKey => ["rate", kind];

export const workerKey = (id: string): Deno.KvKey => ["worker", id];
export const workerPrefix = (): Deno.KvKey => ["worker"];

export type WorkerStat = "completed" | "failed" | "runMs";
export const workerStatKey = (id: string, stat: WorkerStat): Deno.KvKey => ["wstat", id, stat];
export const workerStatPrefix = (): Deno.KvKey => ["wstat"];

export type DonorStat = "completed" | "computeMs";
export const donorStatKey = (id: string, stat: DonorStat): Deno.KvKey => ["donor", id, stat];
export const donorPrefix = (): Deno.KvKey => ["donor"];
/** A donor's vote on a task not yet decided: credit it may earn (donor_credit.ts). */
export const donorPendingKey = (donorId: string, taskId: string): Deno.KvKey => [
  "donor_pending",
  donorId,
  taskId,
];
export const donorPendingPrefix = (donorId: string): Deno.KvKey => ["donor_pending", donorId];

export const replicaKey = (taskId: string, leaseId: string): Deno.KvKey => [
  "replica",
  taskId,
  leaseId,
];
/** One part of a result kept apart from its task record (task_record.ts). */
export const resultPartKey = (taskId: string, part: number): Deno.KvKey => [
  "result",
  taskId,
  part,
];
export const replicasOfTask = (taskId: string): Deno.KvKey => ["replica", taskId];
export type RepKind = "w" | "d";
export type RepStat = "agree" | "disagree";
export const repKey = (kind: RepKind, id: string, stat: RepStat): Deno.KvKey => [
  "rep",
  kind,
  id,
  stat,
];
export const repPrefix = (): Deno.KvKey => ["rep"];
export const spotKey = (taskId: string): Deno.KvKey => ["spot", taskId];

export const apiKeyKey = (id: string): Deno.KvKey => ["apikey", id];
export const apiKeyPrefix = (): Deno.KvKey => ["apikey"];
export const apiKeyHashKey = (sha256Hex: string): Deno.KvKey => ["apikey_hash", sha256Hex];
/** A key of this role was ever made: one read instead of a scan of every key. */
export const apiKeyRoleKey = (role: string): Deno.KvKey => ["apikey_role", role];

/** Journal of a batch too large for one commit: the head, and one entry per part (task ids). */
export const batchKey = (batchId: string): Deno.KvKey => ["batch", batchId];
export const batchPartKey = (batchId: string, part: string): Deno.KvKey => [
  "batch",
  batchId,
  part,
];
export const batchPrefix = (): Deno.KvKey => ["batch"];

/**
 * Bumped (a sum) by every commit that makes work of one (queue, type) ready, so coordinators that
 * share the store notice each other's work and discover queues and types at run time.
 */
export const readySignalKey = (queue: string, type: string): Deno.KvKey => [
  "signal",
  "ready",
  queue,
  type,
];
export const readySignalPrefix = (): Deno.KvKey => ["signal", "ready"];
/** The (queue, type) a ready-signal key counts. */
export function decodeReadySignalKey(key: Deno.KvKey): { queue: string; type: string } {
  return { queue: String(key[2]), type: String(key[3]) };
}
/** The parts of a ready entry's key (see `readyKey`). */
export function decodeReadyKey(
  key: Deno.KvKey,
): { queue: string; type: string; prio: number; fair: number; id: string; slot: number } {
  return {
    queue: String(key[1]),
    type: String(key[2]),
    prio: key[3] as number,
    fair: key[4] as number,
    id: String(key[5]),
    slot: key[6] as number,
  };
}
/** Whether a ready key has the layout-3 shape, without the fair-share place (migrate.ts). */
export const isLegacyReadyKey = (key: Deno.KvKey): boolean =>
  key[0] === "ready" && key.length === 6;
export const readyIndexPrefix = (): Deno.KvKey => ["ready"];
/** A short-lived notice for the other coordinators on the store (see `bus.ts`). */
export const busKey = (at: number, uid: string): Deno.KvKey => ["bus", at, uid];
export const busRange = (since: number): { start: Deno.KvKey; end: Deno.KvKey } => ({
  start: ["bus", since],
  end: ["bus", Number.MAX_SAFE_INTEGER],
});
export const decodeBusKey = (key: Deno.KvKey): { at: number; uid: string } => ({
  at: key[1] as number,
  uid: String(key[2]),
});
/** A coordinator process that shares the store, while it runs. */
export const coordinatorKey = (instanceId: string): Deno.KvKey => ["coordinator", instanceId];
export const coordinatorPrefix = (): Deno.KvKey => ["coordinator"];
/** Tasks one coordinator ended in a short span, for the other coordinators' live feeds. */
export const endedKey = (at: number, instanceId: string, part: number): Deno.KvKey => [
  "ended",
  at,
  instanceId,
  part,
];
export const endedRange = (since: number): { start: Deno.KvKey; end: Deno.KvKey } => ({
  start: ["ended", since],
  end: ["ended", Number.MAX_SAFE_INTEGER],
});
export const decodeEndedKey = (key: Deno.KvKey): { at: number; instanceId: string } => ({
  at: key[1] as number,
  instanceId: String(key[2]),
});
/** The version of this key layout the store holds (see `migrate.ts`). */
export const handlerFileKey = (sha: string): Deno.KvKey => ["hfile", sha];
export const handlerFilePartKey = (sha: string, part: number): Deno.KvKey => ["hfile", sha, part];
export const handlerEntryKey = (version: string, type: string): Deno.KvKey => [
  "hentry",
  version,
  type,
];
export const handlerEntriesOf = (version: string): Deno.KvKey => ["hentry", version];
export const handlerCurrentKey = (type: string): Deno.KvKey => ["hcurrent", type];
export const handlerCurrentPrefix = (): Deno.KvKey => ["hcurrent"];
export const handlerRevisionKey = (): Deno.KvKey => ["hrevision"];
/** Only for a KV Connect store (no data folder to keep the key file in). */
export const handlerSigningKeyKey = (): Deno.KvKey => ["meta", "handlers_key"];
export const decodeHandlerCurrentKey = (key: Deno.KvKey): { type: string } => ({
  type: String(key[1]),
});

export const layoutKey = (): Deno.KvKey => ["meta", "layout"];
/** Where a migration to `version` got to, so that one cut short resumes there. */
export const migrationCursorKey = (version: number): Deno.KvKey => ["meta", "migration", version];
/** The one key of the layout before the ready signal had a key per (queue, type). */
export const legacyReadySignalKey = (): Deno.KvKey => ["signal", "ready"];
/** Layout 5's lease expiry index `["lease_exp", expiresAt, taskId, leaseId]`, gone in 6. */
export const legacyLeaseExpiryPrefix = (): Deno.KvKey => ["lease_exp"];
/**
 * Layout 6's holder markers `["holder", taskId, "w:"+worker | "d:"+donor]`: who may take no
 * other slot of a replicated task. In 7 the task record holds them (`holding`).
 */
export const legacyHolderPrefix = (): Deno.KvKey => ["holder"];
/** One string per (queue, type) pair, for maps keyed by it. */
export const pairId = (queue: string, type: string): string => `${queue}\u0001${type}`;

/** What every `keyString` of a key under `prefix` starts with. */
export const keyStringPrefix = (prefix: Deno.KvKey): string => keyString(prefix) + "\u0001";

/** A stable string for a key, used to detect two intents touching one key in one commit. */
export const keyString = (key: Deno.KvKey): string => key.map(String).join("\u0001");

// ---------------------------------------------------------------------------------------------
// Decoders: the parts of keys read back from `kv.list()`.

export const decodeTaskKey = (key: Deno.KvKey): { id: string } => ({ id: String(key[1]) });
export const decodeFailedKey = decodeTaskKey;
export const decodeLeaseKey = (key: Deno.KvKey): { taskId: string; leaseId: string } => ({
  taskId: String(key[1]),
  leaseId: String(key[2]),
});
export const decodeDelayedKey = (key: Deno.KvKey): { runAt: number; id: string; slot: number } => ({
  runAt: key[1] as number,
  id: String(key[2]),
  slot: (key[3] as number | undefined) ?? 0,
});
export const decodeQueueKey = (key: Deno.KvKey): { name: string } => ({ name: String(key[1]) });
export const decodeCountKey = (
  key: Deno.KvKey,
): { type: string; queue: string; status: string } => ({
  type: String(key[1]),
  queue: String(key[2]),
  status: String(key[3]),
});
export const decodeRateKey = (key: Deno.KvKey): { kind: RateKind; second: number } => ({
  kind: key[1] as RateKind,
  second: key[2] as number,
});
export const decodeWorkerStatKey = (key: Deno.KvKey): { workerId: string; stat: WorkerStat } => ({
  workerId: String(key[1]),
  stat: key[2] as WorkerStat,
});
export const decodeDonorStatKey = (key: Deno.KvKey): { donorId: string; stat: DonorStat } => ({
  donorId: String(key[1]),
  stat: key[2] as DonorStat,
});
export const decodeDonorPendingKey = (key: Deno.KvKey): { donorId: string; taskId: string } => ({
  donorId: String(key[1]),
  taskId: String(key[2]),
});
export const decodeVerifyByKey = (key: Deno.KvKey): { at: number; taskId: string } => ({
  at: key[1] as number,
  taskId: String(key[2]),
});
/** A batch journal's head (`part` null) or one of its parts. */
export const decodeBatchKey = (key: Deno.KvKey): { batchId: string; part: string | null } => ({
  batchId: String(key[1]),
  part: key.length > 2 ? String(key[2]) : null,
});

// ---------------------------------------------------------------------------------------------
// Jobs (coordinator/jobs/).

/** Digits of a job task's index in its id. */
const JOB_INDEX_DIGITS = 8;
/** The id of a job's task at `index`: sorts in input order under the job's prefix. */
export const jobTaskId = (jobId: string, index: number): string =>
  `${jobId}-${String(index).padStart(JOB_INDEX_DIGITS, "0")}`;
/** The job id and index of a job task's id; null for a task of no job. */
export function decodeJobTaskId(taskId: string): { jobId: string; index: number } | null {
  const m = /^(.+)-(\d{8})$/.exec(taskId);
  return m ? { jobId: m[1], index: Number(m[2]) } : null;
}
/** The key range of one job's keys under a per-task prefix (`["task"]`, `["lease"]`, …). */
export function jobTaskRange(
  prefix: "task" | "lease" | "failed",
  jobId: string,
  fromIndex = 0,
): { start: Deno.KvKey; end: Deno.KvKey } {
  return { start: [prefix, jobTaskId(jobId, fromIndex)], end: [prefix, `${jobId}.`] };
}

export const jobKey = (id: string): Deno.KvKey => ["job", id];
export const jobPrefix = (): Deno.KvKey => ["job"];
export const decodeJobKey = (key: Deno.KvKey): { id: string } => ({ id: String(key[1]) });
export const jobOwnerKey = (owner: string, id: string): Deno.KvKey => ["job_owner", owner, id];
export const jobOwnerPrefix = (owner: string): Deno.KvKey => ["job_owner", owner];
export const decodeJobOwnerKey = (key: Deno.KvKey): { owner: string; id: string } => ({
  owner: String(key[1]),
  id: String(key[2]),
});
export const jobIdempotencyKey = (owner: string | null, key: string): Deno.KvKey => [
  "job_idem",
  owner ?? "",
  key,
];
export type JobBucket = "processing" | "completed" | "failed" | "cancelled";
export const jobCountKey = (jobId: string, bucket: JobBucket): Deno.KvKey => [
  "job_count",
  jobId,
  bucket,
];
export const jobCountPrefix = (jobId: string): Deno.KvKey => ["job_count", jobId];
export const decodeJobCountKey = (key: Deno.KvKey): { jobId: string; bucket: JobBucket } => ({
  jobId: String(key[1]),
  bucket: key[2] as JobBucket,
});
export const jobDoneKey = (jobId: string, at: number, taskId: string): Deno.KvKey => [
  "job_done",
  jobId,
  at,
  taskId,
];
export const jobDonePrefix = (jobId: string): Deno.KvKey => ["job_done", jobId];
export const decodeJobDoneKey = (
  key: Deno.KvKey,
): { jobId: string; at: number; taskId: string } => ({
  jobId: String(key[1]),
  at: key[2] as number,
  taskId: String(key[3]),
});
export const jobActiveKey = (id: string): Deno.KvKey => ["job_active", id];
export const jobActivePrefix = (): Deno.KvKey => ["job_active"];
export const decodeJobActiveKey = decodeJobKey;
export const jobHookKey = (id: string): Deno.KvKey => ["job_hook", id];
export const jobHookDueKey = (id: string): Deno.KvKey => ["job_hook_due", id];
export const jobHookDuePrefix = (): Deno.KvKey => ["job_hook_due"];
export const decodeJobHookDueKey = decodeJobKey;
/** Every key that belongs to one job beside its tasks' own (for its purge). */
export const jobSideKeys = (id: string): Deno.KvKey[] => [
  jobActiveKey(id),
  jobHookKey(id),
  jobHookDueKey(id),
];
/** The coordinator's webhook signing secret when the store has no folder of its own. */
export const webhookSecretKey = (): Deno.KvKey => ["meta", "webhook_secret"];
