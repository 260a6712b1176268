/**
 * claim: who gets which lease. Claimers take distinct entries of what this process has read of
 * the ready index (`ready_buffers.ts`), and the dispatcher applies the rules of who may have
 * which: replicas to distinct workers and donors, a waiting quorum task to voters with a record,
 * spot checks to newcomers, nothing to the banned. Each claim is an intent that checks its ready
 * entry's versionstamp, so another coordinator on the same KV can never double-lease.
 *
 * The cost of a claim is a few range reads at the head of the index: it does not grow with the
 * number of queued tasks.
 *
 * @module
 */
import type { ClaimRequest, Lease, Task, WorkerKind } from "../../shared/protocol.ts";
import { type Ctx, getUnknown } from "../context.ts";
import { decodeReadyKey, pairId, taskKey } from "../store/keys.ts";
import { makeSpotLease, wantsSpotCheck } from "../verify/spot_checks.ts";
import { ReadyBuffers, type ReadyEntry } from "./ready_buffers.ts";
import type { ReadyWritten } from "./signals.ts";
import { claimIntent, holds, newLease, replicaClaimIntent } from "../tasks/claim.ts";
import { hasRecord } from "../verify/quorum.ts";
import { type StoredTask, taskView, workerView } from "../store/task_view.ts";

/**
 * A waiting claim looks again after this long even unwoken, in case a wake-up was missed; with
 * many waiters the look is rarer, so that all of them together look at most about
 * `RECHECKS_PER_S` times a second (10,000 idle sockets would otherwise cost 5,000 claims a second).
 */
const RECHECK_MS = 2000;
const RECHECKS_PER_S = 250;

export type ClaimOptions = Required<Pick<ClaimRequest, "workerId" | "max" | "waitMs">> & {
  types?: string[] | undefined;
  queues?: string[] | undefined;
  /** The browser volunteer behind the worker: one donor never gets two replicas of a task. */
  donorId?: string | null | undefined;
  kind?: WorkerKind | undefined;
  /** The seed protocol's claim: its leases may be ended by lease-less reports. */
  via?: "seed" | undefined;
  /** Trusted as the operator's own (auth.ts `operatorWorker`); otherwise judged by its record. */
  operator?: boolean | undefined;
  signal?: AbortSignal;
};

export class Dispatcher {
  #ctx: Ctx;
  #buffers: ReadyBuffers;
  /**
   * Tasks with a slot being claimed right now. Claiming a replica writes its task, so two
   * slots of one task claimed at once would always conflict: the second waits a commit.
   */
  #inflightTasks = new Set<string>();
  /**
   * Replicated tasks each worker has taken a replica of, remembered here so picks pass over
   * their sibling slots instead of reading their records only to put them back. The record's
   * `holding` stays the rule (it also covers other processes); this only saves wasted rounds.
   * A replica handed back, failed or expired is not a vote and no longer bars its worker: its
   * end is heard here, or from another coordinator on the bus, and the task forgotten.
   */
  #replicasOf = new Map<string, Set<string>>();
  /** (queue, type) pairs where a pick passed over an entry because its task was in flight. */
  #deferred = new Map<string, { queue: string; type: string }>();
  /** Workers with a spot check out now: one at a time each. */
  #spotting = new Set<string>();

