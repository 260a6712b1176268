/**
 * Worker and donor reputation: agreements and disagreements with the accepted result of
 * replicated tasks and with known-answer spot checks. It decides how much a worker is trusted:
 *
 * - `banned`: at least 3 disagreements and more than one per four agreements: no more work;
 * - `trusted`: at least 10 agreements and at most one disagreement per 50: with adaptive
 *   verification its result alone is accepted;
 * - `established`: at least 2 agreements, not banned: a quorum needs one established voter, so
 *   newcomers (who could be colluding liars) cannot outvote the grid on their own;
 * - `new`: anyone else; new workers get known-answer spot checks until they have a record.
 *
 * Untrusted workers are judged this way; the operator's own are trusted unless banned: see
 * `ReputationCache.trust`.
 *
 * @module
 */
import { counterValue } from "../store/committer.ts";
import type { Ctx } from "../context.ts";
import { repKey, type RepKind } from "../store/keys.ts";

export interface Reputation {
  agree: number;
  disagree: number;
}

export type Trust = "banned" | "trusted" | "established" | "new";

export function trustOf(r: Reputation): Trust {
  if (r.disagree >= 3 && r.disagree * 4 > r.agree) return "banned";
  if (r.agree >= 10 && r.disagree * 50 <= r.agree) return "trusted";
  if (r.agree >= 2 && r.disagree * 4 <= r.agree) return "established";
  return "new";
}

/** A donor with a bad record bans all its workers; otherwise the worker's own record counts. */
export function combinedTrust(worker: Reputation, donor: Reputation | null): Trust {
  if (donor && trustOf(donor) === "banned") return "banned";
  return trustOf(worker);
}

const TTL_MS = 1000;

/** Reads reputations through a short-lived cache (claims check it on every call). */
export class ReputationCache {
  #ctx: Ctx;
  #cache = new Map<string, { r: Reputation; at: number }>();

  constructor(ctx: Ctx) {
    this.#ctx = ctx;
  }

  async get(kind: RepKind, id: string): Promise<Reputation> {
    const k = `${kind}:${id}`;
    const hit = this.#cache.get(k);
    if (hit && this.#ctx.now() - hit.at < TTL_MS) return hit.r;
    const [a, d] = await this.#ctx.kv.getMany([
      repKey(kind, id, "agree"),
      repKey(kind, id, "disagree"),
    ]);
    const r = { agree: counterValue(a!.value), disagree: counterValue(d!.value) };
    this.#cache.set(k, { r, at: this.#ctx.now() });
    if (this.#cache.size > 50_000) this.#cache.delete(this.#cache.keys().next().value!);
    return r;
  }

  /** Forget cached values after a decision changed them. */
  invalidate(kind: RepKind, id: string): void {
    this.#cache.delete(`${kind}:${id}`);
  }

  /**
   * Volunteers (browsers, and any worker without a worker token or a direct connection from this
   * machine) earn trust from their record. The operator's own workers (`operator`, decided from
   * the connection in auth.ts, never from what a worker says) are trusted unless their record
   * bans them: with adaptive verification their result alone is accepted.
   */
  async trust(workerId: string, donorId: string | null, operator: boolean): Promise<Trust> {
    const [w, d] = await Promise.all([
      this.get("w", workerId),
      donorId ? this.get("d", donorId) : Promise.resolve(null),
    ]);
    const t = combinedTrust(w, d);
    return operator && t !== "banned" ? "trusted" : t;
  }
}

/** Sums recording one voter's agreement or disagreement. */
export function repSums(
  workerId: string,
  donorId: string | null,
  agreed: boolean,
): Array<[Deno.KvKey, bigint]> {
  const stat = agreed ? "agree" : "disagree";
  const sums: Array<[Deno.KvKey, bigint]> = [[repKey("w", workerId, stat), 1n]];
  if (donorId) sums.push([repKey("d", donorId, stat), 1n]);
  return sums;
}
