/**
 * enqueue: one or many new tasks, each written with its ready (or delayed) entry in the same
 * atomic operation. A batch is one intent, so one commit, while it fits the KV limits; larger
 * batches are split into a few intents. An idempotency key returns the existing task; keys are
 * scoped per owner (the submitting API key), so clients cannot reach each other's tasks.
 *
 * @module
 */
import { monotonicFactory } from "ulid";
import type { SubmitTaskParsed, Task, Verification } from "../shared/protocol.ts";
import { approxBytes, type Ctx, getMany } from "./context.ts";
import type { Intent } from "./committer.ts";
import { ApiFailure } from "./errors.ts";
import {
  countKey,
  delayedKey,
  idempotencyKey,
  queueKey,
  rateKey,
  readyKey,
  readySignalKey,
  taskKey,
} from "./keys.ts";

const ulid = monotonicFactory();

/** Tasks per intent: 2 to 3 mutations each stays under the 1,000-mutation limit. */
const CHUNK_TASKS = 300;
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
}

function intentFor(tasks: Task[], now: number): Intent {
  const mutations: Deno.KvMutation[] = [];
  const checks: Deno.AtomicCheck[] = [];
  const sums: Array<[Deno.KvKey, bigint]> = [];
  let bytes = 0;
  let ready = false;
  for (const t of tasks) {
    mutations.push({ type: "set", key: taskKey(t.id), value: t });
    for (let slot = 0; slot < t.replicas; slot++) mutations.push(queueEntry(t, now, slot));
    if (t.runAt <= now) ready = true;
    if (t.idempotencyKey !== null) {
      const key = idempotencyKey(t.idempotencyKey, t.owner ?? null);
      checks.push({ key, versionstamp: null });
      mutations.push({ type: "set", key, value: t.id });
    }
    sums.push([countKey(t.type, t.queue, "pending"), 1n]);
    bytes += approxBytes(t) + 64;
  }
  sums.push([rateKey("submitted", Math.floor(now / 1000)), BigInt(tasks.length)]);
  if (ready) sums.push([readySignalKey(), 1n]);
  return { checks, mutations, sums, bytes };
}

/** Splits tasks into intents that each fit one atomic operation. */
function chunks(tasks: Task[]): Task[][] {
  const out: Task[][] = [];
  let cur: Task[] = [];
  let bytes = 0;
  for (const t of tasks) {
    const b = approxBytes(t.params) + 600;
    const checks = cur.filter((c) => c.idempotencyKey !== null).length;
    if (
      cur.length > 0 &&
      (cur.length >= CHUNK_TASKS || bytes + b > CHUNK_BYTES ||
        (t.idempotencyKey !== null && checks >= 90))
    ) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(t);
    bytes += b;
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
  for (const input of inputs) {
    const k = input.idempotencyKey;
    if (k !== undefined && byKey.has(k)) {
      slot.push(byKey.get(k)!);
      continue;
    }
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

  const fresh: Task[] = [];
  const freshIndex: number[] = [];
  unique.forEach((u, i) => {
    if (results[i] !== null) return;
    fresh.push(newTask(ctx, u, now, owner));
    freshIndex.push(i);
  });
  await registerQueues(ctx, fresh);

  const indexOf = new Map(fresh.map((t, j) => [t.id, freshIndex[j]!]));
  await Promise.all(
    chunks(fresh).map(async (chunk) => {
      if (await ctx.committer.commit(intentFor(chunk, now))) {
        for (const t of chunk) {
          (results[indexOf.get(t.id)!] = t, created[indexOf.get(t.id)!] = true);
        }
        return;
      }
      // An idempotency key was taken meanwhile: commit one by one to find which.
      await Promise.all(chunk.map(async (t) => {
        const i = indexOf.get(t.id)!;
        if (await ctx.committer.commit(intentFor([t], now))) {
          results[i] = t;
          created[i] = true;
          return;
        }
        results[i] = await existingFor(ctx, t.idempotencyKey!, owner);
      }));
    }),
  );
  const ready = fresh.filter((t) => t.runAt <= now);
  if (ready.length > 0) ctx.signals.readyArrived(ready);

  const tasks = slot.map((s) => {
    const t = results[s];
    if (!t) throw new ApiFailure("conflict", "the task for this idempotency key vanished");
    return t;
  });
  return { tasks, created: slot.map((s) => created[s]!) };
}
