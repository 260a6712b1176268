/**
 * Who is calling, and what they may do.
 *
 * Credentials travel as `Authorization: Bearer <token>` (and, for `GET /api/ws` and
 * `GET /api/live` only, as `?token=`: browsers cannot set headers on a WebSocket or an
 * EventSource). A token is the worker token
 * (`--worker-token`), or an API key from the store (`deno task keys create`, role `client` or
 * `admin`). No token is `anonymous`.
 *
 * | route class | routes                                                         | who            |
 * | ----------- | -------------------------------------------------------------- | -------------- |
 * | public      | GET health, donors, whoami, openapi.json, ws; /dashboard files | everyone       |
 * | client      | submit, list, read, await, cancel, retry                       | client, admin  |
 * | worker      | leases, leases/report, tasks/claim, heartbeat/complete/fail/…  | worker, admin  |
 * | dashboard   | GET stats, workers, workers/{id}/stats, live; GET /metrics     | admin          |
 * | admin       | any other /api path (default deny)                             | admin          |
 *
 * Enforcement (`--auth`): `on`; `off`; or `auto` (the default), which enforces as soon as one API
 * key was ever created, revoked ones included, so revoking the last key never reopens the door.
 * While nothing is enforced ("open mode") a request without a token may do everything, except the
 * worker routes when a worker token is set (as before keys existed); a request with a valid key
 * still acts with that key's role. When enforced:
 * - no token → 401 `unauthorized`; a refused token (unknown, revoked) → 401; the wrong role → 403.
 * - a client sees only its own tasks: another client's task is a 404, never a 403.
 * - from this machine (127.0.0.1 or ::1, with no proxy header), a request without a token may
 *   read the dashboard: GET on the dashboard routes and the task lookup. Nothing else.
 *
 * The dashboard's own files (`/dashboard/…`, a static bundle with no data in it) are public: a
 * browser cannot send a bearer token with a page or a script it loads, and protecting them would
 * hide nothing. Everything the page shows comes from the dashboard routes above.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { getConnInfo } from "hono/deno";
import type { Task } from "../shared/protocol.ts";
import { anyApiKeyExists, findApiKey, type KeyRole } from "./api_keys.ts";
import type { CoordinatorConfig } from "./config.ts";
import { ApiFailure } from "./errors.ts";

export type Role = KeyRole | "worker" | "anonymous";

/** What the coordinator knows about a request's caller (`c.get("auth")`). */
export interface RequestAuth {
  role: Role;
  /** The API key's id (client and admin). */
  keyId: string | null;
  keyName: string | null;
  /** A token was presented and refused (unknown, revoked or malformed). */
  refused: boolean;
  /** Whether API keys are required right now. */
  enforced: boolean;
  /** The peer's address, as the socket sees it. */
  address: string;
  /** Loopback with no proxy header in between: the dashboard's read-only exemption. */
  local: boolean;
}

declare module "hono" {
  interface ContextVariableMap {
    auth: RequestAuth;
  }
}

export type RouteClass = "public" | "client" | "worker" | "dashboard" | "admin" | "other";

const ID = "[^/]+";
const CLASSES: Array<[method: "GET" | "POST", pattern: RegExp, cls: RouteClass]> = [
  ["GET", /^\/api\/(health|donors|whoami|openapi\.json|ws)$/, "public"],
  ["POST", /^\/api\/tasks$/, "client"],
  ["GET", /^\/api\/tasks$/, "client"],
  ["POST", /^\/api\/tasks\/await$/, "client"],
  ["POST", /^\/api\/tasks\/claim$/, "worker"],
  ["GET", new RegExp(`^/api/tasks/${ID}$`), "client"],
  ["POST", new RegExp(`^/api/tasks/${ID}/(cancel|retry)$`), "client"],
  ["POST", new RegExp(`^/api/tasks/${ID}/(heartbeat|complete|fail|release)$`), "worker"],
  ["POST", /^\/api\/leases(\/report)?$/, "worker"],
  ["GET", new RegExp(`^/api/(stats|live|workers|workers/${ID}/stats)$`), "dashboard"],
  ["GET", /^\/dashboard(\/.*)?$/, "public"],
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
  worker: "the worker token (or an admin key)",
  dashboard: "an admin API key",
  admin: "an admin API key",
};

/**
 * Whether the caller may use a route: null when allowed, else the refusal (401 or 403).
 *
 * @example
 * ```ts
 * const refusal = authorize(routeClass("POST", "/api/leases"), auth, { method: "POST", path, workerTokenSet: true });
 * ```
 */
export function authorize(
  cls: RouteClass,
  auth: RequestAuth,
  request: { method: string; path: string; workerTokenSet: boolean },
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
    // Open mode: everything, except worker calls while a worker token is set.
    if (cls === "worker" && request.workerTokenSet) return auth.refused ? refused() : missing();
    return null;
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

/** The owner a submission records: the submitting key, or null without one. */
export function ownerOf(auth: RequestAuth): string | null {
  return auth.role === "client" || auth.role === "admin" ? auth.keyId : null;
}

/** The auth state of one coordinator: who a token is, and whether keys are required now. */
export interface Authenticator {
  /** Whether API keys are required now. */
  enforced(): Promise<boolean>;
  /** The caller of a request. */
  identify(c: Context): Promise<RequestAuth>;
}

/** `auto` looks for a first key at most this often (it never looks again once one exists). */
const AUTO_RECHECK_MS = 1000;
const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);
const PROXY_HEADERS = ["forwarded", "x-forwarded-for", "x-real-ip"];

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
  let keysExist = false;
  let checkedAt = -Infinity;
  let checking: Promise<boolean> | null = null;
  const workerToken = config.workerToken === undefined
    ? null
    : new TextEncoder().encode(config.workerToken);

  async function enforced(): Promise<boolean> {
    if (config.auth !== "auto") return config.auth === "on";
    if (keysExist || now() - checkedAt < AUTO_RECHECK_MS) return keysExist;
    checking ??= anyApiKeyExists(kv).then((exists) => {
      if (exists && !keysExist) options.onEnforced?.();
      keysExist = exists;
      checkedAt = now();
      return exists;
    }).finally(() => (checking = null));
    return await checking;
  }

  return {
    enforced,
    async identify(c) {
      const address = remoteAddress(c);
      const local = LOOPBACK.has(address) && !PROXY_HEADERS.some((h) => c.req.header(h));
      const base = { keyId: null, keyName: null, address, local, enforced: await enforced() };
      const token = bearerOf(c);
      if (token === null) return { ...base, role: "anonymous", refused: false };
      if (token !== "" && workerToken && timingSafeEqual(workerToken, token)) {
        return { ...base, role: "worker", refused: false };
      }
      const key = token === "" ? null : await findApiKey(kv, token);
      if (!key) return { ...base, role: "anonymous", refused: true };
      return { ...base, role: key.role, keyId: key.id, keyName: key.name, refused: false };
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
  for (let i = 0; i < bytes.length; i++) diff |= bytes[i]! ^ expected[i]!;
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
export function requireRole(options: { workerTokenSet: boolean }): MiddlewareHandler {
  return async function requireRole(c, next) {
    const { method, path } = c.req;
    const refusal = authorize(routeClass(method, path), c.get("auth"), {
      method,
      path,
      workerTokenSet: options.workerTokenSet,
    });
    if (refusal) throw refusal;
    await next();
  };
}
