/**
 * The donors' totals: browser volunteers' completed tasks and credited compute time, kept as
 * `["donor", id, stat]` sums by the transitions that accept their work, and their pending
 * credit, votes on tasks not yet decided (donor_credit.ts).
 *
 * @module
 */
import type { Donor, DonorCredit } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { counterValue } from "../store/committer.ts";
import {
  decodeDonorStatKey,
  donorPendingPrefix,
  donorPrefix,
  donorStatKey,
} from "../store/keys.ts";
import type { PendingCredit } from "../verify/donor_credit.ts";

/** Every donor's totals, most tasks first. */
export async function listDonors(ctx: Ctx): Promise<Donor[]> {
  const byId = new Map<string, Donor>();
  for await (const e of ctx.kv.list({ prefix: donorPrefix() })) {
    const { donorId: id, stat } = decodeDonorStatKey(e.key);
    let d = byId.get(id);
    if (!d) byId.set(id, d = { id, completed: 0, computeMs: 0 });
    d[stat] = counterValue(e.value);
  }
  return [...byId.values()].sort((a, b) => b.completed - a.completed);
}

/**
 * One donor's credit: checked (the sums the accepting transitions gave) and pending (its votes
 * on tasks not yet decided), both from the store, never from what a page says.
 *
 * @example
 * ```ts
 * const { checked, pending } = await readDonorCredit(ctx, "3f2a…");
 * ```
 */
export async function readDonorCredit(ctx: Ctx, donorId: string): Promise<DonorCredit> {
  const [done, ms] = await ctx.kv.getMany([
    donorStatKey(donorId, "completed"),
    donorStatKey(donorId, "computeMs"),
  ]);
  const pending = { tasks: 0, computeMs: 0, waitingForRecord: 0 };
  for await (const e of ctx.kv.list<PendingCredit>({ prefix: donorPendingPrefix(donorId) })) {
    pending.tasks++;
    pending.computeMs += e.value.computeMs;
    if (e.value.waiting) pending.waitingForRecord++;
  }
  return {
    id: donorId,
    checked: {
      tasks: counterValue(done.value),
      computeMs: counterValue(ms.value),
    },
    pending,
  };
}
