/**
 * claim: who gets which lease. The dispatcher keeps, per (queue, type), a buffer of the ready
 * entries at the head of the index, so concurrent claimers in this process take distinct
 * entries instead of racing for the same head. Each claim is still an intent that checks its
 * ready entry's versionstamp, so another coordinator on the same KV can never double-lease.
 *
 * The cost of a claim is a few range reads at the head of the index: it does not grow with the
 * number of queued tasks.
 *
 * @module
 */
import type { ClaimRequest, Lease, Task } from "../shared/protocol.ts";
import { type Ctx, getMany } from "./context.ts";
import type { Intent } from "./committer.ts";
import { countKey, keyString, leaseExpiryKey, leaseKey, readyPrefix, taskKey } from "./keys.ts";
import { type LeaseRecord, taskView } from "./task_view.ts";

interface Entry {
  key: Deno.KvKey;
  ks: string;
  versionstamp: string;
  prio: number;
  id: string;
}

interface Buffer {
  entries: Entry[];
  /** The last fetch returned everything there was. */
  exhausted: boolean;
  /** Something may have been added since the last fetch. */
  stale: boolean;
  fetching: Promise<void> | null;
}

const FETCH = 256;
const RECHECK_MS = 2000;

export type ClaimOptions = Required<Pick<ClaimRequest, "workerId" | "max" | "waitMs">> & {
  types?: string[] | undefined;
  queues?: string[] | undefined;
  signal?: AbortSignal;
};

export class Dispatcher {
  #ctx: Ctx;
  #buffers = new Map<string, Buffer>();
  #inflight = new Set<string>();

  constructor(ctx: Ctx) {
    this.#ctx = ctx;
  }

  /** New ready work may exist (of these kinds, or of any): refetch before trusting a buffer. */
  markStale(items?: ReadonlyArray<{ queue: string; type: string }>): void {
    if (!items) {
      for (const b of this.#buffers.values()) b.stale = true;
      return;
    }
    for (const it of items) {
      const b = this.#buffers.get(`${it.queue}\u0001${it.type}`);
      if (b) b.stale = true;
    }
  }

  /** Claims up to `max` tasks, waiting up to `waitMs` for the first one. */
  async claim(options: ClaimOptions): Promise<Lease[]> {
    const deadline = this.#ctx.now() + options.waitMs;
    const types = options.types?.length ? new Set(options.types) : null;
    const queues = options.queues?.length ? new Set(options.queues) : null;
    const accepts = (queue: string, type: string) =>
      (!types || types.has(type)) && (!queues || queues.has(queue));
    while (true) {
      const leases = await this.#claimNow(options);
      const left = deadline - this.#ctx.now();
      if (leases.length > 0 || left <= 0 || options.signal?.aborted) return leases;
      // Woken for matching work; the cap re-checks now and then, in case a wake-up was missed.
      await this.#ctx.signals.waitForReady(
        Math.min(left, RECHECK_MS),
        options.signal,
        accepts,
        options.max,
      );
    }
  }

