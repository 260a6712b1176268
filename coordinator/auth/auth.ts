/**
 * Who is calling, and what they may do.
 *
 * Credentials travel as `Authorization: Bearer <token>` (and, for `GET /api/ws` and
 * `GET /api/live` only, as `?token=`: browsers cannot set headers on a WebSocket or an
 * EventSource). A token is the worker token (`--worker-token`), or an API key from the store
 * (`deno task keys create`, role `client`, `admin` or `worker`: a worker key is one more worker
 * token). No token is `anonymous`.
 *
 * | route class | routes                                                          | who           |
 * | ----------- | --------------------------------------------------------------- | ------------- |
 * | public      | GET health, about, donors, donors/{id}, public, whoami, worker, | everyone      |
 * |             | openapi.json, ws; /dashboard files                              |               |
 * | client      | submit, list, read, await, cancel, retry                        | client, admin |
 * | worker      | leases, leases/report, tasks/claim, heartbeat/complete/fail/…   | worker, admin |
 * | dashboard   | GET stats, workers, workers/{id}/stats, live; GET /metrics      | admin         |
 * | admin       | any other /api path (default deny)                              | admin         |
 *
 * Enforcement (`--auth`): `on`; `off`; or `auto` (the default), which enforces as soon as one
 * client or admin key was ever created, revoked ones included, so revoking the last key never
 * reopens the door. Before that, `auto` is in protected mode (after Redis's): a request without a
 * token from this machine may do everything; from anywhere else only the public and worker routes
 * answer (403 on the rest), so remote volunteers can still donate but not submit or administer.
 * `off` opens every route to every address. While nothing is enforced, the worker routes need a
 * worker token once one is configured (the flag, or a worker key ever made), and a request with a
 * valid key still acts with that key's role. When enforced:
 * - no token → 401 `unauthorized`; a refused token (unknown, revoked) → 401; the wrong role → 403.
 * - a client sees only its own tasks: another client's task is a 404, never a 403.
 * - from this machine, a request without a token may read the dashboard: GET on the dashboard
 *   routes and the task lookup. Nothing else.
 *
 * "From this machine" (`local`) is a connection from a loopback address with no proxy header
 * (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`), addressed to a loopback name (so a web page
 * whose DNS name was rebound to 127.0.0.1 is not local) and with no `Origin` of another host.
 * Behind a reverse proxy on the same host that adds no such header every client looks local:
 * there, configure keys.
 *
 * Workers are trusted (`operator`: with adaptive verification their result alone is accepted,
 * and they get no spot checks) for a worker token or an admin key, or, when no worker token is
 * configured, for being local. Never for what they say about themselves: any other worker is
 * judged like a browser volunteer.
 *
 * The dashboard's own files (`/dashboard/…`, a static bundle with no data in it) are public: a
 * browser cannot send a bearer token with a page or a script it loads, and protecting them would
 * hide nothing. Everything the page shows comes from the dashboard routes above.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { getConnInfo } from "hono/deno";
import type { Task, WorkerKind } from "../../shared/protocol.ts";
import { apiKeyRolesEver, findApiKey, type KeyQuota, type KeyRole } from "./api_keys.ts";
import type { CoordinatorConfig } from "../config.ts";
import { ApiFailure } from "../http/errors.ts";

export type Role = KeyRole | "anonymous";

/** What the coordinator knows about a request's caller (`c.get("auth")`). */
export interface RequestAuth {
  role: Role;
  /** The API key's id (client, admin and worker keys). */
  keyId: string | null;
  keyName: string | null;
  /** A token was presented and refused (unknown, revoked or malformed). */
  refused: boolean;
  /** Whether API keys are required right now. */
  enforced: boolean;
  /** `--auth auto` before any client or admin key: only local callers submit and administer. */
  protected: boolean;
  /** A worker token is configured: `--worker-token`, or a worker key was ever made. */
  workerTokens: boolean;
  /** The peer's address, as the socket sees it. */
  address: string;
  /** From this machine, directly (see the module comment). */
  local: boolean;
  /** A worker with these credentials is the operator's own: trusted. */
  operator: boolean;
  /** The client key's quota, if it has one (quota.ts). */
  quota?: KeyQuota;
}