  constructor(ctx: Ctx) {
    this.#ctx = ctx;
    this.#buffers = new ReadyBuffers(ctx.kv);
    ctx.signals.onTaskEnded((task) => {
      this.#buffers.forget(task);
      ctx.readyTasks.forget(task.id);
    });
    ctx.signals.onLeaseEnded((leaseId, task) => {
      // Every lease end comes here: only a replica's can change what is remembered.
      if (this.#replicasOf.size === 0 || task.verification.mode !== "quorum") return;
      const ended = task.history.find((h) => h.leaseId === leaseId);
      if (!ended || ended.outcome === "completed") return;
      if (this.#replicasOf.get(ended.workerId)?.delete(task.id)) {
        // Its claims passed over the task's slots: they may take them now.
        ctx.signals.wake([{ queue: task.queue, type: task.type }]);
      }
    });
  }

  /** New ready work may exist (of these kinds, or of any): refetch before trusting a buffer. */
  markStale(items?: ReadonlyArray<{ queue: string; type: string }>): void {
    this.#buffers.markStale(items);
  }

  /** Ready entries this process just committed: claims take them without reading the index. */
  readyWritten(written: ReadonlyArray<ReadyWritten>): void {
    this.#buffers.add(written);
  }

  /** Claims up to `max` tasks, waiting up to `waitMs` for the first one. */
  async claim(options: ClaimOptions): Promise<Lease[]> {
    const deadline = this.#ctx.now() + options.waitMs;
    const types = options.types?.length ? new Set(options.types) : null;
    const queues = options.queues?.length ? new Set(options.queues) : null;
    const accepts = (queue: string, type: string) =>
      (!types || types.has(type)) && (!queues || queues.has(queue));
    const donorId = options.donorId ?? null;
    const kind = options.kind ?? "other";
    const operator = options.operator === true;
    while (true) {
      // Read again after each wait: a worker banned meanwhile gets nothing more.
      const rep = await this.#ctx.reputation.get("w", options.workerId);
      const trust = await this.#ctx.reputation.trust(options.workerId, donorId, operator);
      if (trust === "banned") {
        // Below the threshold: no more work. Wait out the poll so the caller does not spin.
        const rest = Math.max(0, deadline - this.#ctx.now());
        await this.#ctx.signals.waitForReady(rest, options.signal, () => false);
        return [];
      }
      const started = performance.now();
      const leases: Lease[] = [];
      if (
        !this.#spotting.has(options.workerId) &&
        wantsSpotCheck(this.#ctx.config.spotChecks, operator, rep)
      ) {
        this.#spotting.add(options.workerId);
        const spot = await makeSpotLease(this.#ctx, { ...options, donorId, kind }).catch(() =>
          null
        );
        if (spot) {
          leases.push(spot);
          this.#trackSpot(options.workerId, spot.leaseId);
        } else this.#spotting.delete(options.workerId);
      }
      if (leases.length < options.max) {
        leases.push(...await this.#claimNow({ ...options, max: options.max - leases.length }));
      }
      const left = deadline - this.#ctx.now();
      if (leases.length > 0) {
        this.#ctx.metrics?.claimed(kind, leases.length, performance.now() - started);
      }
      if (leases.length > 0 || left <= 0 || options.signal?.aborted) return leases;
      // Woken for matching work; the cap re-checks now and then, in case a wake-up was missed.
      // Spread, so that claims which began together do not all look again together.
      const waiters = this.#ctx.signals.readyWaiterCount;
      const recheck = Math.max(RECHECK_MS, (waiters / RECHECKS_PER_S) * 1000) *
        (0.75 + Math.random() / 2);
      await this.#ctx.signals.waitForReady(
        Math.min(left, recheck),
        options.signal,
        accepts,
        options.max,
      );
    }
  }

  #trackSpot(workerId: string, leaseId: string): void {
    const off = this.#ctx.signals.onLeaseEnded((id) => {
      if (id !== leaseId) return;
      this.#spotting.delete(workerId);
      off();
    });
  }

  #pairs(options: ClaimOptions): Array<[string, string]> {
    const types = options.types?.length
      ? options.types.filter((t) => this.#ctx.handlers.has(t))
      : [...this.#ctx.handlers.keys()];
    const queues = options.queues?.length ? options.queues : [...this.#ctx.queues];
    return queues.flatMap((q) => types.map((t) => [q, t] as [string, string]));
  }

  async #claimNow(options: ClaimOptions): Promise<Lease[]> {
    const leases: Lease[] = [];
    // Tasks this claim already has, or must not have (this worker holds a replica of it).
    const skip = new Set<string>();
    // Rounds go on while picks come back (a lost race or a stale entry costs one round).
    for (let round = 0; round < 16 && leases.length < options.max; round++) {
      const picked = await this.#pick(options, options.max - leases.length, skip);
      if (picked.length === 0) break;
      try {
        leases.push(...await this.#lease(options, picked));
      } finally {
        this.#buffers.release(picked);
        for (const e of picked) this.#inflightTasks.delete(e.id);
        // Claims that passed over a sibling slot of these tasks may now take it.
        if (this.#deferred.size > 0) {
          const pairs = [...this.#deferred.values()];
          this.#deferred.clear();
          this.#ctx.signals.wake(pairs);
        }
      }
    }
    return leases;
  }

  /** The best `n` entries this claim may take, across the buffers it accepts. */
  async #pick(options: ClaimOptions, n: number, skip: Set<string>): Promise<ReadyEntry[]> {
    const mine = this.#replicasOf.get(options.workerId);
    // One slot of a task per claim: a replica's claim bars its worker from the task's other
    // slots, so a second one picked would only wait for the first's commit to be put back.
    const chosen = new Set<string>();
    const picked = await this.#buffers.take(this.#pairs(options), n, (e) => {
      if (skip.has(e.id) || chosen.has(e.id) || mine?.has(e.id)) return false;
      if (!this.#inflightTasks.has(e.id)) {
        chosen.add(e.id);
        return true;
      }
      // A sibling slot of a task being claimed: worth a look once that claim is done.
      this.#defer(e);
      return false;
    });
    for (const e of picked) {
      this.#inflightTasks.add(e.id);
      skip.add(e.id);
    }
    return picked;
  }

