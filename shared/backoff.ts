/**
 * Exponential backoff with jitter, the one formula every retry in Tessera uses: the coordinator's
 * task retries and every reconnect, re-claim and re-report of the workers.
 *
 * @example
 * ```ts
 * await new Promise((r) => setTimeout(r, backoffDelay(3, { baseMs: 250, maxMs: 30_000 })));
 * ```
 *
 * @module
 */

export interface Backoff {
  /** The delay before the second try. */
  baseMs: number;
  /** The longest delay. */
  maxMs: number;
  /** Scale by a random factor in [0.5, 1] so that many clients do not retry in step. @default true */
  jitter?: boolean;
}

/** The delay before try `attempt + 1`: `baseMs · 2^(attempt − 1)`, capped at `maxMs`, jittered. */
export function backoffDelay(attempt: number, b: Backoff, random = Math.random()): number {
  const exp = Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(b.jitter === false ? exp : exp * (0.5 + random / 2));
}