declare module "hono" {
  interface ContextVariableMap {
    auth: RequestAuth;
  }
}

export type RouteClass = "public" | "client" | "worker" | "dashboard" | "admin" | "other";

const ID = "[^/]+";
const CLASSES: Array<[method: "GET" | "POST" | "DELETE", pattern: RegExp, cls: RouteClass]> = [
  ["GET", /^\/api\/(health|donors|public|whoami|openapi\.json|ws|worker)$/, "public"],
  ["GET", new RegExp(`^/api/donors/${ID}$`), "public"],
  ["GET", /^\/api\/about$/, "public"],
  ["POST", /^\/api\/tasks$/, "client"],
  ["GET", /^\/api\/tasks$/, "client"],
  ["POST", /^\/api\/tasks\/await$/, "client"],
  ["POST", /^\/api\/tasks\/claim$/, "worker"],
  ["POST", /^\/api\/jobs$/, "client"],
  ["GET", /^\/api\/jobs$/, "client"],
  ["GET", new RegExp(`^/api/jobs/${ID}(/results)?$`), "client"],
  ["POST", new RegExp(`^/api/jobs/${ID}/(tasks|close|cancel|retry)$`), "client"],
  ["DELETE", new RegExp(`^/api/jobs/${ID}$`), "client"],
  ["GET", new RegExp(`^/api/tasks/${ID}$`), "client"],
  ["POST", new RegExp(`^/api/tasks/${ID}/(cancel|retry)$`), "client"],
  ["POST", new RegExp(`^/api/tasks/${ID}/(heartbeat|complete|fail|release)$`), "worker"],
  ["POST", /^\/api\/leases(\/report)?$/, "worker"],
  ["GET", new RegExp(`^/api/(stats|live|workers|workers/${ID}/stats)$`), "dashboard"],
  ["GET", /^\/dashboard(\/.*)?$/, "public"],
  // The code the grid ships to volunteers anyway: the manifest, its entries and the bundles.
  ["GET", new RegExp(`^/api/handlers(/versions/${ID})?$`), "public"],
  ["GET", /^\/handlers\/[0-9a-f]{64}\.js$/, "public"],
  ["GET", /^\/metrics$/, "dashboard"],
];
const TASK_LOOKUP = new RegExp(`^/api/tasks/${ID}$`);

/**
 * The class of a route, from its method and (decoded) path, the same path Hono routes on.
 *
 * @example
 * ```ts
 * routeClass("POST", "/api/leases"); // "worker"
 * ```
 */
export function routeClass(method: string, path: string): RouteClass {
  const m = method === "HEAD" ? "GET" : method;
  for (const [cm, pattern, cls] of CLASSES) if (cm === m && pattern.test(path)) return cls;
  // Unknown /api routes answer 404 to an admin and 401/403 to everyone else.
  return path === "/api" || path.startsWith("/api/") || path.startsWith("/dashboard")
    ? "admin"
    : "other";
}

const ALLOWED: Record<"client" | "worker" | "dashboard" | "admin", ReadonlySet<Role>> = {
  client: new Set(["client", "admin"]),
  worker: new Set(["worker", "admin"]),
  dashboard: new Set(["admin"]),
  admin: new Set(["admin"]),
};

const NEEDS: Record<keyof typeof ALLOWED, string> = {
  client: "a client or admin API key",
  worker: "a worker token (--worker-token or a worker key) or an admin key",
  dashboard: "an admin API key",
  admin: "an admin API key",
};

/**
 * Whether the caller may use a route: null when allowed, else the refusal (401 or 403).
 *
 * @example
 * ```ts
 * const refusal = authorize(routeClass("POST", "/api/leases"), auth, { method: "POST", path });
 * ```
 */