  async #lease(options: ClaimOptions, picked: ReadyEntry[]): Promise<Lease[]> {
    const ctx = this.#ctx;
    const { workerId } = options;
    const donorId = options.donorId ?? null;
    // An ordinary task's remembered record carries no versionstamp: its claim checks the ready
    // entry alone. A replicated one's carries the record's, which its claim checks.
    const tasks = await getUnknown<Task>(
      ctx.kv,
      picked.map((e) => taskKey(e.id)),
      picked.map((e) => {
        const replica = ctx.readyTasks.replica(e.id);
        if (replica) return { value: replica.task, versionstamp: replica.versionstamp };
        const task = ctx.readyTasks.take(e.id, e.versionstamp);
        return task && { value: task, versionstamp: null };
      }),
    );
    const now = ctx.now();
    const out = await Promise.all(picked.map(async (e, i): Promise<Lease | null> => {
      const entry = tasks[i];
      const task = entry.value;
      const replicated = task?.verification.mode === "quorum";
      const claimable = task &&
        (task.status === "pending" || (replicated && task.status === "processing"));
      if (!task || !claimable) {
        // A ready entry without a claimable task is debris: remove it, checked.
        await ctx.committer.commit({
          checks: [{ key: e.key, versionstamp: e.versionstamp }],
          mutations: [{ type: "delete", key: e.key }],
        });
        return null;
      }
      const who = {
        workerId,
        donorId,
        kind: options.kind ?? "other",
        via: options.via,
        operator: options.operator === true,
      };
      const check = { key: e.key, versionstamp: e.versionstamp };
      if (replicated) {
        // A task waiting for a voter with a record: another newcomer's vote could not decide it.
        const unfit = task.waiting &&
          !hasRecord(await ctx.reputation.trust(workerId, donorId, who.operator));
        const passOver = () => {
          this.#rememberReplica(workerId, task.id);
          return this.#giveBack(e);
        };
        // Unfit for now only (a record can be earned, the wait can end): not remembered.
        if (unfit) return this.#giveBack(e);
        return await ctx.readyTasks.serially(task.id, async () => {
          // The record as the last write queued before this one left it, if made here.
          const latest = ctx.readyTasks.replica(task.id);
          let current: Deno.KvEntry<StoredTask> = latest
            ? { key: entry.key, value: latest.task, versionstamp: latest.versionstamp }
            : entry as Deno.KvEntry<StoredTask>;
          // A sibling slot this worker took while this one was picked (known only once committed).
          if (this.#replicasOf.get(workerId)?.has(task.id)) return passOver();
          // Never two replicas of one task to one worker or one donor, ever: the record says who
          // holds one, and the claim checks the record. The record as last seen here may be one
          // that another coordinator has since freed this worker from: it asks the store.
          if (holds(current.value, who)) {
            const fresh = await ctx.kv.get<StoredTask>(taskKey(task.id));
            if (fresh.value === null) return this.#lost(e);
            if (holds(fresh.value, who)) return passOver();
            current = fresh as Deno.KvEntry<StoredTask>;
          }
          const t = current.value;
          if (t.status !== "pending" && t.status !== "processing") return this.#lost(e);
          const lease = newLease(t, e.slot, who, now);
          const claimed = replicaClaimIntent(current, check, lease, now);
          const versionstamp = await ctx.committer.commitAt(claimed.intent);
          if (versionstamp === null) {
            // Changed elsewhere: perhaps by this worker's claim of another slot there.
            ctx.readyTasks.forget(t.id);
            const fresh = await ctx.kv.get<StoredTask>(taskKey(t.id));
            return fresh.value && holds(fresh.value, who) ? passOver() : this.#lost(e);
          }
          ctx.readyTasks.wrote(claimed.next, versionstamp);
          ctx.leasedTasks.set(lease.leaseId, claimed.next, lease.expiresAt, {
            value: lease,
            versionstamp,
          });
          this.#rememberReplica(workerId, t.id);
          return {
            leaseId: lease.leaseId,
            taskId: t.id,
            expiresAt: lease.expiresAt,
            attempt: lease.attempt,
            task: workerView(claimed.next),
          };
        });
      }
      const lease = newLease(task, e.slot, who, now);
      const versionstamp = await ctx.committer.commitAt(claimIntent(task, check, lease));
      if (versionstamp === null) return this.#lost(e);
      ctx.leasedTasks.set(lease.leaseId, task, lease.expiresAt, { value: lease, versionstamp });
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

  /**
   * Puts back an entry this claim may not take. A claim that looked while it was picked did not
   * see it: it is woken once this round is done (`#deferred`).
   */
  #giveBack(e: ReadyEntry): null {
    this.#buffers.putBack(e);
    this.#defer(e);
    return null;
  }

  /** Wakes the claims of `e`'s (queue, type) once the current round is done. */
  #defer(e: ReadyEntry): void {
    const { queue, type } = decodeReadyKey(e.key);
    this.#deferred.set(pairId(queue, type), { queue, type });
  }

  #lost(e: ReadyEntry): null {
    this.#buffers.lost(e);
    return null;
  }

  #rememberReplica(workerId: string, taskId: string): void {
    let set = this.#replicasOf.get(workerId);
    if (!set) this.#replicasOf.set(workerId, set = new Set());
    set.add(taskId);
    if (set.size > 10_000) set.delete(set.values().next().value!);
    if (this.#replicasOf.size > 10_000) {
      this.#replicasOf.delete(this.#replicasOf.keys().next().value!);
    }
  }
}
