/**
 * The worker registry: who has been seen, of which kind, with which types, and how they did.
 * Sightings are kept in memory and written at most every few seconds per worker (through the
 * committer, so that many share a commit); counts are
 * `sum` keys written with each completion.
 *
 * @module
 */
import type { WorkerInfo } from "../../shared/protocol.ts";
import { counterValue } from "../store/committer.ts";
import { sizeBound } from "../store/encoded_size.ts";
import type { Ctx } from "../context.ts";
import {
  decodeWorkerStatKey,
  workerKey,
  workerPrefix,
  workerStatKey,
  workerStatPrefix,
} from "../store/keys.ts";

export interface WorkerRecord {
  id: string;
  kind: WorkerInfo["kind"];
  /** Last seen as the operator's own (auth.ts), so shown trusted; absent on older records. */
  operator?: boolean;
  types: string[];
  concurrency: number | null;
  firstSeen: number;
  lastSeen: number;
  /** How it left, when it did: its socket closed cleanly (`offline`) or broke off (`crashed`). */
  left?: "offline" | "crashed" | null;
  /** The last error an attempt of its ended with. */
  lastError?: { code: string; message: string; at: number } | null;
}

/**
 * A seen worker's record is written again after a third of the time that makes it offline (at
 * most 10 s), so other coordinators' lists keep it online. Each record's turn is spread over the
 * last quarter of that time: 10,000 workers that connected together would otherwise be 10,000
 * writes in one moment, ahead of every claim.
 */
function writeAfterMs(offlineMs: number): number {
  return Math.min(10_000, offlineMs / 3) * (0.75 + Math.random() / 4);
}

export class WorkerRegistry {
  #ctx: Ctx;
  /** `due`: when the record is to be written again if seen. */
  #seen = new Map<string, { record: WorkerRecord; due: number }>();
  #writing = new Set<Promise<unknown>>();

  constructor(ctx: Ctx) {
    this.#ctx = ctx;
  }

  /** Records a sighting (a claim, a heartbeat, a socket hello). */
  seen(
    id: string,
    info: Partial<Pick<WorkerRecord, "kind" | "operator" | "types" | "concurrency">> = {},
  ): void {
    const now = this.#ctx.now();
    const known = this.#seen.get(id);
    const record: WorkerRecord = {
      id,
      kind: info.kind ?? known?.record.kind ?? "other",
      operator: info.operator ?? known?.record.operator ?? false,
      types: info.types ?? known?.record.types ?? [],
      concurrency: info.concurrency ?? known?.record.concurrency ?? null,
      firstSeen: known?.record.firstSeen ?? now,
      lastSeen: now,
      left: null,
      lastError: known?.record.lastError ?? null,
    };
    const due = known?.due ?? 0;
    this.#seen.set(id, { record, due });
    // One that left and came back is written at once: the stored record still says it left.
    if (now >= due || known?.record.left) {
      this.#seen.set(id, { record, due: now + writeAfterMs(this.#ctx.config.workerOfflineMs) });
      this.#write(record);
    }
  }

  /**
   * Workers connected here, given work or not, stay seen. Their records are written (each at its
   * turn) only when `share`: other coordinators on the store read them for their lists. Alone,
   * this process's memory is the list, and 10,000 idle sockets were 1,000 record writes a second.
   */
  stillConnected(ids: Iterable<string>, share: boolean): void {
    const now = this.#ctx.now();
    for (const id of ids) {
      const known = this.#seen.get(id);
      if (!known || known.record.left || (share && now >= known.due)) this.seen(id);
      else known.record.lastSeen = now;
    }
  }

