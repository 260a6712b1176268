/**
 * Notices between coordinators on one store, for what they must hear at once but that is rare:
 * a lease ended by someone other than its holder (a cancel), so the coordinator whose socket
 * holds it can push the cancel. A notice is one short-lived KV entry written in the same atomic
 * operation as the transition; every coordinator reads the new ones every `intervalMs`.
 *
 * Entries are keyed by time, and clocks of different hosts differ: each read looks back
 * `LOOKBACK_MS` and skips entries it has seen, so a notice from a host whose clock lags by less
 * than that is still heard.
 *
 * @module
 */
import type { Ctx } from "../context.ts";
import { busKey, busRange, decodeBusKey, taskKey } from "../store/keys.ts";
import type { Task } from "../../shared/protocol.ts";
import { repeat, type Repeating } from "../repeat.ts";

export interface BusEvent {
  kind: "lease_ended";
  origin: string;
  taskId: string;
  leaseIds: string[];
}

const LOOKBACK_MS = 3_000;
const KEEP_MS = 60_000;

/** The mutation that publishes `event` (add it to the transition's intent). */
export function busNotice(ctx: Ctx, event: Omit<BusEvent, "origin">): Deno.KvMutation {
  return {
    type: "set",
    key: busKey(ctx.now(), crypto.randomUUID()),
    value: { ...event, origin: ctx.instanceId } satisfies BusEvent,
    expireIn: KEEP_MS,
  };
}

export function watchBus(ctx: Ctx, intervalMs: number): Repeating {
  const seen = new Map<string, number>();
  let since = ctx.now() - LOOKBACK_MS;
  return repeat(ctx.log, "bus read", intervalMs, async () => {
    const events: BusEvent[] = [];
    for await (const e of ctx.kv.list<BusEvent>(busRange(since))) {
      const { at, uid } = decodeBusKey(e.key);
      if (seen.has(uid)) continue;
      seen.set(uid, at);
      if (e.value.origin !== ctx.instanceId) events.push(e.value);
    }
    since = ctx.now() - LOOKBACK_MS;
    for (const [uid, at] of seen) if (at < since) seen.delete(uid);
    for (const ev of events) {
      const task = (await ctx.kv.get<Task>(taskKey(ev.taskId))).value;
      if (task) { for (const id of ev.leaseIds) ctx.signals.leaseEnded(id, task); }
    }
  });
}
