/**
 * A small structured logger for every room: readable lines by default, one JSON object per line
 * with `format: "json"`. Universal: only `console`, so it runs in Deno and in browsers.
 *
 * @module
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  with(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** @default "text" */
  format?: LogFormat;
  /** @default "info" */
  level?: LogLevel;
  /** Fields added to every line. */
  fields?: Record<string, unknown>;
  /** Where lines go. @default console.error, so stdout stays free for program output */
  write?: (line: string) => void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Creates a logger.
 *
 * @example
 * ```ts
 * const log = createLogger({ format: "json" });
 * log.info("claimed", { taskId: "01J..." });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  const min = ORDER[options.level ?? "info"];
  const base = options.fields ?? {};
  const write = options.write ?? ((line: string) => console.error(line));
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const all = { ...base, ...fields };
    if (format === "json") {
      write(JSON.stringify({ time: new Date().toISOString(), level, message, ...all }));
      return;
    }
    const extra = Object.entries(all)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    const time = new Date().toISOString().slice(11, 23);
    write(`${time} ${level.toUpperCase().padEnd(5)} ${message}${extra ? " " + extra : ""}`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    with: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}