  /**
   * A worker's socket closed: cleanly (`offline`) or not (`crashed`). Written at once, so every
   * coordinator's list shows it as it left, not merely unseen.
   */
  left(id: string, how: "offline" | "crashed"): void {
    const known = this.#seen.get(id);
    if (!known) return;
    const record: WorkerRecord = { ...known.record, left: how };
    this.#seen.set(id, {
      record,
      due: this.#ctx.now() + writeAfterMs(this.#ctx.config.workerOfflineMs),
    });
    this.#write(record);
  }

  /** Remembers the last error an attempt of this worker ended with (written with its record). */
  noteError(id: string, error: { code: string; message: string }): void {
    const known = this.#seen.get(id);
    if (!known) return;
    const lastError = {
      code: error.code,
      message: error.message.slice(0, 300),
      at: this.#ctx.now(),
    };
    this.#seen.set(id, { ...known, record: { ...known.record, lastError } });
  }

  /**
   * Through the committer, so that the records of many workers share a commit: 10,000 sockets
   * saying hello were 10,000 commits otherwise, each an fsync that every claim waited behind.
   */
  #write(record: WorkerRecord): void {
    const p: Promise<unknown> = this.#ctx.committer.commit({
      checks: [],
      mutations: [{ type: "set", key: workerKey(record.id), value: record }],
      bytes: sizeBound(record),
    }).catch((e) =>
      this.#ctx.log.warn("worker record write failed", { workerId: record.id, error: String(e) })
    ).finally(() => this.#writing.delete(p));
    this.#writing.add(p);
  }

  /** Resolves once the records written so far are committed. */
  async flush(): Promise<void> {
    await Promise.all([...this.#writing]);
  }

  onlineCount(): number {
    const since = this.#ctx.now() - this.#ctx.config.workerOfflineMs;
    return [...this.#seen.values()].filter((w) => w.record.lastSeen >= since).length;
  }

  /** Every worker record, as stored or as last seen here (the live feed's list). */
  async records(): Promise<WorkerRecord[]> {
    const records = new Map<string, WorkerRecord>();
    for await (const e of this.#ctx.kv.list<WorkerRecord>({ prefix: workerPrefix() })) {
      records.set(e.value.id, e.value);
    }
    for (const { record } of this.#seen.values()) records.set(record.id, record);
    return [...records.values()];
  }

  async list(): Promise<WorkerInfo[]> {
    const records = new Map<string, WorkerRecord>();
    for await (const e of this.#ctx.kv.list<WorkerRecord>({ prefix: workerPrefix() })) {
      records.set(e.value.id, e.value);
    }
    for (const { record } of this.#seen.values()) records.set(record.id, record);
    const stats = new Map<string, Record<string, number>>();
    for await (const e of this.#ctx.kv.list({ prefix: workerStatPrefix() })) {
      const { workerId: id, stat } = decodeWorkerStatKey(e.key);
      (stats.get(id) ?? stats.set(id, {}).get(id)!)[stat] = counterValue(e.value);
    }
    const since = this.#ctx.now() - this.#ctx.config.workerOfflineMs;
    return [...records.values()]
      .map((r) => toInfo(r, stats.get(r.id) ?? {}, since))
      .sort((a, b) => b.lastSeen - a.lastSeen);
  }

  /** One worker's completed and failed counts and mean run time (three reads). */
  async stats(id: string): Promise<Pick<WorkerInfo, "completed" | "failed" | "meanRunMs">> {
    const [c, f, r] = await this.#ctx.kv.getMany([
      workerStatKey(id, "completed"),
      workerStatKey(id, "failed"),
      workerStatKey(id, "runMs"),
    ]);
    const completed = counterValue(c!.value);
    return {
      completed,
      failed: counterValue(f!.value),
      meanRunMs: completed > 0 ? counterValue(r!.value) / completed : null,
    };
  }

  async get(id: string): Promise<WorkerInfo | null> {
    const known = this.#seen.get(id)?.record ??
      (await this.#ctx.kv.get<WorkerRecord>(workerKey(id))).value;
    if (!known) return null;
    const [c, f, r] = await this.#ctx.kv.getMany([
      workerStatKey(id, "completed"),
      workerStatKey(id, "failed"),
      workerStatKey(id, "runMs"),
    ]);
    const stats = {
      completed: counterValue(c!.value),
      failed: counterValue(f!.value),
      runMs: counterValue(r!.value),
    };
    const rep = await this.#ctx.reputation.get("w", id);
    return {
      ...toInfo(known, stats, this.#ctx.now() - this.#ctx.config.workerOfflineMs),
      reputation: {
        ...rep,
        trust: await this.#ctx.reputation.trust(id, null, known.operator === true),
      },
    };
  }
}

function toInfo(r: WorkerRecord, s: Record<string, number>, since: number): WorkerInfo {
  const completed = s.completed ?? 0;
  return {
    id: r.id,
    kind: r.kind,
    types: r.types,
    concurrency: r.concurrency,
    firstSeen: r.firstSeen,
    lastSeen: r.lastSeen,
    online: r.lastSeen >= since && !r.left,
    completed,
    failed: s.failed ?? 0,
    meanRunMs: completed > 0 ? (s.runMs ?? 0) / completed : null,
  };
}