export function authorize(
  cls: RouteClass,
  auth: RequestAuth,
  request: { method: string; path: string },
): ApiFailure | null {
  if (cls === "other" || cls === "public") return null;
  const allowed = ALLOWED[cls];
  const refused = () =>
    new ApiFailure(
      "unauthorized",
      "the bearer token was refused: unknown, revoked or mistyped",
      "authorization",
    );
  const missing = () =>
    new ApiFailure(
      "unauthorized",
      `this route needs ${NEEDS[cls]}: send Authorization: Bearer <token>`,
      "authorization",
    );
  if (auth.role !== "anonymous") {
    if (allowed.has(auth.role)) return null;
    return new ApiFailure(
      "forbidden",
      `this route needs ${NEEDS[cls]}; this token's role is ${auth.role}`,
      "authorization",
    );
  }
  if (!auth.enforced) {
    // Worker calls are open to volunteers until a worker token is configured.
    if (cls === "worker") return !auth.workerTokens ? null : auth.refused ? refused() : missing();
    if (!auth.protected || auth.local) return null;
    return new ApiFailure(
      "forbidden",
      "protected mode: no API keys exist yet, so only this machine (a loopback connection, no " +
        "proxy) may submit, read tasks or administer; other addresses may only donate. Create a " +
        "key on the coordinator's machine with `deno task keys create --name NAME --role client` " +
        "(or --role admin) and send Authorization: Bearer <key>",
      "authorization",
    );
  }
  if (auth.refused) return refused();
  const read = request.method === "GET" || request.method === "HEAD";
  if (
    auth.local && read &&
    (cls === "dashboard" || (cls === "client" && TASK_LOOKUP.test(request.path)))
  ) {
    return null;
  }
  return missing();
}

/**
 * Whose tasks the caller may see: a key id (a client: its own), or undefined (every task).
 *
 * @example
 * ```ts
 * listTasks(ctx, { ...query, owner: taskScope(c.get("auth")) });
 * ```
 */
export function taskScope(auth: RequestAuth): string | undefined {
  return auth.role === "client" ? auth.keyId ?? "" : undefined;
}

/** Whether the caller may see a task (others' tasks are answered as if they did not exist). */
export function canSee(auth: RequestAuth, task: Task): boolean {
  const scope = taskScope(auth);
  return scope === undefined || task.owner === scope;
}

/**
 * Whether a worker is trusted as the operator's own. One that calls itself a browser volunteer is
 * judged as one wherever it connects from: asking for less trust is no claim to more.
 */
export function operatorWorker(auth: RequestAuth, kind: WorkerKind): boolean {
  return auth.operator && kind !== "browser";
}

/** The owner a submission records: the submitting key, or null without one. */
export function ownerOf(auth: RequestAuth): string | null {
  return auth.role === "client" || auth.role === "admin" ? auth.keyId : null;
}

/** The auth state of one coordinator: who a token is, and whether keys are required now. */
export interface Authenticator {
  /** Whether API keys are required now. */
  enforced(): Promise<boolean>;
  /** Whether a worker token is configured (the flag, or a worker key ever made). */
  workerTokens(): Promise<boolean>;
  /** The caller of a request. */
  identify(c: Context): Promise<RequestAuth>;
}

/** New kinds of keys are looked for at most this often (never again once both kinds exist). */
const RECHECK_MS = 1000;
const PROXY_HEADERS = ["forwarded", "x-forwarded-for", "x-real-ip"];

/** A loopback peer address: 127.0.0.0/8 or ::1, IPv4-mapped or not. */
export function isLoopbackAddress(address: string): boolean {
  return address === "::1" || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(address);
}

/** A host name that can only mean this machine (a URL's hostname: IPv6 in brackets). */
function isLoopbackName(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, "");
  return h === "localhost" || h.endsWith(".localhost") || h === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** A direct request from this machine, addressed to this machine (see the module comment). */
function isLocal(c: Context, address: string): boolean {
  if (!isLoopbackAddress(address) || PROXY_HEADERS.some((h) => c.req.header(h))) return false;
  try {
    if (!isLoopbackName(new URL(c.req.url).hostname)) return false;
    const origin = c.req.header("origin");
    return origin === undefined || isLoopbackName(new URL(origin).hostname);
  } catch {
    return false; // an Origin of "null" or garbage
  }
}

/**
 * Makes the authenticator for one coordinator.
 *
 * @example
 * ```ts
 * const authn = createAuthenticator(ctx.kv, ctx.config);
 * app.use("*", authenticate(authn));
 * ```
 */
