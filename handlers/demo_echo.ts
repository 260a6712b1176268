/**
 * `demo.echo`: returns its params unchanged. Accepts any JSON object, conventionally
 * `{ message?: string, ... }`.
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
  result: params,
  verification: { mode: "none" },
  timeoutMs: 10_000,
  maxTimeoutMs: 30_000,
  run(params, ctx) {
    ctx.signal.throwIfAborted();
    ctx.progress(1);
    return params;
  },
});
