/**
 * `demo.echo`: returns its params unchanged. Accepts any JSON object, conventionally
 * `{ message?: string, ... }`. Its result schema takes any JSON value: tests, benchmarks and
 * seed-protocol demos use it as an opaque carrier of whatever a worker reports, so the
 * coordinator's result check (coordinator/tasks/end_lease.ts) has nothing to refuse for this type.
 *
 * @module
 */
import { z } from "zod";
import { defineHandler } from "./contract.ts";

const params = z.record(z.string(), z.unknown());

export default defineHandler({
  type: "demo.echo",
  description: "Returns its params unchanged",
  params,
  result: z.unknown(),
  verification: { mode: "none" },
  timeoutMs: 10_000,
  maxTimeoutMs: 30_000,
  run(params, ctx) {
    ctx.signal.throwIfAborted();
    ctx.progress(1);
    return params;
  },
});
