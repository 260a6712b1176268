/**
 * `GET /api/public`: what anyone may see of the grid (the donate page links to its page):
 * totals, task types in plain words, throughput, and the donors' sums. No task, worker or key
 * data. Built at most once a second, however many volunteers ask.
 *
 * @module
 */
import type { PublicStats } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { listDonors } from "./donors.ts";
import { readStats } from "./stats.ts";
import type { WorkerRegistry } from "./workers.ts";

const FRESH_MS = 1000;

/**
 * A reader of the public view, cached for a second.
 *
 * @example
 * ```ts
 * const read = publicStatsReader(ctx, workers);
 * const view = await read();
 * ```
 */
export function publicStatsReader(ctx: Ctx, workers: WorkerRegistry): () => Promise<PublicStats> {
  let cached: { at: number; view: Promise<PublicStats> } | null = null;
  return () => {
    const now = ctx.now();
    if (!cached || now - cached.at >= FRESH_MS) {
      const view = build(ctx, workers);
      cached = { at: now, view };
      view.catch(() => (cached = null));
    }
    return cached.view;
  };
}

async function build(ctx: Ctx, workers: WorkerRegistry): Promise<PublicStats> {
  const [stats, records, donors] = await Promise.all([
    readStats(ctx, 0),
    workers.records(),
    listDonors(ctx),
  ]);
  const now = ctx.now();
  const since = now - ctx.config.workerOfflineMs;
  const online = records.filter((w) => w.lastSeen >= since && !w.left);
  const types = [...ctx.handlers].map(([type, h]) => ({
    type,
    description: h.description,
    completed: stats.byType[type]?.completed ?? 0,
    queued: (stats.byType[type]?.pending ?? 0) + (stats.byType[type]?.processing ?? 0),
  })).sort((a, b) => b.completed - a.completed || (a.type < b.type ? -1 : 1));
  return {
    at: now,
    totals: {
      completed: stats.status.completed ?? 0,
      queued: stats.status.pending ?? 0,
      running: stats.status.processing ?? 0,
      workersOnline: online.length,
      browsersOnline: online.filter((w) => w.kind === "browser").length,
    },
    types,
    rates: {
      t0: stats.rates.t0,
      completed: stats.rates.completed,
      submitted: stats.rates.submitted,
    },
    donors: {
      count: donors.length,
      completed: donors.reduce((a, d) => a + d.completed, 0),
      computeMs: donors.reduce((a, d) => a + d.computeMs, 0),
    },
  };
}
