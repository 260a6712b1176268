/**
 * Test helpers: a recording {@link HandlerContext} and a runner that validates params and result
 * through the handler's own schemas, as the worker runtime does.
 *
 * @module
 */
import type { z } from "zod";
import type { Handler, HandlerContext, HandlerLogger } from "./contract.ts";

/** One log line captured by the test context. */
export interface LoggedLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields?: Record<string, unknown>;
}

/** A HandlerContext that records progress reports and log lines. */
export interface TestContext extends HandlerContext {
  progressReports: number[];
  logs: LoggedLine[];
}

/** Options for {@link testContext}. */
export interface TestContextOptions {
  signal?: AbortSignal;
  attempt?: number;
  taskId?: string;
}

/** Makes a context with a never-aborting signal (unless one is given) and attempt 1. */
export function testContext(options: TestContextOptions = {}): TestContext {
  const progressReports: number[] = [];
  const logs: LoggedLine[] = [];
  const line =
    (level: LoggedLine["level"]) => (message: string, fields?: Record<string, unknown>) =>
      void logs.push({ level, message, fields });
  const log: HandlerLogger = {
    debug: line("debug"),
    info: line("info"),
    warn: line("warn"),
    error: line("error"),
  };
  return {
    signal: options.signal ?? new AbortController().signal,
    progress: (fraction) => void progressReports.push(fraction),
    log,
    taskId: options.taskId ?? "test-task",
    attempt: options.attempt ?? 1,
    progressReports,
    logs,
  };
}

/**
 * Parses `rawParams` with the handler's params schema (throws the ZodError on refusal), runs the
 * handler, and parses its result with the result schema.
 */
export async function runHandler<P extends z.ZodType, R extends z.ZodType>(
  handler: Handler<P, R>,
  rawParams: unknown,
  ctx: HandlerContext = testContext(),
): Promise<z.infer<R>> {
  const params = handler.params.parse(rawParams) as z.infer<P>;
  const result = await handler.run(params, ctx);
  return handler.result.parse(result) as z.infer<R>;
}

/** The issue paths of a failed parse, joined with ".", for assertions on which field was refused. */
export function refusedPaths(schema: z.ZodType, rawParams: unknown): string[] {
  const parsed = schema.safeParse(rawParams);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => issue.path.map(String).join("."));
}

/** True if the progress reports are within [0, 1], non-decreasing and end at 1. */
export function progressIsSane(reports: readonly number[]): boolean {
  if (reports.length === 0 || reports[reports.length - 1] !== 1) return false;
  return reports.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= reports[i - 1]));
}
