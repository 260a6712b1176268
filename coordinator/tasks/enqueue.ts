/**
 * enqueue: one or many new tasks, each written with its ready (or delayed) entry in the same
 * atomic operation. A batch is one intent, so one commit, while it fits the KV limits; larger
 * batches are split into a few intents. An idempotency key returns the existing task; keys are
 * scoped per owner (the submitting API key), so clients cannot reach each other's tasks.
 *
 * @module
 */
import { DEFAULT_MAX_TIMEOUT_MS, type Handler } from "../../handlers/contract.ts";
import { monotonicFactory } from "ulid";
import type { SubmitTaskParsed, Task, Verification } from "../../shared/protocol.ts";
import { type Ctx, getMany } from "../context.ts";
import { type Intent, whileLocked } from "../store/committer.ts";
import { freshSizeBound, keyBytes } from "../store/encoded_size.ts";
import { ApiFailure, storageFailure } from "../http/errors.ts";
import { type IdemRef, lookupIdempotent } from "./idempotency_lookup.ts";
import { refuseOtherRequest } from "./idempotency.ts";
import { checkQuota } from "../auth/quota.ts";
import type { KeyQuota } from "../auth/api_keys.ts";
import { delayedSum } from "../store/wait_counts.ts";
import { listIndexMoves } from "../store/list_index.ts";
import { queueEntry } from "../store/transition.ts";
import type { ReadyWritten } from "../dispatch/signals.ts";
import {
  batchKey,
  batchPartKey,
  batchPrefix,
  countKey,
  decodeBatchKey,
  idempotencyKey,
  jobTaskId,
  keyString,
  ownerOpenKey,
  queueKey,
  rateKey,
  readyKey,
  readySignalKey,
  taskKey,
} from "../store/keys.ts";

const ulid = monotonicFactory();

/**
 * A job's tasks being submitted (jobs/create_job.ts, append_job.ts): their ids and indexes, and
 * the job's own writes, which land atomically with the tasks: in their one intent, or in the
 * acceptance (phase 2) of a batch over several commits.
 */
export interface JobSubmission {
  jobId: string;
  firstIndex: number;
  /** The job record as read (or absent, for a new job): a change refuses the submission. */
  checks: Deno.AtomicCheck[];
  mutations: Deno.KvMutation[];
  bytes: number;
  /** The handler of the version the job was created with: every task of it runs that one. */
  handler?: Handler;
}

/**
 * Per intent, under the KV limits (1,000 mutations, 100 checks, 800 KiB of values and keys,
 * 80 KiB of keys) with room to spare.
 */
const CHUNK_MUTATIONS = 900;
const CHUNK_CHECKS = 90;
const CHUNK_BYTES = 600 * 1024;
const CHUNK_KEY_BYTES = 64 * 1024;
/** What a new task's record costs KV at most (it is fresh from JSON), once per submission. */
const recordBytes = new WeakMap<Task, number>();
function taskBytes(t: Task): number {
  let n = recordBytes.get(t);
  if (n === undefined) recordBytes.set(t, n = freshSizeBound(t) + 64);
  return n;
}
/** The encoded size of a new task's keys: record, queue entries, idempotency key. */
function taskKeyBytes(t: Task): number {
  const ready = readyKey(t);
  let n = keyBytes(taskKey(t.id)) + t.replicas * keyBytes(ready);
  if (t.idempotencyKey !== null) n += keyBytes(idempotencyKey(t.idempotencyKey, t.owner ?? null));
  return n;
}
/** A task's mutations: its record, one entry per replica slot, its idempotency key. */
/** The record, a queue entry per replica, the idempotency key, the list index entries. */
const taskMutations = (t: Task) =>
  1 + t.replicas + (t.idempotencyKey !== null ? 1 : 0) + listIndexMoves(null, t).length;

/**
 * Builds the stored task for a validated submission; `owner` is the submitting key's id. The
 * task is pinned to the version of `handler` (the one its params were validated with; the
 * current one when not given): workers run exactly that.
 */
