/**
 * The donors' totals: browser volunteers' completed tasks and credited compute time, kept as
 * `["donor", id, stat]` sums by the transitions that accept their work (donor_credit.ts).
 *
 * @module
 */
import type { Donor } from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import { counterValue } from "../store/committer.ts";
import { decodeDonorStatKey, donorPrefix } from "../store/keys.ts";

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
