/**
 * The abuse limits of anonymous sockets (browser volunteers, strangers' workers): how many one
 * address may hold open (`maxSocketsPerAddress`), and a token bucket per socket
 * (`socketMessageRate`/s) and per address (4×). Sockets with a token are not held to them.
 *
 * @module
 */
import type { CoordinatorConfig } from "../config.ts";
import { burstFor, RateLimiter, TokenBucket } from "../auth/rate_limit.ts";

/** An address's anonymous sockets share this many times one socket's message rate. */
export const ADDRESS_RATE_FACTOR = 4;

/** One anonymous socket's share of the limits, until it is released. */
export interface SocketAllowance {
  /** Whether the socket (and its address) may send one more message now. */
  allows(): boolean;
  /** No longer counted against its address (closed, or its hello made it a trusted worker). */
  release(): void;
}

export class SocketLimits {
  #config: Pick<CoordinatorConfig, "maxSocketsPerAddress" | "socketMessageRate">;
  #now: () => number;
  /** address → anonymous sockets open from it. */
  #open = new Map<string, number>();
  #addressRate: RateLimiter | null;

  constructor(
    config: Pick<CoordinatorConfig, "maxSocketsPerAddress" | "socketMessageRate">,
    now: () => number,
  ) {
    this.#config = config;
    this.#now = now;
    const rate = config.socketMessageRate * ADDRESS_RATE_FACTOR;
    this.#addressRate = rate > 0 ? new RateLimiter(rate, burstFor(rate), now) : null;
  }

  /** Anonymous sockets open from one address. */
  openFrom(address: string): number {
    return this.#open.get(address) ?? 0;
  }

  /** A new anonymous socket from `address`: its allowance, or null when the address is full. */
  admit(address: string): SocketAllowance | null {
    const max = this.#config.maxSocketsPerAddress;
    if (max > 0 && this.openFrom(address) >= max) return null;
    this.#count(address, 1);
    const rate = this.#config.socketMessageRate;
    const bucket = rate > 0 ? new TokenBucket(rate, burstFor(rate), this.#now()) : null;
    let released = false;
    return {
      allows: () => {
        if (!bucket) return true;
        if (bucket.take(this.#now()) > 0) return false;
        return (this.#addressRate?.take(address) ?? 0) === 0;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#count(address, -1);
      },
    };
  }

  #count(address: string, delta: 1 | -1): void {
    const n = (this.#open.get(address) ?? 0) + delta;
    if (n > 0) this.#open.set(address, n);
    else this.#open.delete(address);
  }
}