  #pairs(options: ClaimOptions): Array<[string, string]> {
    const types = options.types?.length
      ? options.types.filter((t) => this.#ctx.handlers.has(t))
      : [...this.#ctx.handlers.keys()];
    const queues = options.queues?.length ? options.queues : [...this.#ctx.queues];
    return queues.flatMap((q) => types.map((t) => [q, t] as [string, string]));
  }

  #buffer(queue: string, type: string): Buffer {
    const id = `${queue}\u0001${type}`;
    let b = this.#buffers.get(id);
    if (!b) {
      b = { entries: [], exhausted: false, stale: true, fetching: null };
      this.#buffers.set(id, b);
    }
    return b;
  }

  #fill(queue: string, type: string, b: Buffer): Promise<void> {
    if (b.fetching) return b.fetching;
    b.stale = false;
    b.fetching = (async () => {
      const entries: Entry[] = [];
      let seen = 0;
      for await (
        const e of this.#ctx.kv.list({ prefix: readyPrefix(queue, type) }, { limit: FETCH })
      ) {
        seen++;
        const ks = keyString(e.key);
        if (this.#inflight.has(ks)) continue;
        entries.push({
          key: e.key,
          ks,
          versionstamp: e.versionstamp,
          prio: e.key[3] as number,
          id: e.key[4] as string,
        });
      }
      b.entries = entries;
      b.exhausted = seen < FETCH;
    })().finally(() => (b.fetching = null));
    return b.fetching;
  }

  async #claimNow(options: ClaimOptions): Promise<Lease[]> {
    const leases: Lease[] = [];
    for (let round = 0; round < 4 && leases.length < options.max; round++) {
      const picked = await this.#pick(options, options.max - leases.length);
      if (picked.length === 0) break;
      try {
        leases.push(...await this.#lease(options.workerId, picked));
      } finally {
        for (const e of picked) this.#inflight.delete(e.ks);
      }
    }
    return leases;
  }

  /** Takes the best `n` entries across the matching buffers: priority first, then FIFO. */
  async #pick(options: ClaimOptions, n: number): Promise<Entry[]> {
    const buffers = this.#pairs(options).map(([q, t]) => [q, t, this.#buffer(q, t)] as const);
    const needsFill = (b: Buffer) => b.stale || (b.entries.length === 0 && !b.exhausted);
    await Promise.all(
      buffers.filter(([, , b]) => needsFill(b)).map(([q, t, b]) => this.#fill(q, t, b)),
    );
    const picked: Entry[] = [];
    while (picked.length < n) {
      let best: Buffer | null = null;
      for (let i = 0; i < buffers.length; i++) {
        const b = buffers[i]![2];
        while (b.entries.length > 0 && this.#inflight.has(b.entries[0]!.ks)) b.entries.shift();
        const head = b.entries[0];
        if (!head) continue;
        const cur = best?.entries[0];
        if (!cur || head.prio < cur.prio || (head.prio === cur.prio && head.id < cur.id)) {
          best = b;
        }
      }
      if (!best) {
        const refill = buffers.filter(([, , b]) => b.entries.length === 0 && !b.exhausted);
        if (refill.length === 0) break;
        await Promise.all(refill.map(([q, t, b]) => this.#fill(q, t, b)));
        if (refill.every(([, , b]) => b.entries.length === 0)) break;
        continue;
      }
      const e = best.entries.shift()!;
      this.#inflight.add(e.ks);
      picked.push(e);
    }
    return picked;
  }

  async #lease(workerId: string, picked: Entry[]): Promise<Lease[]> {
    const ctx = this.#ctx;
    const tasks = await getMany<Task>(ctx.kv, picked.map((e) => taskKey(e.id)));
    const now = ctx.now();
    const out = await Promise.all(picked.map(async (e, i): Promise<Lease | null> => {
      const task = tasks[i]!.value;
      if (!task || task.status !== "pending") {
        // A ready entry without a pending task is debris: remove it, checked.
        await ctx.committer.commit({
          checks: [{ key: e.key, versionstamp: e.versionstamp }],
          mutations: [{ type: "delete", key: e.key }],
        });
        return null;
      }
      const lease: LeaseRecord = {
        leaseId: crypto.randomUUID(),
        taskId: task.id,
        workerId,
        attempt: task.attempts + 1,
        startedAt: now,
        expiresAt: now + task.leaseMs,
        leaseMs: task.leaseMs,
      };
      const intent: Intent = {
        checks: [{ key: e.key, versionstamp: e.versionstamp }],
        mutations: [
          { type: "delete", key: e.key },
          { type: "set", key: leaseKey(task.id, lease.leaseId), value: lease },
          { type: "set", key: leaseExpiryKey(lease.expiresAt, task.id, lease.leaseId), value: 1 },
        ],
        sums: [
          [countKey(task.type, task.queue, "pending"), -1n],
          [countKey(task.type, task.queue, "processing"), 1n],
        ],
        bytes: 400,
      };
      if (!await ctx.committer.commit(intent)) return null;
      ctx.leasedTasks.set(lease.leaseId, task);
      return {
        leaseId: lease.leaseId,
        taskId: task.id,
        expiresAt: lease.expiresAt,
        attempt: lease.attempt,
        task: taskView(task, [lease]),
      };
    }));
    return out.filter((l): l is Lease => l !== null);
  }
}