export function createAuthenticator(
  kv: Deno.Kv,
  config: Pick<CoordinatorConfig, "auth" | "workerToken">,
  options: { now?: () => number; onEnforced?: () => void } = {},
): Authenticator {
  const now = options.now ?? Date.now;
  // Which kinds of keys were ever made; a kind once seen stays (revoking never reopens).
  const seen = { clientOrAdmin: false, worker: false };
  let checkedAt = -Infinity;
  let checking: Promise<void> | null = null;
  let scanned = false;
  const workerToken = config.workerToken === undefined
    ? null
    : new TextEncoder().encode(config.workerToken);

  async function refresh(): Promise<typeof seen> {
    if ((seen.clientOrAdmin && seen.worker) || now() - checkedAt < RECHECK_MS) return seen;
    // One scan covers keys made before role markers existed; markers cover every key since.
    checking ??= apiKeyRolesEver(kv, { scan: !scanned }).then((roles) => {
      scanned = true;
      const clientOrAdmin = roles.has("client") || roles.has("admin");
      if (clientOrAdmin && !seen.clientOrAdmin && config.auth === "auto") options.onEnforced?.();
      seen.clientOrAdmin ||= clientOrAdmin;
      seen.worker ||= roles.has("worker");
      checkedAt = now();
    }).finally(() => (checking = null));
    await checking;
    return seen;
  }

  async function enforced(): Promise<boolean> {
    if (config.auth !== "auto") return config.auth === "on";
    return (await refresh()).clientOrAdmin;
  }

  async function workerTokens(): Promise<boolean> {
    return workerToken !== null || (await refresh()).worker;
  }

  return {
    enforced,
    workerTokens,
    async identify(c) {
      const address = remoteAddress(c);
      const local = isLocal(c, address);
      const [isEnforced, tokens] = await Promise.all([enforced(), workerTokens()]);
      const base = {
        keyId: null,
        keyName: null,
        address,
        local,
        enforced: isEnforced,
        protected: config.auth === "auto" && !isEnforced,
        workerTokens: tokens,
      };
      const token = bearerOf(c);
      if (token === null) {
        return { ...base, role: "anonymous", refused: false, operator: local && !tokens };
      }
      if (token !== "" && workerToken && timingSafeEqual(workerToken, token)) {
        return { ...base, role: "worker", refused: false, operator: true };
      }
      const key = token === "" ? null : await findApiKey(kv, token);
      if (!key) return { ...base, role: "anonymous", refused: true, operator: false };
      return {
        ...base,
        role: key.role,
        keyId: key.id,
        keyName: key.name,
        refused: false,
        operator: key.role === "worker" || key.role === "admin",
        ...(key.quota ? { quota: key.quota } : {}),
      };
    },
  };
}

/** The presented token: null when none, "" when the header is there but not a bearer token. */
function bearerOf(c: Context): string | null {
  const header = c.req.header("authorization");
  if (header !== undefined) return /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)?.[1] ?? "";
  if (c.req.path === "/api/ws" || c.req.path === "/api/live") {
    const query = c.req.query("token");
    if (query !== undefined) return query;
  }
  return null;
}

function remoteAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // app.fetch called without Deno.serve's connection info
  }
}

function timingSafeEqual(expected: Uint8Array, given: string): boolean {
  const bytes = new TextEncoder().encode(given);
  if (bytes.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < bytes.length; i++) diff |= bytes[i] ^ expected[i];
  return diff === 0;
}

/** Identifies the caller of every request and stores it as `c.get("auth")`. */
export function authenticate(authn: Authenticator): MiddlewareHandler {
  return async function authenticate(c, next) {
    c.set("auth", await authn.identify(c));
    await next();
  };
}

/** Refuses requests the caller may not make (401 without a usable token, 403 for the role). */
export function requireRole(): MiddlewareHandler {
  return async function requireRole(c, next) {
    const { method, path } = c.req;
    const refusal = authorize(routeClass(method, path), c.get("auth"), { method, path });
    if (refusal) throw refusal;
    await next();
  };
}
