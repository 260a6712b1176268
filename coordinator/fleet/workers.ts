/**
 * The worker registry: who has been seen, of which kind, with which types, and how they did.
 * Sightings are kept in memory and written at most every few seconds per worker; counts are
 * `sum` keys written with each completion.
 *
 * @module
 */
import type { WorkerInfo } from "../../shared/protocol.ts";
import { counterValue } from "../store/committer.ts";
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
}

const WRITE_EVERY_MS = 5_000;

export class WorkerRegistry {
  #ctx: Ctx;
  #seen = new Map<string, { record: WorkerRecord; written: number }>();

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
    };
    const written = known?.written ?? 0;
    this.#seen.set(id, { record, written });
    if (now - written >= WRITE_EVERY_MS) {
      this.#seen.set(id, { record, written: now });
      this.#ctx.kv.set(workerKey(id), record).catch((e) =>
        this.#ctx.log.warn("worker record write failed", { workerId: id, error: String(e) })
      );
    }
  }

  /** Forgets a worker's in-memory sighting (it said goodbye). */
  gone(id: string): void {
    const known = this.#seen.get(id);
    if (!known) return;
    const record = {
      ...known.record,
      lastSeen: this.#ctx.now() - this.#ctx.config.workerOfflineMs,
    };
    this.#seen.delete(id);
    this.#ctx.kv.set(workerKey(id), record).catch(() => {});
  }

  onlineCount(): number {
    const since = this.#ctx.now() - this.#ctx.config.workerOfflineMs;
    return [...this.#seen.values()].filter((w) => w.record.lastSeen >= since).length;
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
    online: r.lastSeen >= since,
    completed,
    failed: s.failed ?? 0,
    meanRunMs: completed > 0 ? (s.runMs ?? 0) / completed : null,
  };
}