export function newTask(
  ctx: Ctx,
  input: SubmitTaskParsed,
  now: number,
  owner: string | null = null,
  handler: Handler | undefined = ctx.handlers.get(input.type),
  job?: { id: string; index: number },
): Task {
  if (!handler) {
    throw new ApiFailure("unknown_type", `unknown task type "${input.type}"`, "type");
  }
  const runAt = input.runAt ?? (input.delayMs !== undefined ? now + input.delayMs : now);
  const v = input.verification ?? handler.verification ?? { mode: "none" as const };
  const verification: Verification = v.mode === "quorum"
    ? { adaptive: true, ...v, mode: "quorum" }
    : { mode: "none" };
  return {
    id: job ? jobTaskId(job.id, job.index) : ulid(now),
    type: input.type,
    queue: input.queue,
    priority: input.priority,
    params: input.params,
    status: "pending",
    attempts: 0,
    maxAttempts: input.maxAttempts,
    timeoutMs: input.timeoutMs ?? handler.timeoutMs ?? 60_000,
    leaseMs: input.leaseMs,
    backoffMs: input.backoffMs,
    runAt,
    idempotencyKey: input.idempotencyKey ?? null,
    createdAt: now,
    claimedAt: null,
    completedAt: null,
    workerId: null,
    leaseId: null,
    result: null,
    error: null,
    history: [],
    verification,
    replicas: verification.mode === "quorum" ? verification.replicas : 1,
    live: 0,
    votes: [],
    agreement: null,
    owner,
    handler: ctx.registry?.versionOf(handler) ?? null,
    ...(job ? { job } : {}),
  };
}

/**

 * Validates params against the handler schema; refusals name the field: `tasks.3.params.width`
 * in a batch, `inputs.3.width` in a job. Returns the handler it validated with, which the task
 * is then pinned to (a reload may come in between); a job's tasks pass their job's `handler`.
 */
function validateParams(
  ctx: Ctx,
  input: SubmitTaskParsed,
  index: number | null,
  job = false,
  pinned?: Handler,
): Handler {
  const handler = pinned ?? ctx.handlers.get(input.type);
  const prefix = index === null || job ? "" : `tasks.${index}.`;
  const paramsField = job ? `inputs.${index}` : `${prefix}params`;
  if (!handler) {
    throw new ApiFailure("unknown_type", `unknown task type "${input.type}"`, `${prefix}type`);
  }
  let parsed;
  try {
    parsed = handler.params.safeParse(input.params);
  } catch (e) {
    // A schema's refinement may read fields before the type check has failed (zod runs
    // refinements on `null` too): any throw means the params were not what the type takes.
    throw new ApiFailure(
      "validation",
      `${paramsField}: not valid ${input.type} params`,
      paramsField,
      { cause: e },
    );
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = [paramsField, ...issue.path.map(String)].join(".");
    throw new ApiFailure("validation", `${field}: ${issue.message}`, field);
  }
  const maxTimeoutMs = handler.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS;
  if (input.timeoutMs !== undefined && input.timeoutMs > maxTimeoutMs) {
    throw new ApiFailure(
      "validation",
      `${prefix}timeoutMs: ${input.type} tasks take a timeout of at most ${maxTimeoutMs} ms`,
      `${prefix}timeoutMs`,
    );
  }
  return handler;
}

/**
 * Commits `intent`, which writes `tasks`; remembers the ready ones (their records for claims, and
 * in `written` their ready entries, which the dispatcher takes without reading the index).
 */
async function committed(
  ctx: Ctx,
  intent: Intent,
  tasks: Task[],
  now: number,
  written: ReadyWritten[],
): Promise<boolean> {
  const versionstamp = await ctx.committer.commitAt(intent);
  if (versionstamp === null) return false;
  const ready = tasks.filter((t) => t.runAt <= now);
  ctx.readyTasks.add(ready, versionstamp);
  for (const t of ready) {
    for (let slot = 0; slot < t.replicas; slot++) {
      written.push({ key: readyKey(t, slot), versionstamp });
    }
  }
  return true;
}

