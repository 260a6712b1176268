/**
 * A background job run every `ms`, never twice at once: the coordinator's timers (lease expiry,
 * delayed promotion, the polls that hear other coordinators). A failure is logged, not thrown;
 * `stop()` waits for a run in progress, so the KV can be closed after it.
 *
 * @example
 * ```ts
 * const reaper = repeat(ctx.log, "lease expiry", 200, () => expireLeases(ctx));
 * await reaper.stop();
 * ```
 *
 * @module
 */
import type { Logger } from "../shared/logger.ts";

export interface Repeating {
  /** Runs the job now (or joins the run in progress). */
  now(): Promise<void>;
  stop(): Promise<void>;
}

export function repeat(
  log: Logger,
  name: string,
  ms: number,
  job: () => Promise<unknown>,
): Repeating {
  let running: Promise<void> | null = null;
  let stopped = false;
  const now = () => {
    running ??= job().then(
      () => {},
      (e) => {
        if (!stopped) log.warn(`${name} failed`, { error: String(e) });
      },
    ).finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => {
    if (!stopped && !running) now();
  }, ms);
  return {
    now,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
