/**
 * enqueue: one or many new tasks, each written with its ready (or delayed) entry in the same
 * atomic operation. A batch is one intent, so one commit, while it fits the KV limits; larger
 * batches are split into a few intents. An idempotency key returns the existing task; keys are
 * scoped per owner (the submitting API key), so clients cannot reach each other's tasks.
 *
 * @module
 */
import { monotonicFactory } from "ulid";
import { DEFAULT_MAX_TIMEOUT_MS } from "../handlers/contract.ts";
import type { SubmitTaskParsed, Task, Verification } from "../shared/protocol.ts";
import { approxBytes, type Ctx, getMany } from "./context.ts";
import type { Intent } from "./committer.ts";
import { ApiFailure } from "./errors.ts";
import { refuseOtherRequest } from "./idempotency.ts";
import { listIndexMoves } from "./list_index.ts";
import {
  batchKey,
  batchPartKey,
  batchPrefix,
  countKey,
  decodeBatchKey,
  delayedKey,
  idempotencyKey,
  isListIndexKey,
  queueKey,
  rateKey,
  readyKey,
  readySignalKey,
  taskKey,
} from "./keys.ts";

const ulid = monotonicFactory();

/** Tasks per intent; mutations per intent stay under the KV's 1,000, with room for the sums. */
const CHUNK_TASKS = 300;
const CHUNK_MUTATIONS = 900;
const CHUNK_BYTES = 600 * 1024;

/** Builds the stored task for a validated submission; `owner` is the submitting key's id. */
export function newTask(
  ctx: Ctx,
  input: SubmitTaskParsed,
  now: number,
  owner: string | null = null,
): Task {
  const handler = ctx.handlers.get(input.type);
  if (!handler) {
    throw new ApiFailure("unknown_type", `unknown task type "${input.type}"`, "type");
  }
  const runAt = input.runAt ?? (input.delayMs !== undefined ? now + input.delayMs : now);
  const v = input.verification ?? handler.verification ?? { mode: "none" as const };
  const verification: Verification = v.mode === "quorum"
    ? { adaptive: true, ...v, mode: "quorum" }
    : { mode: "none" };
  return {
    id: ulid(now),
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
  };
}

/** The ready or delayed entry that makes one slot of a pending task claimable. */
export function queueEntry(task: Task, now: number, slot = 0): Deno.KvMutation {
  return task.runAt > now
    ? { type: "set", key: delayedKey(task.runAt, task.id, slot), value: 1 }
    : { type: "set", key: readyKey(task.queue, task.type, task.priority, task.id, slot), value: 1 };
}

/** Validates params against the handler schema; refusals name the field. */
function validateParams(ctx: Ctx, input: SubmitTaskParsed, index: number | null): void {
  const handler = ctx.handlers.get(input.type);
  const prefix = index === null ? "" : `tasks.${index}.`;
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
      `${prefix}params: not valid ${input.type} params`,
      `${prefix}params`,
      { cause: e },
    );
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = [`${prefix}params`, ...issue.path.map(String)].join(".");
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
    if (t.idempotencyKey !== null) {
      const key = idempotencyKey(t.idempotencyKey, t.owner ?? null);
      checks.push({ key, versionstamp: null });
      mutations.push({ type: "set", key, value: t.id });
    }
    sums.push([countKey(t.type, t.queue, "pending"), 1n]);
    bytes += approxBytes(t) + 64;
  }
  sums.push([rateKey("submitted", Math.floor(now / 1000)), BigInt(tasks.length)]);
  return { checks, mutations, sums, bytes };
}

/** The records half of a task's submission: the task and its idempotency key. */
function recordsIntent(tasks: Task[], journal: Deno.KvKey): Intent {
  const full = intentFor(tasks, 0);
  const keep = (m: Deno.KvMutation) =>
    m.key[0] === "task" || m.key[0] === "idem" ||
    m.key[0] === "idem_owner" || isListIndexKey(m.key);
  return {
    checks: full.checks,
    mutations: [
      ...full.mutations.filter(keep),
      { type: "set", key: journal, value: tasks.map((t) => t.id) },
    ],
    bytes: full.bytes,
  };
}

