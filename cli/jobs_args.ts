/**
 * The command line of `deno task jobs`: which command, its arguments and options, or a usage
 * error that names the option at fault.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { LogFormat } from "./progress.ts";

export const COMMANDS = [
  "submit",
  "status",
  "results",
  "cancel",
  "retry",
  "close",
  "delete",
  "list",
] as const;
export type Command = typeof COMMANDS[number];

/** The default coordinator when neither `--coordinator` nor `TESSERA_COORDINATOR` is set. */
export const DEFAULT_COORDINATOR = "http://127.0.0.1:8787";

export interface JobsArgs {
  command: Command;
  /** The job id (every command but submit and list) or the task type (submit). */
  target: string | null;
  /** API bases, `/api` appended where missing (several: failover). */
  coordinators: string[];
  token: string | undefined;
  logFormat: LogFormat;
  inputs: string | undefined;
  name: string | undefined;
  queue: string | undefined;
  priority: number | undefined;
  maxAttempts: number | undefined;
  timeoutMs: number | undefined;
  detach: boolean;
  follow: boolean;
  order: "completion" | "input";
  after: string | undefined;
  status: string | undefined;
  limit: number | undefined;
}

export type ParsedJobsArgs =
  | { kind: "help"; text: string }
  | { kind: "usage"; message: string }
  | { kind: "args"; args: JobsArgs };

export const HELP = `deno task jobs COMMAND [ARGS] [OPTIONS]

Commands:
  submit TYPE --inputs FILE   create a job, one task of TYPE per input (NDJSON lines or a JSON
                              array; - reads stdin), print its id, and wait for it with
                              progress on stderr (--detach: do not wait)
  status ID                   the job's status as JSON
  results ID                  its results as NDJSON on stdout (--follow: until it finishes;
                              --order input|completion; --after CURSOR resumes)
  cancel ID | retry ID        cancel its unfinished tasks | requeue its failed ones
  close ID | delete ID        close an open job | purge a finished one
  list                        jobs, newest first (--status, --limit)

Options:
  --coordinator URL           the coordinator (several, comma-separated: failover)
                              [TESSERA_COORDINATOR, default ${DEFAULT_COORDINATOR}]
  --token KEY                 a client API key [TESSERA_TOKEN]
  --log-format text|json      progress and list lines as text or JSON [default text]
  --name, --queue, --priority, --max-attempts, --timeout-ms   job options (submit)
  --help                      this text

Exit status: 0 every task completed (or, for a job still running, none failed so far); 1 some
failed or were cancelled; 2 a usage error; 3 the coordinator could not be reached or refused.`;

const OPTIONS = {
  coordinator: { type: "string" },
  token: { type: "string" },
  "log-format": { type: "string" },
  inputs: { type: "string" },
  name: { type: "string" },
  queue: { type: "string" },
  priority: { type: "string" },
  "max-attempts": { type: "string" },
  "timeout-ms": { type: "string" },
  detach: { type: "boolean" },
  follow: { type: "boolean" },
  order: { type: "string" },
  after: { type: "string" },
  status: { type: "string" },
  limit: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Options each command takes besides the global ones. */
const ACCEPTS: Record<Command, readonly string[]> = {
  submit: ["inputs", "name", "queue", "priority", "max-attempts", "timeout-ms", "detach"],
  status: [],
  results: ["follow", "order", "after"],
  cancel: [],
  retry: [],
  close: [],
  delete: [],
  list: ["status", "limit"],
};
const GLOBAL = ["coordinator", "token", "log-format", "help"];

class UsageError extends Error {}

function integer(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) {
    throw new UsageError(`--${name} must be an integer, not ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** `http://host:8787` → `http://host:8787/api`; several, comma-separated. */
export function apiBases(list: string): string[] {
  return list.split(",").map((u) => u.trim().replace(/\/+$/, "")).filter(Boolean)
    .map((u) => (u.endsWith("/api") ? u : `${u}/api`));
}

/**
 * Parses `argv` (after the task name) with `env` for the defaults.
 *
 * @example
 * ```ts
 * parseJobsArgs(["status", "01J…", "--coordinator", "http://10.0.0.5:8787"], {});
 * ```
 */
export function parseJobsArgs(argv: string[], env: Record<string, string>): ParsedJobsArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages go on with advice about "--"; the first sentence is the news.
    return { kind: "usage", message: (e as Error).message.split(/\. /)[0]!.replace(/\.$/, "") };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help", text: HELP };
  try {
    const [command, target, ...extra] = positionals;
    if (command === undefined) {
      throw new UsageError("a command is required: " + COMMANDS.join(", "));
    }
    if (!(COMMANDS as readonly string[]).includes(command)) {
      throw new UsageError(
        `unknown command ${JSON.stringify(command)}: one of ${COMMANDS.join(", ")}`,
      );
    }
    const cmd = command as Command;
    for (const option of Object.keys(values)) {
      if (!GLOBAL.includes(option) && !ACCEPTS[cmd].includes(option)) {
        throw new UsageError(`--${option} does not apply to ${cmd}`);
      }
    }
    if (cmd === "list" ? target !== undefined : extra.length > 0) {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(cmd === "list" ? target : extra[0])}`,
      );
    }
    if (cmd !== "list" && target === undefined) {
      throw new UsageError(`${cmd} needs ${cmd === "submit" ? "a task TYPE" : "a job ID"}`);
    }
    if (cmd === "submit" && values.inputs === undefined) {
      throw new UsageError(
        "--inputs FILE is required for submit (NDJSON or a JSON array; - for stdin)",
      );
    }
    const logFormat = values["log-format"] ?? "text";
    if (logFormat !== "text" && logFormat !== "json") {
      throw new UsageError(`--log-format must be text or json, not ${JSON.stringify(logFormat)}`);
    }
    const order = values.order ?? "completion";
    if (order !== "completion" && order !== "input") {
      throw new UsageError(`--order must be input or completion, not ${JSON.stringify(order)}`);
    }
    const coordinators = apiBases(
      values.coordinator ?? env.TESSERA_COORDINATOR ?? DEFAULT_COORDINATOR,
    );
    if (coordinators.length === 0) throw new UsageError("--coordinator names no URL");
    for (const u of coordinators) {
      if (!URL.canParse(u) || !/^https?:$/.test(new URL(u).protocol)) {
        throw new UsageError(`--coordinator must be an http(s) URL, not ${JSON.stringify(u)}`);
      }
    }
    return {
      kind: "args",
      args: {
        command: cmd,
        target: target ?? null,
        coordinators,
        token: values.token ?? (env.TESSERA_TOKEN || undefined),
        logFormat,
        inputs: values.inputs,
        name: values.name,
        queue: values.queue,
        priority: integer("priority", values.priority),
        maxAttempts: integer("max-attempts", values["max-attempts"]),
        timeoutMs: integer("timeout-ms", values["timeout-ms"]),
        detach: values.detach ?? false,
        follow: values.follow ?? false,
        order,
        after: values.after,
        status: values.status,
        limit: integer("limit", values.limit),
      },
    };
  } catch (e) {
    if (e instanceof UsageError) return { kind: "usage", message: e.message };
    throw e;
  }
}
