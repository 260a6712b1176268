/**
 * Client key quotas (`deno task keys quota`): how many unfinished tasks a key may have, and how
 * many tasks a second it may submit. The first is read from the key's `["owner_open", id]`
 * counter, one read per submit (a sum kept by enqueue and every transition that ends or revives
 * a task: 2 mutations per task of a key, merged within a commit); concurrent submits may pass it
 * by what they add together. The second is a token bucket per key in each coordinator, so with
 * several coordinators a key may submit that rate through each.
 *
 * @module
 */
import type { Ctx } from "../context.ts";
import { ApiFailure } from "../http/errors.ts";
import { counterValue } from "../store/committer.ts";
import { ownerOpenKey } from "../store/keys.ts";
import type { KeyQuota } from "./api_keys.ts";
import { TokenBucket } from "./rate_limit.ts";

const buckets = new WeakMap<Ctx, Map<string, TokenBucket>>();

/** Refuses (429 `quota_exceeded`) `n` more tasks from key `owner` when its quota says no. */
export async function checkQuota(
  ctx: Ctx,
  owner: string,
  quota: KeyQuota,
  n: number,
  field: string,
): Promise<void> {
  if (quota.maxQueued !== undefined) {
    const open = counterValue((await ctx.kv.get(ownerOpenKey(owner))).value);
    if (open + n > quota.maxQueued) {
      throw new ApiFailure(
        "quota_exceeded",
        `this key may have ${quota.maxQueued} unfinished tasks; it has ${open}, and this adds ${n}`,
        field,
        { headers: { "retry-after": "1" } },
      );
    }
  }
  if (quota.submitPerSecond !== undefined) {
    const perSecond = quota.submitPerSecond;
    if (n > Math.max(1, perSecond)) {
      throw new ApiFailure(
        "quota_exceeded",
        `this key may submit ${perSecond} tasks a second; send at most ${
          Math.floor(Math.max(1, perSecond))
        } at a time`,
        field,
      );
    }
    let mine = buckets.get(ctx);
    if (!mine) buckets.set(ctx, mine = new Map());
    let bucket = mine.get(owner);
    if (!bucket || bucket.rate !== perSecond) {
      mine.set(owner, bucket = new TokenBucket(perSecond, Math.max(1, perSecond), ctx.now()));
    }
    const wait = bucket.take(ctx.now(), n);
    if (wait > 0) {
      throw new ApiFailure(
        "quota_exceeded",
        `this key may submit ${perSecond} tasks a second; try again in ${wait} ms`,
        field,
        { headers: { "retry-after": String(Math.ceil(wait / 1000)) } },
      );
    }
  }
}