function intentFor(tasks: Task[], now: number): Intent {
  const mutations: Deno.KvMutation[] = [];
  const checks: Deno.AtomicCheck[] = [];
  const sums: Array<[Deno.KvKey, bigint]> = [];
  let bytes = 0;
  for (const t of tasks) {
    mutations.push({ type: "set", key: taskKey(t.id), value: t }, ...listIndexMoves(null, t));
    for (let slot = 0; slot < t.replicas; slot++) mutations.push(queueEntry(t, now, slot));
    if (t.runAt <= now) sums.push([readySignalKey(t.queue, t.type), BigInt(t.replicas)]);
    else sums.push(delayedSum(t, t.replicas));
    if (t.idempotencyKey !== null) {
      const key = idempotencyKey(t.idempotencyKey, t.owner ?? null);
      checks.push({ key, versionstamp: null });
      mutations.push({ type: "set", key, value: t.id });
    }
    sums.push([countKey(t.type, t.queue, "pending"), 1n]);
    if (t.owner) sums.push([ownerOpenKey(t.owner), 1n]);
    bytes += taskBytes(t);
  }
  sums.push([rateKey("submitted", Math.floor(now / 1000)), BigInt(tasks.length)]);
  return { checks, mutations, sums, bytes };
}

/**
 * The records half of a batch part: the tasks, marked with their batch, their idempotency keys
 * as `{ id, batch }`, and the journal entry listing them. Until the batch reaches phase 2 nobody
 * sees them (idempotency_lookup.ts, task_record.ts), so rolling them back loses no answer given.
 */
function recordsIntent(
  tasks: Task[],
  batch: string,
  journal: Deno.KvKey,
  head: Deno.AtomicCheck,
): Intent {
  // The head as this writer left it: a recoverer that took the batch over makes this fail.
  const checks: Deno.AtomicCheck[] = [head];
  const mutations: Deno.KvMutation[] = [];
  let bytes = 0;
  for (const t of tasks) {
    mutations.push({ type: "set", key: taskKey(t.id), value: { ...t, batch } });
    if (t.idempotencyKey !== null) {
      const key = idempotencyKey(t.idempotencyKey, t.owner ?? null);
      const ref: IdemRef = { id: t.id, batch };
      checks.push({ key, versionstamp: null });
      mutations.push({ type: "set", key, value: ref });
    }
    bytes += taskBytes(t) + 64;
  }
  mutations.push({ type: "set", key: journal, value: tasks.map((t) => t.id) });
  return { checks, mutations, bytes: bytes + tasks.length * 30 };
}

/** What `recordsIntent` writes besides its journal entry: records and idempotency keys. */
function recordKeys(tasks: Task[]): Deno.KvKey[] {
  return tasks.flatMap((t) =>
    t.idempotencyKey !== null
      ? [taskKey(t.id), idempotencyKey(t.idempotencyKey, t.owner ?? null)]
      : [taskKey(t.id)]
  );
}

/** The undo of `recordsIntent`: the records, their keys and the journal entry go. */
function undoIntent(tasks: Task[], journal: Deno.KvKey, checks: Deno.AtomicCheck[]): Intent {
  const mutations: Deno.KvMutation[] = [journal, ...recordKeys(tasks)].map((key) => ({
    type: "delete" as const,
    key,
  }));
  return { checks, mutations };
}

/**
 * The queue half: ready (or delayed) entries and counters, and the journal entry is done. The
 * checks (the head as its writer left it, or the journal entry as a recoverer read it) make sure
 * one process only applies it, so counters are never added twice.
 */
