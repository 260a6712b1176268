import { z } from "zod";
import { defineHandler, TaskFailure } from "tessera/handler";

/** Steps of 3n + 1 (n odd) or n / 2 (n even) until n reaches 1. */
function steps(start: number): number {
  let n = start;
  let count = 0;
  while (n !== 1) {
    n = n % 2 === 0 ? n / 2 : 3 * n + 1;
    if (n > Number.MAX_SAFE_INTEGER) {
      // Past 2^53 a JavaScript number is no longer exact: refuse rather than answer wrong.
      throw new TaskFailure("handler", `${start} climbs past 2^53`, { retryable: false });
    }
    count++;
  }
  return count;
}

export default defineHandler({
  type: "collatz.longest",
  description: "The start in [from, to) with the longest Collatz trajectory",
  params: z.object({
    from: z.number().int().min(1),
    to: z.number().int().max(2 ** 40),
  }).refine((p) => p.to > p.from && p.to - p.from <= 10_000_000, {
    message: "to must be above from, by at most 10,000,000",
    path: ["to"],
  }),
  result: z.object({ start: z.number().int(), steps: z.number().int() }),
  verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 4 },
  timeoutMs: 60_000,
  maxTimeoutMs: 300_000,
  // Known answers: the coordinator gives these to new volunteers as spot checks.
  samples: [
    { params: { from: 1, to: 10 }, result: { start: 9, steps: 19 } },
    { params: { from: 27, to: 28 }, result: { start: 27, steps: 111 } },
    { params: { from: 1, to: 1000 }, result: { start: 871, steps: 178 } },
  ],
  async run({ from, to }, ctx) {
    let best = { start: from, steps: -1 };
    for (let n = from; n < to; n++) {
      if ((n - from) % 100_000 === 0) {
        ctx.signal.throwIfAborted(); // timeout or cancel
        ctx.progress((n - from) / (to - from));
        await new Promise((resolve) => setTimeout(resolve, 0)); // let an abort arrive
      }
      const s = steps(n);
      if (s > best.steps) best = { start: n, steps: s };
    }
    ctx.progress(1);
    return best;
  },
});
