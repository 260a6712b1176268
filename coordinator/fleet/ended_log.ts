/**
 * The tasks this coordinator ended, told to the other coordinators on the store so that each
 * one's live feed shows the whole fleet. Summaries are gathered for `FLUSH_MS` and written as a
 * few short-lived KV entries (not one write per task), only while there are peers.
 *
 * @module
 */
import type { Task } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { decodeEndedKey, endedKey, endedRange, keyString } from "../store/keys.ts";
import type { Presence } from "./presence.ts";
import { repeat } from "../repeat.ts";

/** What a live feed needs of an ended task. */
export type EndedTask =
  & Pick<
    Task,
    "id" | "type" | "status" | "workerId" | "claimedAt" | "createdAt" | "runAt" | "completedAt"
  >
  & {
    error: { code: string; message: string } | null;
    /** The deciding attempt's run time, and (replicated tasks) the first answer → decision. */
    runMs?: number | null;
    verifyMs?: number | null;
  };

/**
 * Run time and verification wait of an ended task, kept apart: a replicated task's run is its
 * deciding replica's lease, and the wait for other volunteers' votes is its verification wait, not
 * run time.
 */
export function taskTimings(t: Task): { runMs: number | null; verifyMs: number | null } {
  if (t.completedAt === null) return { runMs: null, verifyMs: null };
  const deciding =
    t.history.findLast((h) => h.outcome === "completed" && h.leaseId === t.leaseId) ??
      t.history.findLast((h) => h.outcome === "completed");
  const runMs = deciding
    ? Math.max(0, deciding.endedAt - deciding.startedAt)
    : t.claimedAt !== null
    ? Math.max(0, t.completedAt - t.claimedAt)
    : null;
  if (t.votes.length === 0) return { runMs, verifyMs: null };
  const firstVote = Math.min(...t.votes.map((v) => v.at));
  return { runMs, verifyMs: Math.max(0, t.completedAt - firstVote) };
}

const FLUSH_MS = 250;
const PER_ENTRY = 200;
const KEEP_MS = 60_000;
const LOOKBACK_MS = 3_000;

export const endedSummary = (t: Task): EndedTask => ({
  id: t.id,
  type: t.type,
  status: t.status,
  workerId: t.workerId,
  claimedAt: t.claimedAt,
  createdAt: t.createdAt,
  runAt: t.runAt,
  completedAt: t.completedAt,
  error: t.error && { code: t.error.code, message: t.error.message.slice(0, 200) },
  ...taskTimings(t),
});

export interface EndedLog {
  /** Tasks other coordinators ended since the last call. */
  readForeign(): Promise<EndedTask[]>;
  stop(): Promise<void>;
}

export function startEndedLog(ctx: Ctx, presence: Presence): EndedLog {
  let queued: EndedTask[] = [];
  const off = ctx.signals.onTaskEnded((t) => {
    if (presence.peers().length > 0) queued.push(endedSummary(t));
  });
  const flush = async () => {
    if (queued.length === 0) return;
    const items = queued;
    queued = [];
    const at = ctx.now();
    const op = ctx.kv.atomic();
    for (let i = 0, part = 0; i < items.length; i += PER_ENTRY, part++) {
      op.set(endedKey(at, ctx.instanceId, part), items.slice(i, i + PER_ENTRY), {
        expireIn: KEEP_MS,
      });
    }
    await op.commit();
  };
  const writer = repeat(ctx.log, "ended-task log write", FLUSH_MS, flush);

  const seen = new Map<string, number>();
  let since = ctx.now() - LOOKBACK_MS;
  return {
    async readForeign() {
      const out: EndedTask[] = [];
      for await (const e of ctx.kv.list<EndedTask[]>(endedRange(since))) {
        const { at, instanceId } = decodeEndedKey(e.key);
        if (instanceId === ctx.instanceId) continue;
        const id = keyString(e.key);
        if (seen.has(id)) continue;
        seen.set(id, at);
        out.push(...e.value);
      }
      since = ctx.now() - LOOKBACK_MS;
      for (const [id, at] of seen) if (at < since) seen.delete(id);
      return out;
    },
    async stop() {
      off();
      await writer.stop();
      await flush().catch(() => {});
    },
  };
}