function queueIntent(
  tasks: Task[],
  now: number,
  journal: Deno.KvKey,
  checks: Deno.AtomicCheck[],
): Intent {
  const full = intentFor(tasks, now);
  const written = new Set(recordKeys(tasks).map(keyString));
  return {
    checks,
    mutations: [
      // Everything but what phase 1 wrote: ready or delayed entries, and any index of new tasks.
      ...full.mutations.filter((m) => !written.has(keyString(m.key))),
      { type: "delete", key: journal },
    ],
    sums: full.sums,
    bytes: tasks.length * 100,
  };
}

interface Written {
  tasks: Task[];
  journal: Deno.KvKey;
}

/**
 * A batch larger than one atomic operation (the KV takes 1,000 mutations per commit; a task
 * needs two) is written in two phases under a journal, so it is all or nothing even if the
 * process dies midway: first the task records and idempotency keys (unclaimable without a ready
 * entry, and invisible: see `recordsIntent`), then, once every record is in, the head says phase
 * 2 (the batch is accepted from here on) and the ready entries and counters follow.
 * `recoverBatches` rolls a batch that died in phase 1 back and one that died in phase 2 forward.
 * A phase 1 that fails (a full disk) is undone at once, or as soon as the disk lets it (the undo is
 * a write too; its records stay invisible meanwhile), and the error goes to the client.
 *
 * Every write checks the head's versionstamp. Another coordinator starting on the same file
 * cannot tell this live batch from a dead one and may take it over (`settleBatch`): from then on
 * this writer's writes fail, so in phase 1 it answers 503 rather than ids that recovery deletes,
 * and in phase 2 it leaves the rest to the recoverer.
 */
async function enqueueJournaled(
  ctx: Ctx,
  parts: Task[][],
  now: number,
  owner: string | null,
  job?: JobSubmission,
): Promise<Task[]> {
  const batchId = crypto.randomUUID();
  const key = batchKey(batchId);
  const begun = await whileLocked(() => ctx.kv.set(key, { phase: 1, at: now, owner }));
  let head: Deno.AtomicCheck = { key, versionstamp: begun.versionstamp };
  const written: Written[] = [];
  const tried = await Promise.allSettled(parts.map(async (chunk, n) => {
    const journal = batchPartKey(batchId, String(n));
    const records = recordsIntent(chunk, batchId, journal, head);
    // A job that changed meanwhile (closed, appended to elsewhere) refuses the whole batch.
    if (job) records.checks.push(...job.checks);
    if (await ctx.committer.commit(records)) {
      written.push({ tasks: chunk, journal });
      return;
    }
    if (job) throw jobChanged();
    // An idempotency key was taken meanwhile: one by one, to find which.
    const single = await Promise.allSettled(chunk.map(async (t, k) => {
      const journal = batchPartKey(batchId, `${n}.${k}`);
      if (await ctx.committer.commit(recordsIntent([t], batchId, journal, head))) {
        written.push({ tasks: [t], journal });
      }
    }));
    const failed = single.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }));
  const failed = tried.find((r): r is PromiseRejectedResult => r.status === "rejected");
  try {
    if (failed) throw failed.reason;
    const accepted = await whileLocked(() => {
      const op = ctx.kv.atomic().check(head).set(key, { phase: 2, at: now, owner });
      // The job's record lands with the acceptance: all of its tasks, or none, are its.
      if (job) op.check(...job.checks).mutate(...job.mutations);
      return op.commit();
    });
    if (!accepted.ok && job) throw jobChanged();
    if (!accepted.ok) {
      throw new ApiFailure(
        "unavailable",
        "the batch was interrupted (a coordinator starting on the same KV undid it); submit it again",
        undefined,
        { headers: { "retry-after": "1" } },
      );
    }
    head = { key, versionstamp: accepted.versionstamp };
  } catch (error) {
    await undoBatch(ctx, batchId, written);
    throw storageFailure(error) ?? error;
  }
  const queued = await Promise.allSettled(
    written.map((w) => ctx.committer.commit(queueIntent(w.tasks, now, w.journal, [head]))),
  );
  const refused = queued.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (refused) {
    // Accepted (phase 2 is durable) but not all claimable yet: finish it as soon as KV lets us.
    ctx.log.error("batch accepted, ready entries not all written: finishing it later", {
      batch: batchId,
      error: String(refused.reason),
    });
    settleLater(ctx, batchId);
  } else if (queued.every((r) => r.status === "fulfilled" && r.value)) {
    await whileLocked(() => ctx.kv.atomic().check(head).delete(key).commit())
      .catch(() => settleLater(ctx, batchId));
  }
  // Otherwise a recoverer took the batch over and finishes it.
  return written.flatMap((w) => w.tasks);
}

