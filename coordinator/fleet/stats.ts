/**
 * Counters and rates, read from `sum` keys: the cost is the number of (type, queue, status)
 * triples and the 600 seconds of rates, never the number of tasks.
 *
 * @module
 */
import type { Stats } from "../../shared/protocol.ts";
import { counterValue } from "../store/committer.ts";
import type { Ctx } from "../context.ts";
import {
  countPrefix,
  decodeCountKey,
  decodeRateKey,
  decodeSpotCountKey,
  rateKey,
  type RateKind,
  ratePrefix,
  spotCountPrefix,
} from "../store/keys.ts";

export const RATE_WINDOW_S = 600;
const STATUSES = ["pending", "processing", "completed", "failed", "cancelled"] as const;

const zeroCounts = () => Object.fromEntries(STATUSES.map((s) => [s, 0]));

export async function readStats(ctx: Ctx, workersOnline: number): Promise<Stats> {
  const status: Record<string, number> = zeroCounts();
  const byType: Record<string, Record<string, number>> = {};
  const byQueue: Record<string, Record<string, number>> = {};
  for await (const e of ctx.kv.list({ prefix: countPrefix() })) {
    const { type, queue, status: st } = decodeCountKey(e.key);
    const n = counterValue(e.value);
    status[st] = (status[st] ?? 0) + n;
    (byType[type] ??= zeroCounts())[st] += n;
    (byQueue[queue] ??= zeroCounts())[st] += n;
  }
  const spotChecks: Record<string, number> = {};
  for await (const e of ctx.kv.list({ prefix: spotCountPrefix() })) {
    spotChecks[decodeSpotCountKey(e.key).status] = counterValue(e.value);
  }
  const nowS = Math.floor(ctx.now() / 1000);
  const t0 = nowS - RATE_WINDOW_S + 1;
  const series = async (kind: RateKind) => {
    const out = new Array<number>(RATE_WINDOW_S).fill(0);
    const iter = ctx.kv.list({ start: rateKey(kind, t0), end: rateKey(kind, nowS + 1) });
    for await (const e of iter) out[decodeRateKey(e.key).second - t0] = counterValue(e.value);
    return out;
  };
  const [completed, failed, submitted] = await Promise.all([
    series("completed"),
    series("failed"),
    series("submitted"),
  ]);
  return {
    status,
    byType,
    byQueue,
    rates: { t0: t0 * 1000, completed, failed, submitted },
    workersOnline,
    spotChecks,
    committer: {
      commits: ctx.committer.stats.commits,
      intents: ctx.committer.stats.intents,
      mutations: ctx.committer.stats.mutations,
      sums: ctx.committer.stats.sums,
      conflicts: ctx.committer.stats.conflicts,
    },
  };
}

/** Deletes rate buckets older than the window. */
export async function pruneRates(ctx: Ctx): Promise<void> {
  const before = Math.floor(ctx.now() / 1000) - RATE_WINDOW_S - 5;
  for (const kind of ["submitted", "completed", "failed"] as const) {
    const op = ctx.kv.atomic();
    let n = 0;
    for await (
      const e of ctx.kv.list({ start: ratePrefix(kind), end: rateKey(kind, before) }, {
        limit: 500,
      })
    ) {
      op.delete(e.key);
      n++;
    }
    if (n > 0) await op.commit();
  }
}
