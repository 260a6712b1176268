/**
 * Which task an idempotency key made. A key written by a batch over one commit points at its
 * batch too (`{ id, batch }`): while that batch is in its first phase it may still be rolled back
 * (a crash, a full disk), so its id is never handed out then. The lookup waits for the batch to
 * be decided; a batch that is still undecided after `waitMs` (its writer died and no restart has
 * recovered it yet) is a 503, never an id that could disappear.
 *
 * @module
 */
import { type Ctx, getMany } from "../context.ts";
import { ApiFailure } from "../http/errors.ts";
import { batchKey, idempotencyKey, taskKey } from "../store/keys.ts";
import { presentTasks } from "../store/task_record.ts";
import { type StoredTask, taskView } from "../store/task_view.ts";

/** What an idempotency key holds. */
export type IdemRef = string | { id: string; batch: string };

/** Long enough for a 1,000-task batch on a slow disk. */
const WAIT_MS = 10_000;

const inBatch = (r: IdemRef | null): r is { id: string; batch: string } =>
  r !== null && typeof r === "object";
const sameRef = (a: IdemRef | null, b: IdemRef | null) =>
  inBatch(a) && inBatch(b) ? a.id === b.id && a.batch === b.batch : a === b;

/** The task each key made (as clients see it), or null where a key is unused. */
export async function lookupIdempotent(
  ctx: Ctx,
  keys: string[],
  owner: string | null,
  waitMs = WAIT_MS,
): Promise<Array<StoredTask | null>> {
  if (keys.length === 0) return [];
  const kvKeys = keys.map((k) => idempotencyKey(k, owner));
  const deadline = ctx.now() + waitMs;
  for (let delay = 5;; delay = Math.min(200, delay * 2)) {
    const refs = (await getMany<IdemRef>(ctx.kv, kvKeys)).map((e) => e.value);
    const batches = [...new Set(refs.flatMap((r) => (inBatch(r) ? [r.batch] : [])))];
    const heads = await getMany<{ phase: number }>(ctx.kv, batches.map(batchKey));
    const phase = new Map(batches.map((b, j) => [b, heads[j]!.value?.phase ?? null]));
    const undecided = refs.findIndex((r) => inBatch(r) && phase.get(r.batch) === 1);
    // No head: finished, or rolled back after the ref was read (an undo deletes the refs before
    // the head); the ref read again tells which.
    const headless = refs.flatMap((r, i) => (inBatch(r) && phase.get(r.batch) === null ? [i] : []));
    const again = await getMany<IdemRef>(ctx.kv, headless.map((i) => kvKeys[i]!));
    const moved = headless.some((i, j) => !sameRef(refs[i]!, again[j]!.value));
    if (undecided === -1 && !moved) {
      const ids = refs.map((r) => (inBatch(r) ? r.id : r));
      const present = ids.flatMap((id, i) => (id !== null ? [i] : []));
      const tasks = await getMany<StoredTask>(ctx.kv, present.map((i) => taskKey(ids[i]!)));
      const shown = await presentTasks(ctx, tasks.map((e) => e.value));
      const out: Array<StoredTask | null> = keys.map(() => null);
      present.forEach((i, j) => (out[i] = shown[j] ? taskView(shown[j]!, []) : null));
      return out;
    }
    if (ctx.now() >= deadline) {
      const key = keys[undecided === -1 ? 0 : undecided]!;
      throw new ApiFailure(
        "unavailable",
        `idempotency key "${key}" belongs to a batch that is still being written; try again`,
        "idempotencyKey",
        { headers: { "retry-after": "1" } },
      );
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