/** Rolls back the parts of a phase-1 batch this process wrote, then its head. */
async function undoBatch(ctx: Ctx, batchId: string, written: Written[]): Promise<void> {
  try {
    await Promise.all(
      written.map((w) => ctx.committer.commit(undoIntent(w.tasks, w.journal, []))),
    );
    await whileLocked(() => ctx.kv.delete(batchKey(batchId)));
  } catch (error) {
    // The head still says phase 1, so nobody sees these records; undo them when KV lets us.
    ctx.log.error("could not undo a failed batch yet: retrying", {
      batch: batchId,
      error: String(error),
    });
    settleLater(ctx, batchId);
  }
}

/** Retries `settleBatch` with backoff (the disk may fill and free), up to a restart. */
function settleLater(ctx: Ctx, batchId: string, delay = 500): void {
  const timer = setTimeout(async () => {
    try {
      await settleBatch(ctx, batchId);
    } catch (error) {
      if (delay >= 60_000 || /closed/i.test(String(error))) {
        ctx.log.error("batch left for recovery at the next start", { batch: batchId });
        return;
      }
      settleLater(ctx, batchId, delay * 2);
    }
  }, delay);
  Deno.unrefTimer(timer);
}

/**
 * Finishes (phase 2) or undoes (phase 1) one batch from its journal. It first takes the batch
 * over (rewrites the head), so that a writer still alive can no longer add to it, and only then
 * lists the parts: none is written after that.
 */
async function settleBatch(ctx: Ctx, batchId: string): Promise<boolean> {
  const found = await ctx.kv.get<{ phase: 1 | 2 }>(batchKey(batchId));
  if (!found.value) return false;
  const took = await whileLocked(() =>
    ctx.kv.atomic().check(found)
      .set(found.key, { ...found.value, recovering: true, at: ctx.now() }).commit()
  );
  if (!took.ok) return false;
  const head = { key: found.key, versionstamp: took.versionstamp };
  for await (const part of ctx.kv.list<string[]>({ prefix: batchKey(batchId) })) {
    const tasks = (await getMany<Task>(ctx.kv, part.value.map(taskKey)))
      .flatMap((e) => (e.value ? [e.value] : []));
    const journal = [{ key: part.key, versionstamp: part.versionstamp }];
    // Phase 1: the records were never visible; remove them and their idempotency keys.
    await ctx.committer.commit(
      found.value.phase === 2
        ? queueIntent(tasks, ctx.now(), part.key, journal)
        : undoIntent(tasks, part.key, journal),
    );
  }
  await whileLocked(() => ctx.kv.atomic().check(head).delete(head.key).commit());
  return true;
}

/** Finishes or undoes batches a dead process left half written (run before serving). */
export async function recoverBatches(ctx: Ctx): Promise<number> {
  let n = 0;
  for await (const h of ctx.kv.list<{ phase: 1 | 2 }>({ prefix: batchPrefix() })) {
    if (h.key.length !== 2) continue;
    if (await settleBatch(ctx, decodeBatchKey(h.key).batchId)) n++;
  }
  if (n > 0) ctx.log.warn("recovered half-written batches", { batches: n });
  return n;
}

