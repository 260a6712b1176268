/**
 * The read → commit → announce loop every request-driven transition runs: read what the
 * transition depends on, build its intent, commit it with the checks that make the read still
 * true, and on a lost race read again. Written once here instead of in cancel, finish, heartbeat
 * and retry.
 *
 * @module
 */
import type { Intent } from "./committer.ts";
import type { Ctx } from "../context.ts";
import { ApiFailure } from "../http/errors.ts";

/** What one round decided: commit `intent` and then run `after`; or answer `value` as it is. */
export type Round<T> =
  | { intent: Intent; after: () => T }
  | { value: T }
  /** Nothing to commit yet (another transition is between its reads): read again. */
  | null;

const ROUNDS = 8;

/**
 * Runs `round` until its intent commits (or it answers without one), up to a few times; then
 * the thing is changing too fast and the caller is told to try again (409).
 */
export async function transact<T>(
  ctx: Ctx,
  what: string,
  round: () => Promise<Round<T>>,
): Promise<T> {
  for (let i = 0; i < ROUNDS; i++) {
    const r = await round();
    if (r === null) continue;
    if ("value" in r) return r.value;
    if (await ctx.committer.commit(r.intent)) return r.after();
  }
  throw new ApiFailure("conflict", `${what} is changing too fast; try again`);
}