/** The queue half: ready (or delayed) entries and counters, and the journal entry is done. */
function queueIntent(tasks: Task[], now: number, journal: Deno.KvKey): Intent {
  const full = intentFor(tasks, now);
  return {
    checks: [],
    mutations: [
      ...full.mutations.filter((m) => m.key[0] === "ready" || m.key[0] === "delayed"),
      { type: "delete", key: journal },
    ],
    sums: full.sums,
    bytes: tasks.length * 100,
  };
}

/**
 * A batch larger than one atomic operation (the KV takes 1,000 mutations per commit; a task
 * needs two) is written in two phases under a journal, so it is all or nothing even if the
 * process dies midway: first the task records (unclaimable without a ready entry), then, once
 * every record is in, the ready entries and counters. `recoverBatches` rolls a batch that died
 * in phase 1 back and one that died in phase 2 forward.
 */
async function enqueueJournaled(
  ctx: Ctx,
  parts: Task[][],
  now: number,
  owner: string | null,
): Promise<Task[]> {
  const batchId = crypto.randomUUID();
  const head = batchKey(batchId);
  await ctx.kv.set(head, { phase: 1, at: now, owner });
  const written: Array<{ tasks: Task[]; journal: Deno.KvKey }> = [];
  await Promise.all(parts.map(async (chunk, n) => {
    const journal = batchPartKey(batchId, String(n));
    if (await ctx.committer.commit(recordsIntent(chunk, journal))) {
      written.push({ tasks: chunk, journal });
      return;
    }
    // An idempotency key was taken meanwhile: one by one, to find which.
    await Promise.all(chunk.map(async (t, k) => {
      const single = batchPartKey(batchId, `${n}.${k}`);
      if (await ctx.committer.commit(recordsIntent([t], single))) {
        written.push({ tasks: [t], journal: single });
      }
    }));
  }));
  await ctx.kv.set(head, { phase: 2, at: now, owner });
  await Promise.all(written.map((w) => ctx.committer.commit(queueIntent(w.tasks, now, w.journal))));
  await ctx.kv.delete(head);
  return written.flatMap((w) => w.tasks);
}

/** Finishes or undoes batches a dead process left half written (run before serving). */
export async function recoverBatches(ctx: Ctx): Promise<number> {
  let n = 0;
  for await (const h of ctx.kv.list<{ phase: 1 | 2 }>({ prefix: batchPrefix() })) {
    if (h.key.length !== 2) continue;
    const { batchId } = decodeBatchKey(h.key);
    for await (const part of ctx.kv.list<string[]>({ prefix: batchKey(batchId) })) {
      const tasks = (await getMany<Task>(ctx.kv, part.value.map(taskKey)))
        .flatMap((e) => (e.value ? [e.value] : []));
      if (h.value.phase === 2) {
        await ctx.committer.commit(queueIntent(tasks, ctx.now(), part.key));
        continue;
      }
      // Phase 1: the records were never visible; remove them and their idempotency keys.
      const undo = recordsIntent(tasks, part.key);
      await ctx.committer.commit({
        checks: [],
        mutations: undo.mutations.map((m) => ({ type: "delete" as const, key: m.key })),
      });
    }
    await ctx.kv.delete(h.key);
    n++;
  }
  if (n > 0) ctx.log.warn("recovered half-written batches", { batches: n });
  return n;
}

