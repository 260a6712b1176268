/**
 * `deno task keys`: make, list and revoke API keys in the coordinator's KV (the same `--db` or
 * `TESSERA_DB` as the coordinator; it may be running). A new key is printed once.
 *
 * ```sh
 * deno task keys create --name alice [--role client|admin|worker] [--db FILE] [--json]
 * deno task keys list [--db FILE] [--json]
 * deno task keys revoke ID [--db FILE]
 * deno task keys quota ID [--max-queued N|none] [--submit-rate N|none] [--db FILE]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type ApiKeyRecord,
  createApiKey,
  KeyName,
  type KeyQuota,
  KeyRole,
  listApiKeys,
  revokeApiKey,
  setApiKeyQuota,
} from "./auth/api_keys.ts";
import { COORDINATOR_DEFAULTS } from "./config.ts";

const HELP = `Usage: deno task keys <command> [options]

  create --name NAME [--role ROLE]   make a key (printed once); ROLE is client (the default),
                                     admin, or worker: a worker token, one per operator or machine
  list                               every key: id, name, role, prefix, created, status
  revoke ID                          the key stops working at once
  quota ID                           set a client key's quota (also with create):
    --max-queued N                   at most N unfinished tasks (pending or running)
    --submit-rate N                  at most N tasks submitted a second (per coordinator)
                                     "none" removes a limit; a refused submit gets 429

  --db FILE     the coordinator's KV file (env TESSERA_DB; default ${COORDINATOR_DEFAULTS.db})
  --json        machine-readable output
  --help        this text

Once a client or admin key exists, a coordinator with --auth auto (the default) requires keys on
every API call; before that, only its own machine may submit or administer. Once a worker key
exists, worker calls need a worker token (worker.ts --token KEY), and workers holding one are
trusted: with adaptive verification their results need no second opinion.
`;

class UsageError extends Error {
  override name = "UsageError";
}

/** Runs the CLI; resolves with the exit code. Output goes through `out` and `err`. */
export async function keysCli(
  args: string[],
  env: Record<string, string | undefined>,
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        name: { type: "string" },
        role: { type: "string" },
        db: { type: "string" },
        "max-queued": { type: "string" },
        "submit-rate": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
    });
  } catch (e) {
    err(`tessera keys: ${(e as Error).message}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    (values.help ? out : err)(HELP);
    return values.help ? 0 : 2;
  }
  const db = values.db || env.TESSERA_DB || COORDINATOR_DEFAULTS.db;
  try {
    if (!["create", "list", "revoke", "quota"].includes(command)) {
      throw new UsageError(`unknown command "${command}" (create, list, revoke, quota)`);
    }
    const takesId = command === "revoke" || command === "quota";
    if (takesId ? rest.length !== 1 : rest.length !== 0) {
      throw new UsageError(`unexpected arguments: ${rest.join(" ") || "(none)"}`);
    }
    if (db !== ":memory:") {
      const dir = db.replace(/[^/]*$/, "");
      if (dir) await Deno.mkdir(dir, { recursive: true });
    }
    using kv = await Deno.openKv(db);
    if (command === "create") {
      const name = KeyName.safeParse(values.name ?? "");
      if (!name.success) throw new UsageError("--name is required (1 to 100 characters)");
      const role = KeyRole.safeParse(values.role ?? "client");
      if (!role.success) throw new UsageError("--role must be client, admin or worker");
      const quota = quotaOf(values, {});
      const { key, record } = await createApiKey(kv, {
        name: name.data,
        role: role.data,
        ...(Object.keys(quota).length > 0 ? { quota } : {}),
      });
      if (values.json) {
        out(JSON.stringify({ key, ...display(record) }));
      } else {
        out(`created ${record.role} key ${record.id} (${record.name})`);
        out("");
        out(`  ${key}`);
        out("");
        out("Store it now: it is shown only once (the coordinator keeps its SHA-256 only).");
        out(
          record.role === "worker"
            ? `Use it as:  deno task worker --token ${record.prefix}…  (or TESSERA_TOKEN)`
            : `Use it as:  Authorization: Bearer ${record.prefix}…`,
        );
      }
    } else if (command === "list") {
      const keys = await listApiKeys(kv);
      if (values.json) out(JSON.stringify(keys.map(display)));
      else out(table(keys));
    } else if (command === "quota") {
      const id = rest[0];
      const current = (await listApiKeys(kv)).find((k) => k.id === id);
      const record = current && await setApiKeyQuota(kv, id, quotaOf(values, current.quota ?? {}));
      if (!record) {
        err(`tessera keys: no key ${id}`);
        return 1;
      }
      if (values.json) out(JSON.stringify(display(record)));
      else out(`${record.id} (${record.name}): ${describeQuota(record.quota)}`);
    } else {
      const id = rest[0];
      const record = await revokeApiKey(kv, id);
      if (!record) {
        err(`tessera keys: no key ${id}`);
        return 1;
      }
      out(`revoked ${record.id} (${record.name}) at ${new Date(record.revokedAt!).toISOString()}`);
    }
    return 0;
  } catch (e) {
    err(`tessera keys: ${(e as Error).message}`);
    return e instanceof UsageError ? 2 : 1;
  }
}

/** The quota the flags give, starting from `base`; "none" removes a limit. */
function quotaOf(
  values: { "max-queued"?: string; "submit-rate"?: string },
  base: KeyQuota,
): KeyQuota {
  const quota: KeyQuota = { ...base };
  const set = (flag: "max-queued" | "submit-rate", field: keyof KeyQuota, int: boolean) => {
    const raw = values[flag];
    if (raw === undefined) return;
    if (raw === "none") return void delete quota[field];
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n))) {
      throw new UsageError(`--${flag} must be a positive ${int ? "integer" : "number"} or none`);
    }
    quota[field] = n;
  };
  set("max-queued", "maxQueued", true);
  set("submit-rate", "submitPerSecond", false);
  return quota;
}

function describeQuota(q: KeyQuota | undefined): string {
  const parts = [
    q?.maxQueued !== undefined ? `at most ${q.maxQueued} unfinished tasks` : "",
    q?.submitPerSecond !== undefined ? `at most ${q.submitPerSecond} submits a second` : "",
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : "no quota";
}

/** A record without its hash. */
function display({ hash: _hash, ...rest }: ApiKeyRecord) {
  return rest;
}

function table(keys: ApiKeyRecord[]): string {
  if (keys.length === 0) {
    return "no keys: with --auth auto only the coordinator's machine may submit or administer";
  }
  const rows = [
    ["id", "name", "role", "prefix", "created", "status"],
    ...keys.map((k) => [
      k.id,
      k.name,
      k.role,
      `${k.prefix}…`,
      new Date(k.createdAt).toISOString().slice(0, 19).replace("T", " "),
      k.revokedAt === null ? "active" : `revoked ${new Date(k.revokedAt).toISOString()}`,
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

if (import.meta.main) {
  Deno.exit(await keysCli(Deno.args, Deno.env.toObject()));
}
