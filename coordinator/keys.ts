/**
 * The KV key layout, all of it, in one place. No other file builds a key.
 *
 * | key                                        | value            | written by                 |
 * | ------------------------------------------ | ---------------- | -------------------------- |
 * | ["task", id]                               | StoredTask       | enqueue, end of an attempt |
 * | ["ready", queue, type, prio, id, slot]     | 1                | enqueue, requeue, retry    |
 * | ["delayed", runAt, id, slot]               | 1                | enqueue with runAt, backoff|
 * | ["lease", taskId, leaseId]                 | LeaseRecord      | claim, heartbeat           |
 * | ["lease_exp", expiresAt, taskId, leaseId]  | 1                | claim, heartbeat           |
 * | ["failed", id]                             | 1                | fail for good              |
 * | ["idem", idempotencyKey]                   | task id (*)      | enqueue (no owner)         |
 * | ["idem_owner", ownerKeyId, idempotencyKey] | task id (*)      | enqueue by an API key      |
 * | ["queue", name]                            | 1                | enqueue (first time seen)  |
 * | ["count", type, queue, status]             | KvU64 (wrapping) | every transition (sum)     |
 * | ["rate", kind, epochSecond]                | KvU64            | submit, complete, fail     |
 * | ["worker", id]                             | WorkerRecord     | claim (at most every few s)|
 * | ["wstat", workerId, stat]                  | KvU64            | complete, fail (sum)       |
 * | ["signal", "ready"]                        | KvU64            | anything that adds ready   |
 * | ["batch", batchId]  / [.., part]           | phase / task ids | batches over one commit    |
 * | ["donor", donorId, stat]                   | KvU64            | socket completions (sum)   |
 * | ["holder", taskId, "w:"+id | "d:"+donor]   | 1                | replica claim (quorum)     |
 * | ["replica", taskId, leaseId]               | result (UTF-8)   | replica completion         |
 * | ["result", taskId, part]                   | UTF-8 JSON bytes | completion, when too large |
 * | ["rep", "w" | "d", id, "agree"|"disagree"] | KvU64            | quorum decision, spot check|
 * | ["spot", taskId]                           | expected hash    | spot-check task creation   |
 * | ["apikey", keyId]                          | ApiKeyRecord     | keys CLI: create, revoke   |
 * | ["apikey_hash", sha256(key)]               | ApiKeyRef        | create; deleted on revoke  |
 *
 * (*) `{ id, batch }` when written by a batch over one commit.
 *
 * Why this shape:
 * - A task's status is "pending" in its record while it is leased: the lease records say it is
 *   processing. A claim therefore writes no task record (3 mutations, not 4), and the task
 *   record changes only when an attempt ends. `taskView()` derives the status clients see.
 * - `slot` tells replicas of one task apart (quorum verification): 0 for ordinary tasks.
 * - `prio` is `1000 - priority`, so the natural key order is highest priority first, then by
 *   id, which is time-sortable (ULID): FIFO within a priority.
 * - Every change to a pending task also touches its ready (or delayed) entry, and every change
 *   to a leased task also touches its lease, so checking that one key's versionstamp is enough.
 * - Counters are `sum` mutations: they commute, so they never conflict and are packed freely.
 * - Idempotency keys are scoped per owner (the API key that submitted), so two clients never
 *   see each other's tasks through a shared key. Tasks without an owner (open mode) keep the
 *   original `["idem", key]` layout.
 * - A task record must fit one KV value (64 KiB of V8 encoding, where a float costs 9 bytes):
 *   a result that would not fit beside it is kept under `["result", id, part]` and the record
 *   says how many parts (task_record.ts).
 * - A batch over one commit marks its idempotency keys `{ id, batch }` and its records
 *   `batch`: while the batch head is in phase 1 (it may still be rolled back) lookups wait and
 *   reads do not see them (idempotency_lookup.ts, task_record.ts).
 * - API keys are stored hashed: the raw key is shown once and never written. The hash index
 *   answers "which key is this?" in one read; revoking deletes it in the same operation that
 *   marks the record revoked, so a revoked key stops working at once, in every process.
 *
 * @module
 */

export const PRIORITY_OFFSET = 1000;

export const taskKey = (id: string): Deno.KvKey => ["task", id];
export const taskPrefix = (): Deno.KvKey => ["task"];

export const readyKey = (
  queue: string,
  type: string,
  priority: number,
  id: string,
  slot = 0,
): Deno.KvKey => ["ready", queue, type, PRIORITY_OFFSET - priority, id, slot];
/** Every ready slot of one task. */
export const readySlotsPrefix = (
  queue: string,
  type: string,
  priority: number,
  id: string,
): Deno.KvKey => ["ready", queue, type, PRIORITY_OFFSET - priority, id];
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

export const leaseExpiryKey = (expiresAt: number, taskId: string, leaseId: string): Deno.KvKey => [
  "lease_exp",
  expiresAt,
  taskId,
  leaseId,
];
export const leaseExpiryPrefix = (): Deno.KvKey => ["lease_exp"];

export const failedKey = (id: string): Deno.KvKey => ["failed", id];
export const failedPrefix = (): Deno.KvKey => ["failed"];

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

export const holderKey = (taskId: string, who: string): Deno.KvKey => ["holder", taskId, who];
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

/** Journal of a batch too large for one commit: the head, and one entry per part (task ids). */
export const batchKey = (batchId: string): Deno.KvKey => ["batch", batchId];
export const batchPartKey = (batchId: string, part: string): Deno.KvKey => [
  "batch",
  batchId,
  part,
];
export const batchPrefix = (): Deno.KvKey => ["batch"];

export const readySignalKey = (): Deno.KvKey => ["signal", "ready"];

/** A stable string for a key, used to detect two intents touching one key in one commit. */
export const keyString = (key: Deno.KvKey): string => key.map(String).join("\u0001");