/** Splits tasks into intents that each fit one atomic operation. */
function chunks(tasks: Task[]): Task[][] {
  const out: Task[][] = [];
  let cur: Task[] = [];
  let bytes = 0, mutations = 0, checks = 0, keys = 0;
  for (const t of tasks) {
    const k = taskKeyBytes(t);
    const b = taskBytes(t) + 2 * k;
    const m = taskMutations(t);
    const c = t.idempotencyKey !== null ? 1 : 0;
    if (
      cur.length > 0 &&
      (mutations + m > CHUNK_MUTATIONS || bytes + b > CHUNK_BYTES || checks + c > CHUNK_CHECKS ||
        keys + k > CHUNK_KEY_BYTES)
    ) {
      out.push(cur);
      cur = [];
      bytes =
        mutations =
        checks =
        keys =
          0;
    }
    cur.push(t);
    bytes += b;
    mutations += m;
    checks += c;
    keys += k;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

async function existingFor(ctx: Ctx, key: string, owner: string | null): Promise<Task | null> {
  return (await lookupIdempotent(ctx, [key], owner))[0];
}

/**
 * What every batch of new tasks goes through before it is written, tasks and jobs alike: the
 * submitting key's quota (refused whole, naming `field`), its queues, its fair-share places.
 */
async function admit(
  ctx: Ctx,
  fresh: Task[],
  owner: string | null,
  quota: KeyQuota | undefined,
  field: string,
): Promise<void> {
  if (owner !== null && quota && fresh.length > 0) {
    await checkQuota(ctx, owner, quota, fresh.length, field);
  }
  await registerQueues(ctx, fresh);
  await ctx.fairShare.place(fresh);
}

async function registerQueues(ctx: Ctx, tasks: Task[]): Promise<void> {
  const fresh = [...new Set(tasks.map((t) => t.queue))].filter((q) => !ctx.queues.has(q));
  if (fresh.length === 0) return;
  const op = ctx.kv.atomic();
  for (const q of fresh) op.set(queueKey(q), 1);
  await op.commit();
  for (const q of fresh) ctx.queues.add(q);
}

const jobChanged = () =>
  new ApiFailure(
    "conflict",
    "the job changed meanwhile (closed, or appended to): try again",
    "job",
  );

/**
 * Enqueues validated submissions. Returns the tasks in input order; a submission whose
 * idempotency key is already known (to the same owner) returns the task that key made.
 */
export async function enqueue(
  ctx: Ctx,
  inputs: SubmitTaskParsed[],
  options: { batch: boolean; owner?: string | null; quota?: KeyQuota; job?: JobSubmission },
): Promise<{ tasks: Task[]; created: boolean[] }> {
  const now = ctx.now();
  const owner = options.owner ?? null;
  const job = options.job;
  const validated = inputs.map((input, i) =>
    validateParams(ctx, input, options.batch ? i : null, !!job, job?.handler)
  );
  if (job) {
    const tasks = await enqueueJob(ctx, inputs, now, owner, job, options.quota, validated);
    return { tasks, created: [] };
  }

  // The same idempotency key twice in one request means the same task.
  const byKey = new Map<string, number>();
  const unique: SubmitTaskParsed[] = [];
  const slot: number[] = [];
  const keyField = (i: number) => options.batch ? `tasks.${i}.idempotencyKey` : "idempotencyKey";
  const firstInput: number[] = [];
  for (const [i, input] of inputs.entries()) {
    const k = input.idempotencyKey;
    if (k !== undefined && byKey.has(k)) {
      refuseOtherRequest(input, unique[byKey.get(k)!], keyField(i));
      slot.push(byKey.get(k)!);
      continue;
    }
    firstInput.push(i);
    if (k !== undefined) byKey.set(k, unique.length);
    slot.push(unique.length);
    unique.push(input);
  }

  // Known keys answer without a write.
  const keyed = unique.map((u, i) => [u.idempotencyKey, i] as const).filter(([k]) => k);
  const known = await lookupIdempotent(ctx, keyed.map(([k]) => k!), owner);
  const results: (Task | null)[] = unique.map(() => null);
  const created: boolean[] = unique.map(() => false);
  known.forEach((t, j) => (results[keyed[j][1]] = t));
  const sameAsKnown = (i: number) =>
    results[i] && refuseOtherRequest(unique[i], results[i], keyField(firstInput[i]));
  unique.forEach((_, i) => sameAsKnown(i));

  const fresh: Task[] = [];
  const freshIndex: number[] = [];
  unique.forEach((u, i) => {
    if (results[i] !== null) return;
    fresh.push(newTask(ctx, u, now, owner, validated[firstInput[i]]));
    freshIndex.push(i);
  });
  await admit(ctx, fresh, owner, options.quota, options.batch ? "tasks" : "type");

  const indexOf = new Map(fresh.map((t, j) => [t.id, freshIndex[j]]));
  const accept = (t: Task) => {
    results[indexOf.get(t.id)!] = t;
    created[indexOf.get(t.id)!] = true;
  };
  const parts = chunks(fresh);
  // The ready entries written: all of them unless the batch journal wrote them.
  const written: ReadyWritten[] = [];
  if (parts.length > 1) {
    // Too large for one atomic operation: all or nothing through the batch journal.
    for (const t of await enqueueJournaled(ctx, parts, now, owner)) accept(t);
    for (const [i, u] of unique.entries()) {
      if (results[i] === null && u.idempotencyKey !== undefined) {
        results[i] = await existingFor(ctx, u.idempotencyKey, owner);
        sameAsKnown(i);
      }
    }
  } else {
    await Promise.all(parts.map(async (chunk) => {
      if (await committed(ctx, intentFor(chunk, now), chunk, now, written)) {
        return chunk.forEach(accept);
      }
      // An idempotency key was taken meanwhile: commit one by one to find which.
      await Promise.all(chunk.map(async (t) => {
        if (await committed(ctx, intentFor([t], now), [t], now, written)) return accept(t);
        results[indexOf.get(t.id)!] = await existingFor(ctx, t.idempotencyKey!, owner);
        sameAsKnown(indexOf.get(t.id)!);
      }));
    }));
  }
  const ready = fresh.filter((t) => t.runAt <= now);
  if (ready.length > 0) ctx.signals.readyArrived(ready, parts.length > 1 ? undefined : written);

  const tasks = slot.map((s) => {
    const t = results[s];
    if (!t) throw new ApiFailure("conflict", "the task for this idempotency key vanished");
    return t;
  });
  return { tasks, created: slot.map((s) => created[s]) };
}

/**
 * A job's tasks (validated): ids from their indexes, no idempotency keys of their own; the job's
 * writes commit with them. An empty open job is its record alone.
 */
async function enqueueJob(
  ctx: Ctx,
  inputs: SubmitTaskParsed[],
  now: number,
  owner: string | null,
  job: JobSubmission,
  quota: KeyQuota | undefined,
  validated: Handler[],
): Promise<Task[]> {
  const fresh = inputs.map((u, i) =>
    newTask(ctx, u, now, owner, validated[i], { id: job.jobId, index: job.firstIndex + i })
  );
  await admit(ctx, fresh, owner, quota, "inputs");
  const parts = chunks(fresh);
  const written: ReadyWritten[] = [];
  if (parts.length > 1) {
    await enqueueJournaled(ctx, parts, now, owner, job);
  } else {
    const intent = parts.length === 1 ? intentFor(parts[0], now) : { checks: [], mutations: [] };
    intent.checks.push(...job.checks);
    intent.mutations.push(...job.mutations);
    intent.bytes = (intent.bytes ?? 0) + job.bytes;
    if (!await committed(ctx, intent, parts[0] ?? [], now, written)) throw jobChanged();
  }
  const ready = fresh.filter((t) => t.runAt <= now);
  if (ready.length > 0) ctx.signals.readyArrived(ready, parts.length > 1 ? undefined : written);
  return fresh;
}
