/**
 * Which coordinators share the store right now: each writes a short-lived record of itself every
 * few seconds and reads the others'. Work that is only worth doing when there are peers (the
 * ended-task log for their live feeds) asks `peers()` first, so one coordinator alone pays
 * nothing for it.
 *
 * @module
 */
import type { Ctx } from "../context.ts";
import { coordinatorKey, coordinatorPrefix } from "../store/keys.ts";
import { repeat } from "../repeat.ts";

export interface PresenceRecord {
  instanceId: string;
  startedAt: number;
  at: number;
  url: string | null;
}

const EVERY_MS = 1_000;
const TTL_MS = 5_000;

export interface Presence {
  /** Other coordinators seen at the last refresh. */
  peers(): PresenceRecord[];
  stop(): Promise<void>;
}

export async function startPresence(ctx: Ctx, url: () => string | null): Promise<Presence> {
  const startedAt = ctx.now();
  /** Computed at each refresh: it is asked for every task that ends. */
  let others: PresenceRecord[] = [];
  const refresh = async () => {
    const self: PresenceRecord = {
      instanceId: ctx.instanceId,
      startedAt,
      at: ctx.now(),
      url: url(),
    };
    await ctx.kv.set(coordinatorKey(ctx.instanceId), self, { expireIn: TTL_MS });
    const list: PresenceRecord[] = [];
    for await (const e of ctx.kv.list<PresenceRecord>({ prefix: coordinatorPrefix() })) {
      // Expiry in KV is lazy: a record past its time is a coordinator that is gone.
      if (e.value.at > ctx.now() - TTL_MS) list.push(e.value);
    }
    others = list.filter((p) => p.instanceId !== ctx.instanceId);
  };
  await refresh();
  const job = repeat(ctx.log, "presence refresh", EVERY_MS, refresh);
  return {
    peers: () => others,
    async stop() {
      await job.stop();
      await ctx.kv.delete(coordinatorKey(ctx.instanceId)).catch(() => {});
    },
  };
}
