/**
 * How a task record is written so that it always fits one KV value (64 KiB of KV's own
 * encoding), and read back. Near the limit, in this order: the record is repacked (a record read
 * from KV encodes up to 40 % larger than the same record fresh from JSON, see encoded_size.ts);
 * a result that would not fit beside it is kept under keys of its own (`["result", id, part]`,
 * UTF-8 JSON); a history grown long keeps fewer attempts. Packed, params within their limit take
 * at most 40 KiB, which leaves room for the largest error, votes and one attempt. So every
 * accepted task can end, whatever result within the limit it has. Every write of a record read
 * from KV goes through `storeTask`.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import { type Ctx, getMany } from "../context.ts";
import { encodedSize, KV_VALUE_BYTES, sizeBound } from "./encoded_size.ts";
import { batchKey, resultPartKey, taskKey } from "./keys.ts";
import type { StoredTask } from "./task_view.ts";

export interface TaskWrite {
  /** The record's set and, when the result is kept apart, the sets of its parts. */
  mutations: Deno.KvMutation[];
  /** An upper bound on what KV counts for these values. */
  bytes: number;
}

/** The record's target: a little under the limit, so a claim's or cancel's few bytes still fit. */
const RECORD_BYTES = KV_VALUE_BYTES - 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A result as UTF-8 JSON: KV stores bytes as they are, so its size is its JSON length. */
export function encodeResult(result: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(result ?? null));
}

/** Reads what `encodeResult` wrote (or, from older records, the value itself). */
export function decodeResult(value: unknown): unknown {
  return value instanceof Uint8Array ? JSON.parse(decoder.decode(value)) : value;
}

/** The writes that store `task` as its `["task", id]` record. */
export function storeTask(task: Task): TaskWrite {
  let record: StoredTask = task;
  if ((task as StoredTask).batch !== undefined) {
    // Its batch was finished long ago: the marker has done its work.
    const { batch: _, ...rest } = task as StoredTask;
    record = rest;
  }
  // Below the limit the bound is enough; near it, measure.
  let size = sizeBound(record);
  if (size > RECORD_BYTES) size = encodedSize(record);
  if (size <= RECORD_BYTES) {
    return { mutations: [{ type: "set", key: taskKey(task.id), value: record }], bytes: size };
  }
  // Fresh from JSON its arrays are packed again (records hold JSON data only).
  record = JSON.parse(JSON.stringify(record));
  size = encodedSize(record);
  const mutations: Deno.KvMutation[] = [];
  let bytes = 0;
  if (size > RECORD_BYTES && record.result !== null && record.result !== undefined) {
    const json = encodeResult(record.result);
    let parts = 0;
    for (let at = 0; at < json.length; at += KV_VALUE_BYTES, parts++) {
      const value = json.subarray(at, at + KV_VALUE_BYTES);
      mutations.push({ type: "set", key: resultPartKey(task.id, parts), value });
      bytes += value.length;
    }
    record = { ...record, result: null, resultParts: parts };
    size = encodedSize(record);
  }
  for (let keep = record.history.length >> 1; size > RECORD_BYTES && keep >= 1; keep >>= 1) {
    record = { ...record, history: record.history.slice(-keep) };
    size = encodedSize(record);
  }
  if (size > KV_VALUE_BYTES) {
    throw new Error(`task ${task.id}: record of ${size} bytes does not fit a KV value`);
  }
  mutations.unshift({ type: "set", key: taskKey(task.id), value: record });
  return { mutations, bytes: bytes + size };
}

/**
 * Stored records as clients may see them: a record of a batch still in its first phase is not
 * there yet (null; the batch may still be rolled back), and a result kept apart is put back.
 */
export async function presentTasks(
  ctx: Ctx,
  stored: Array<StoredTask | null>,
): Promise<Array<StoredTask | null>> {
  const out = [...stored];
  const marked = out.flatMap((t, i) => (t?.batch !== undefined ? [i] : []));
  if (marked.length > 0) {
    const heads = await getMany<{ phase: number }>(
      ctx.kv,
      marked.map((i) => batchKey(out[i]!.batch!)),
    );
    // No head: finished, or rolled back since the record was read (an undo deletes the records
    // before the head), so read those again.
    const gone = marked.filter((_, j) => heads[j]!.value === null);
    const again = await getMany<StoredTask>(ctx.kv, gone.map((i) => taskKey(out[i]!.id)));
    gone.forEach((i, j) => (out[i] = again[j]!.value));
    marked.forEach((i, j) => {
      if (heads[j]!.value?.phase === 1) out[i] = null;
    });
  }
  const apart = out.flatMap((t, i) => (t?.resultParts ? [i] : []));
  await Promise.all(apart.map(async (i) => {
    const t = out[i]!;
    const keys = Array.from({ length: t.resultParts! }, (_, p) => resultPartKey(t.id, p));
    const parts = (await getMany<Uint8Array>(ctx.kv, keys)).map((e) => e.value ?? new Uint8Array());
    const json = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      json.set(p, at);
      at += p.length;
    }
    const { resultParts: _, ...rest } = t;
    out[i] = { ...rest, result: decodeResult(json) };
  }));
  return out;
}