/** Splits tasks into intents that each fit one atomic operation. */
function chunks(tasks: Task[]): Task[][] {
  const out: Task[][] = [];
  let cur: Task[] = [];
  let bytes = 0;
  let mutations = 0;
  for (const t of tasks) {
    const b = approxBytes(t.params) + 600;
    // The record, a ready entry per replica, the idempotency key, the list index entries.
    const m = 1 + t.replicas + (t.idempotencyKey !== null ? 1 : 0) + listIndexMoves(null, t).length;
    const checks = cur.filter((c) => c.idempotencyKey !== null).length;
    if (
      cur.length > 0 &&
      (cur.length >= CHUNK_TASKS || bytes + b > CHUNK_BYTES || mutations + m > CHUNK_MUTATIONS ||
        (t.idempotencyKey !== null && checks >= 90))
    ) {
      out.push(cur);
      cur = [];
      bytes = 0;
      mutations = 0;
    }
    cur.push(t);
    bytes += b;
    mutations += m;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

async function existingFor(ctx: Ctx, key: string, owner: string | null): Promise<Task | null> {
  const ref = await ctx.kv.get<string>(idempotencyKey(key, owner));
  if (ref.value === null) return null;
  const t = await ctx.kv.get<Task>(taskKey(ref.value));
  return t.value;
}

async function registerQueues(ctx: Ctx, tasks: Task[]): Promise<void> {
  const fresh = [...new Set(tasks.map((t) => t.queue))].filter((q) => !ctx.queues.has(q));
  if (fresh.length === 0) return;
  const op = ctx.kv.atomic();
  for (const q of fresh) op.set(queueKey(q), 1);
  await op.commit();
  for (const q of fresh) ctx.queues.add(q);
}

/**
 * Enqueues validated submissions. Returns the tasks in input order; a submission whose
 * idempotency key is already known (to the same owner) returns the task that key made.
 */
export async function enqueue(
  ctx: Ctx,
  inputs: SubmitTaskParsed[],
  options: { batch: boolean; owner?: string | null },
): Promise<{ tasks: Task[]; created: boolean[] }> {
  const now = ctx.now();
  const owner = options.owner ?? null;
  inputs.forEach((input, i) => validateParams(ctx, input, options.batch ? i : null));

  // The same idempotency key twice in one request means the same task.
  const byKey = new Map<string, number>();
  const unique: SubmitTaskParsed[] = [];
  const slot: number[] = [];
  const keyField = (i: number) => options.batch ? `tasks.${i}.idempotencyKey` : "idempotencyKey";
  const firstInput: number[] = [];
  for (const [i, input] of inputs.entries()) {
    const k = input.idempotencyKey;
    if (k !== undefined && byKey.has(k)) {
      refuseOtherRequest(input, unique[byKey.get(k)!]!, keyField(i));
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
  const known = await getMany<string>(ctx.kv, keyed.map(([k]) => idempotencyKey(k!, owner)));
  const results: (Task | null)[] = unique.map(() => null);
  const created: boolean[] = unique.map(() => false);
  const knownIds = known.map((e, j) => [e.value, keyed[j]![1]] as const).filter(([v]) => v);
  const knownTasks = await getMany<Task>(ctx.kv, knownIds.map(([id]) => taskKey(id!)));
  knownIds.forEach(([, i], j) => (results[i] = knownTasks[j]!.value));
  const sameAsKnown = (i: number) =>
    results[i] && refuseOtherRequest(unique[i]!, results[i]!, keyField(firstInput[i]!));
  unique.forEach((_, i) => sameAsKnown(i));

  const fresh: Task[] = [];
  const freshIndex: number[] = [];
  unique.forEach((u, i) => {
    if (results[i] !== null) return;
    fresh.push(newTask(ctx, u, now, owner));
    freshIndex.push(i);
  });
  await registerQueues(ctx, fresh);

  const indexOf = new Map(fresh.map((t, j) => [t.id, freshIndex[j]!]));
  const accept = (t: Task) => {
    results[indexOf.get(t.id)!] = t;
    created[indexOf.get(t.id)!] = true;
  };
  const parts = chunks(fresh);
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
      if (await ctx.committer.commit(intentFor(chunk, now))) return chunk.forEach(accept);
      // An idempotency key was taken meanwhile: commit one by one to find which.
      await Promise.all(chunk.map(async (t) => {
        if (await ctx.committer.commit(intentFor([t], now))) return accept(t);
        results[indexOf.get(t.id)!] = await existingFor(ctx, t.idempotencyKey!, owner);
        sameAsKnown(indexOf.get(t.id)!);
      }));
    }));
  }
  const ready = fresh.filter((t) => t.runAt <= now);
  if (ready.length > 0) ctx.signals.readyArrived(ready);

  const tasks = slot.map((s) => {
    const t = results[s];
    if (!t) throw new ApiFailure("conflict", "the task for this idempotency key vanished");
    return t;
  });
  return { tasks, created: slot.map((s) => created[s]!) };
}
