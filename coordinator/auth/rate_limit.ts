/**
 * Token buckets: the HTTP request limit per API key or address (`--rate-limit`), and the socket
 * message limits for anonymous volunteers (ws_hub.ts).
 *
 * @example
 * ```ts
 * app.use("/api/*", rateLimit({ perSecond: 20, keyOf: (c) => c.get("auth").keyId ?? "anon" }));
 * ```
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { ApiFailure } from "../http/errors.ts";

/**
 * `rate` tokens a second, holding at most `burst`; starts full.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(10, 20, Date.now());
 * if (bucket.take(Date.now()) > 0) refuse();
 * ```
 */
export class TokenBucket {
  #tokens: number;
  #at: number;
  constructor(readonly rate: number, readonly burst: number, now: number) {
    this.#tokens = burst;
    this.#at = now;
  }

  #refill(now: number): void {
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) * this.rate) / 1000);
      this.#at = now;
    }
  }

  /** Takes `n` tokens: 0 when granted, else the milliseconds until they will be there. */
  take(now: number, n = 1): number {
    this.#refill(now);
    if (this.#tokens >= n) {
      this.#tokens -= n;
      return 0;
    }
    return Math.max(1, Math.ceil(((n - this.#tokens) * 1000) / this.rate));
  }

  /** Whether the bucket has refilled (so forgetting it changes nothing). */
  full(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.burst;
  }
}

/** Default burst: two seconds' worth, at least one. */
export const burstFor = (perSecond: number): number => Math.max(1, Math.ceil(perSecond * 2));

const SWEEP_MS = 10_000;

/**
 * One bucket per key. Buckets that have refilled are forgotten every few seconds, so memory
 * follows the active senders, not every address ever seen.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter(5);
 * const waitMs = limiter.take("203.0.113.7"); // 0: go ahead
 * ```
 */
export class RateLimiter {
  #buckets = new Map<string, TokenBucket>();
  #sweptAt: number;
  readonly burst: number;
  constructor(
    readonly perSecond: number,
    burst?: number,
    readonly now: () => number = Date.now,
  ) {
    this.burst = burst ?? burstFor(perSecond);
    this.#sweptAt = now();
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token from `key`'s bucket: 0 when granted, else milliseconds to wait. */
  take(key: string): number {
    const now = this.now();
    if (now - this.#sweptAt > SWEEP_MS) this.#sweep(now);
    let bucket = this.#buckets.get(key);
    if (!bucket) this.#buckets.set(key, bucket = new TokenBucket(this.perSecond, this.burst, now));
    return bucket.take(now);
  }

  delete(key: string): void {
    this.#buckets.delete(key);
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [key, bucket] of this.#buckets) if (bucket.full(now)) this.#buckets.delete(key);
  }
}

export interface RateLimitOptions {
  /** Requests per second per key; 0 turns the limit off. */
  perSecond: number;
  /** Requests in a burst. @default {2 × perSecond} */
  burst?: number;
  /** Whose bucket a request takes from. */
  keyOf: (c: Context) => string;
  now?: () => number;
}

/**
 * Refuses requests beyond `perSecond` per key with `429 rate_limited` and `Retry-After` (whole
 * seconds, at least 1).
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler {
  const limiter = options.perSecond > 0
    ? new RateLimiter(options.perSecond, options.burst, options.now)
    : null;
  return async function rateLimit(c, next) {
    if (limiter) {
      const waitMs = limiter.take(options.keyOf(c));
      if (waitMs > 0) {
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        throw new ApiFailure(
          "rate_limited",
          `more than ${options.perSecond} requests per second; retry in ${seconds} s`,
          undefined,
          { headers: { "retry-after": String(seconds) } },
        );
      }
    }
    await next();
  };
}
