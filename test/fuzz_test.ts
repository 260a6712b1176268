// deno-lint-ignore-file no-explicit-any -- fuzzed JSON
/**
 * A seeded fuzz test against a real coordinator process (auth on, worker token set): thousands of
 * malformed, oversized, wrongly typed and out-of-order HTTP requests and socket messages, from
 * every kind of caller. It asserts that no response is a 5xx, that every refusal has the error
 * shape, that every server socket message is valid, that the process logs no error and still
 * serves and shuts down cleanly, and that a known set of tasks in a queue the fuzzer never claims
 * from is byte-identical afterwards.
 *
 * Replay a run with `TESSERA_FUZZ_SEED=<seed> deno task test test/fuzz_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createApiKey } from "../coordinator/auth/api_keys.ts";
import { CLOSE, ServerMessage } from "../shared/protocol.ts";
import { REPO_ROOT, sleep } from "./_helpers.ts";
import { rawExchange } from "./_socket.ts";

const SEED = Number(Deno.env.get("TESSERA_FUZZ_SEED") ?? 0x7e55e7a);
const HTTP_TARGET = 4000;
const SOCKET_TARGET = 1500;
const BUDGET_MS = 17_000;
/** The whole test, start to shutdown, stays under 30 s: the random phase gets what is left. */
const TOTAL_MS = 25_000;
const HTTP_LOOPS = 6;
const SOCKET_LOOPS = 2;
const WORKER_TOKEN = "fuzz-worker-token";
const MAX_BODY = 256 * 1024;
/** The fuzzer's own queues; the known set lives in PROTECTED, which it never claims from. */
const QUEUES = ["fuzz", "fuzz-b", "default"];
const PROTECTED = "protected";

/** mulberry32: small, seedable, good enough to pick fuzz cases. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[int(items.length)],
    text: (n: number) =>
      Array.from({ length: n }, () => String.fromCharCode(32 + int(95))).join(""),
  };
}
type Rng = ReturnType<typeof rng>;

const WEIRD = [
  "",
  " ",
  "null",
  "\u0000",
  "\ud800",
  "😀😀😀",
  "../../etc/passwd",
  "%00",
  "<script>alert(1)</script>",
  "' OR 1=1 --",
  "__proto__",
  "constructor",
  "a".repeat(300),
  "01J0000000000000000000000",
];

/** Raw JSON text nested `n` deep (built as text: the client would overflow building it). */
const deepJson = (r: Rng, n: number) =>
  r.chance(0.5) ? "[".repeat(n) + "]".repeat(n) : '{"a":'.repeat(n) + "1" + "}".repeat(n);

function randomValue(r: Rng, depth = 0): unknown {
  switch (r.int(13)) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.int(2_000_001) - 1_000_000;
    case 3:
      return r.next() * 1e6;
    case 4:
      return r.pick([1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0, 0.5, 1e-300]);
    case 5:
      return r.pick(WEIRD);
    case 6:
      return r.text(r.int(40));
    case 7:
      return depth > 3 ? [] : Array.from({ length: r.int(5) }, () => randomValue(r, depth + 1));
    case 8:
      return depth > 3 ? {} : Object.fromEntries(
        Array.from(
          { length: r.int(5) },
          () => [r.pick([...WEIRD, "type", "id"]), randomValue(r, depth + 1)],
        ),
      );
    case 9:
      return "x".repeat(r.pick([1000, 20_000, 70_000]));
    case 10:
      return "__DEEP__";
    default:
      return r.pick(["demo.echo", "primes.count", "fuzz", "lease", 0, 1, -1, true]);
  }
}

/** Serializes a body, splicing in deep nesting where a `"__DEEP__"` value was planted. */
function serialize(r: Rng, body: unknown): string {
  const text = JSON.stringify(body) ?? "null";
  return text.replaceAll('"__DEEP__"', () => deepJson(r, r.pick([50, 65, 1000, 20_000])));
}

/** Changes one field somewhere in a valid body: wrong type, removed, huge, deep, or extra. */
function mutate(r: Rng, body: any): any {
  const copy = structuredClone(body);
  const holders: any[] = [];
  const walk = (v: any) => {
    if (v && typeof v === "object") {
      holders.push(v);
      for (const c of Object.values(v)) walk(c);
    }
  };
  walk(copy);
  const n = 1 + r.int(2);
  for (let i = 0; i < n; i++) {
    const holder = r.pick(holders);
    const keys = Object.keys(holder);
    const key = keys.length && r.chance(0.85) ? r.pick(keys) : r.pick([...WEIRD, "extra"]);
    if (r.chance(0.15)) delete holder[key];
    else {
      // An own property even for "__proto__", so the JSON carries it.
      Object.defineProperty(holder, key, {
        value: randomValue(r),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return copy;
}

/** Keeps fuzzed claims away from the protected queue, and long-polls short. */
function guard(body: any, kind: "claim" | "await" | "other"): any {
  if (!body || typeof body !== "object" || Array.isArray(body)) return body;
  if (kind === "claim") {
    if (body.queues === undefined) body.queues = ["fuzz"];
    if (Array.isArray(body.queues)) {
      const queues: unknown[] = [];
      for (let i = 0; i < body.queues.length; i++) {
        queues.push(body.queues[i] === PROTECTED ? "fuzz" : body.queues[i]);
      }
      // An empty list means every queue, the protected one too.
      body.queues = queues.length > 0 ? queues : ["fuzz"];
    }
  }
  if (kind === "await" && body.waitMs === undefined) body.waitMs = 0;
  if (typeof body.waitMs === "number" && body.waitMs > 200) body.waitMs = 100;
  return body;
}

interface Stats {
  http: number;
  byStatus: Map<number, number>;
  failures: string[];
  clientErrors: string[];
  socketMessages: number;
  socketSessions: number;
  closeCodes: Map<number, number>;
}

Deno.test({
  name:
    "fuzz: thousands of malformed requests and socket messages: no 5xx, error shapes, no crash, known tasks intact",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const testStarted = Date.now();
    const dir = await Deno.makeTempDir({ prefix: "tessera-fuzz-" });
    const db = `${dir}/kv.sqlite`;
    const kv = await Deno.openKv(db);
    const make = async (name: string, role: "client" | "admin") =>
      (await createApiKey(kv, { name, role })).key;
    const keys = {
      owner: await make("owner", "client"),
      b: await make("fuzz-b", "client"),
      c: await make("fuzz-c", "client"),
      admin: await make("admin", "admin"),
    };
    kv.close();

    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        "coordinator/main.ts",
        ...["--port", "0", "--hostname", "127.0.0.1", "--db", db, "--auth", "on"],
        ...["--worker-token", WORKER_TOKEN, "--log-format", "json", "--log-level", "info"],
        ...["--max-body-bytes", String(MAX_BODY), "--reap-interval-ms", "100"],
      ],
      cwd: REPO_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const logs: any[] = [];
    const strayLines: string[] = [];
    const { promise: listening, resolve: listened } = Promise.withResolvers<string>();
    const drain = async (stream: ReadableStream<Uint8Array>) => {
      let buffered = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines.filter(Boolean)) {
          try {
            const entry = JSON.parse(line);
            logs.push(entry);
            if (entry.message === "coordinator listening") listened(entry.url);
          } catch {
            strayLines.push(line);
          }
        }
      }
    };
    const draining = Promise.all([drain(child.stdout), drain(child.stderr)]);
    let exited = false;
    const status = child.status.then((s) => (exited = true, s));
    try {
      const base = await Promise.race([
        listening,
        sleep(30_000).then(() => Promise.reject(new Error("coordinator did not start"))),
      ]);
      const api = `${base}/api`;

      const stats: Stats = {
        http: 0,
        byStatus: new Map(),
        failures: [],
        clientErrors: [],
        socketMessages: 0,
        socketSessions: 0,
        closeCodes: new Map(),
      };
      const bump = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);

      /** Sends one request and checks the answer. Returns status and parsed body (or null). */
      const send = async (
        method: string,
        path: string,
        body: string | undefined,
        headers: Record<string, string>,
      ): Promise<{ status: number; json: any } | null> => {
        stats.http++;
        let res: Response;
        try {
          res = await fetch(`${base}${path}`, {
            method,
            headers,
            ...(body !== undefined && method !== "GET" && method !== "HEAD" ? { body } : {}),
            signal: AbortSignal.timeout(10_000),
          });
        } catch (e) {
          stats.clientErrors.push(`${method} ${path.slice(0, 80)}: ${String(e).slice(0, 120)}`);
          return null;
        }
        bump(stats.byStatus, res.status);
        noteRoute(method, path, res.status);
        const what = `${method} ${path.slice(0, 100)} body=${(body ?? "").slice(0, 100)}`;
        if (/event-stream/.test(res.headers.get("content-type") ?? "")) {
          await res.body?.cancel();
          return { status: res.status, json: null };
        }
        const text = await res.text();
        let json: any = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch { /* checked below when it matters */ }
        if (res.status >= 500) {
          stats.failures.push(`${res.status} from ${what}: ${text.slice(0, 200)}`);
        }
        if (res.status >= 400 && method !== "HEAD") {
          const e = json?.error;
          if (
            typeof e?.code !== "string" || typeof e?.message !== "string" ||
            (e.field !== undefined && typeof e.field !== "string")
          ) {
            stats.failures.push(
              `no error shape (${res.status}) from ${what}: ${text.slice(0, 200)}`,
            );
          }
        }
        return { status: res.status, json };
      };

      /** Route templates of the OpenAPI document (plus the two streams), and which got answered. */
      const templates: Array<{ route: string; pattern: RegExp }> = [];
      const answered = new Set<string>();
      const noteRoute = (method: string, path: string, status: number) => {
        // A refusal before the route (no token, wrong role, over the rate) exercises no handler.
        if (status === 401 || status === 403 || status === 429) return;
        const bare = path.replace(/^\/api/, "").split("?")[0];
        const hit = templates.find((t) => t.pattern.test(`${method} ${bare}`));
        if (hit) answered.add(hit.route);
      };

      /** Raw bytes over TCP, for what fetch cannot send: bodies cut short, broken handshakes. */
      const port = Number(new URL(base).port);
      const raw = async (
        request: string,
        options: { halfClose?: boolean; expect?: number; field?: string } = {},
      ): Promise<{ status: number; json: any } | null> => {
        stats.http++;
        const what = `raw ${JSON.stringify(request.slice(0, 120))}`;
        let answer;
        try {
          answer = await rawExchange(port, request, options);
        } catch (e) {
          stats.clientErrors.push(`${what}: ${e}`);
          return null;
        }
        const { head, body, text } = answer;
        const status = Number(head.split(" ")[1]);
        if (!Number.isFinite(status)) {
          stats.failures.push(`no answer to ${what}: ${JSON.stringify(text.slice(0, 100))}`);
          return null;
        }
        bump(stats.byStatus, status);
        noteRoute(request.split(" ")[0], request.split(" ")[1], status);
        let json: any = null;
        try {
          json = body ? JSON.parse(body) : null;
        } catch { /* checked below */ }
        if (status >= 500) stats.failures.push(`${status} from ${what}: ${body.slice(0, 200)}`);
        if (status >= 400 && typeof json?.error?.code !== "string") {
          stats.failures.push(`no error shape (${status}) from ${what}: ${body.slice(0, 200)}`);
        }
        if (options.expect !== undefined && status !== options.expect) {
          stats.failures.push(
            `${what}: ${status}, expected ${options.expect}: ${body.slice(0, 200)}`,
          );
        }
        if (options.field !== undefined && json?.error?.field !== options.field) {
          stats.failures.push(`${what}: field ${json?.error?.field}, expected ${options.field}`);
        }
        return { status, json };
      };

      const auth = {
        none: {} as Record<string, string>,
        owner: { authorization: `Bearer ${keys.owner}` },
        b: { authorization: `Bearer ${keys.b}` },
        c: { authorization: `Bearer ${keys.c}` },
        admin: { authorization: `Bearer ${keys.admin}` },
        worker: { authorization: `Bearer ${WORKER_TOKEN}` },
      };
      const json = { "content-type": "application/json" };
      const call = (method: string, path: string, body: unknown, who: Record<string, string>) =>
        send(method, `/api${path}`, body === undefined ? undefined : JSON.stringify(body), {
          ...json,
          ...who,
        });

      // ---- The known set: pending, delayed, completed and failed tasks in the protected queue.
      const known: string[] = [];
      const submitted = await call("POST", "/tasks", {
        tasks: [
          ...Array.from({ length: 20 }, (_, i) => ({
            type: "demo.echo",
            params: { i, note: "keep" },
            queue: PROTECTED,
            priority: i % 3,
          })),
          ...Array.from({ length: 5 }, (_, i) => ({
            type: "demo.echo",
            params: { delayed: i },
            queue: PROTECTED,
            runAt: Date.now() + 365 * 24 * 3600_000,
          })),
          ...Array.from({ length: 6 }, (_, i) => ({
            type: "demo.echo",
            params: { done: i },
            queue: `${PROTECTED}-done`,
            maxAttempts: 1,
          })),
        ],
      }, auth.owner);
      assert.equal(submitted?.status, 201);
      known.push(...submitted!.json.tasks.map((t: any) => t.id));
      const leases = (await call(
        "POST",
        "/leases",
        { workerId: "setup", max: 6, queues: [`${PROTECTED}-done`] },
        auth.worker,
      ))!.json.leases;
      assert.equal(leases.length, 6);
      for (const [i, l] of leases.entries()) {
        const report = i < 4
          ? { leaseId: l.leaseId, result: { echoed: i } }
          : { leaseId: l.leaseId, error: { code: "handler", message: "no", retryable: false } };
        const end = await call(
          "POST",
          `/tasks/${l.taskId}/${i < 4 ? "complete" : "fail"}`,
          report,
          auth.worker,
        );
        assert.equal(end?.status, 200);
      }
      const snapshot = new Map<string, string>();
      for (const id of known) {
        const res = await fetch(`${api}/tasks/${id}`, { headers: auth.admin });
        snapshot.set(id, await res.text());
      }
      assert.equal(stats.failures.length, 0, stats.failures.join("\n"));

      // ---- Every route of the OpenAPI document must be answered by its handler at least once.
      const doc = (await call("GET", "/openapi.json", undefined, auth.none))!.json;
      for (const [path, ops] of Object.entries<any>(doc.paths)) {
        for (const method of Object.keys(ops)) {
          const m = method.toUpperCase();
          const pattern = new RegExp(`^${m} ${path.replace(/\{[^}]+\}/g, "[^/]+")}$`);
          templates.push({ route: `${m} ${path}`, pattern });
        }
      }
      // Literal routes first: POST /tasks/claim is not POST /tasks/{id}/….
      templates.sort((a, b) => Number(a.route.includes("{")) - Number(b.route.includes("{")));
      assert.ok(templates.length >= 20, `only ${templates.length} documented routes`);

      // ---- The cases of the correctness issue, on every route they apply to, then random ones.
      const edgeStarted = Date.now();
      const expect = (ok: boolean, message: string) => ok || stats.failures.push(message);
      const edge = rng(SEED + 7);
      const NOSUCH = "01J0NOSUCH000000000000000";
      /** Every route with a JSON body, with a caller whose role reaches its handler. */
      const bodyRoutes: Array<[string, Record<string, string>]> = [
        ["/tasks", auth.b],
        ["/tasks/await", auth.b],
        ["/tasks/claim", auth.worker],
        ["/leases", auth.worker],
        ["/leases/report", auth.worker],
        [`/tasks/${NOSUCH}/heartbeat`, auth.worker],
        [`/tasks/${NOSUCH}/complete`, auth.worker],
        [`/tasks/${NOSUCH}/fail`, auth.worker],
        [`/tasks/${NOSUCH}/release`, auth.worker],
        ["/jobs", auth.b],
        [`/jobs/${NOSUCH}/tasks`, auth.b],
      ];
      const cursors = [
        "%F0%9F%98%80",
        "%EF%BF%BF",
        "%F4%8F%BF%BF",
        "%ED%A0%80",
        "%FF",
        "%C0%80",
        "zzzzzzzzzzzzzzzzzzzzzzzzzz",
        encodeURIComponent(String.fromCodePoint(0x10000 + edge.int(0xfffff))),
      ];
      const filters = [
        "",
        "&status=processing",
        "&status=failed",
        "&status=pending",
        "&status=completed",
        "&status=cancelled",
        "&queue=fuzz",
        "&type=demo.echo",
        "&status=pending&queue=fuzz",
      ];
      for (const cursor of cursors) {
        for (const filter of filters) {
          for (const who of [auth.admin, auth.b]) {
            const res = await call("GET", `/tasks?cursor=${cursor}${filter}`, undefined, who);
            expect(res?.status === 200, `cursor ${cursor}${filter}: ${res?.status}`);
          }
        }
      }
      const ws = (query: string, headers: string) =>
        `GET /api/ws${query} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`;
      const UP = "Upgrade: websocket\r\n";
      const CONN = "Connection: Upgrade\r\n";
      const VER = "Sec-WebSocket-Version: 13\r\n";
      const KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
      const handshakes: Array<[string, number, string?]> = [
        [ws("", UP + CONN + VER), 400, "sec-websocket-key"],
        [
          ws(`?token=${WORKER_TOKEN}`, UP + CONN + VER + "Sec-WebSocket-Key: x\r\n"),
          400,
          "sec-websocket-key",
        ],
        [ws("", UP + VER + KEY), 400, "connection"],
        [ws("", UP + "Connection: keep-alive\r\n" + VER + KEY), 400, "connection"],
        [ws("", CONN + VER + KEY), 400, "upgrade"],
        [ws("", UP + CONN + "Sec-WebSocket-Version: 8\r\n" + KEY), 400, "sec-websocket-version"],
        [ws("", UP + CONN + VER + KEY + "Sec-WebSocket-Protocol: a,b\r\n"), 101],
        [ws("", UP + CONN + VER + KEY + "Sec-WebSocket-Protocol: a\r\n"), 101],
        [ws("", UP + "Connection: keep-alive, Upgrade\r\n" + VER + KEY), 101],
      ];
      for (const [request, status, field] of handshakes) {
        await raw(request, { expect: status, ...(field ? { field } : {}) });
      }
      const head = (path: string, who: Record<string, string>, extra: string) =>
        `POST /api${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${
          Object.entries(who).map(([k, v]) => `${k}: ${v}\r\n`).join("")
        }${extra}\r\n`;
      for (const [path, who] of bodyRoutes) {
        for (const type of ["", "Content-Type: application/json\r\n"]) {
          // Content-Length 100, 7 bytes, then half-close; a chunked body cut short.
          await raw(head(path, who, `${type}Content-Length: 100\r\n`) + '{"type"', {
            halfClose: true,
            expect: 400,
            field: "body",
          });
          await raw(head(path, who, `${type}Transfer-Encoding: chunked\r\n`) + '9\r\n{"type":', {
            halfClose: true,
            expect: 400,
            field: "body",
          });
          await raw(head(path, who, `${type}Content-Length: ${MAX_BODY + 1}\r\n`) + "{", {
            halfClose: true,
            expect: 413,
          });
        }
        for (
          const type of [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "",
          ]
        ) {
          const res = await send("POST", `/api${path}`, "{}", {
            ...(type ? { "content-type": type } : {}),
            ...who,
          });
          expect(
            res?.status === 415 && res.json?.error?.code === "unsupported_media_type" &&
              res.json.error.field === "content-type",
            `${path} as ${type || "no type"}: ${res?.status} ${JSON.stringify(res?.json)}`,
          );
        }
        for (const body of ["null", "[]", "1", '"x"', "true"]) {
          const res = await send("POST", `/api${path}`, body, { ...json, ...who });
          expect(
            res?.status === 400 && res.json?.error?.field === "body",
            `${path} with ${body}: ${res?.status} ${JSON.stringify(res?.json)}`,
          );
        }
      }
      // Idempotency keys: lone surrogates are refused (they collided as U+FFFD in the KV), and
      // a known key with other params is a conflict, in a single submit and in a batch.
      const idem = `edge-${SEED}`;
      for (const key of [`${idem}\ud800`, `${idem}\udbff`, `\udc00${idem}`]) {
        const res = await call("POST", "/tasks", {
          type: "demo.echo",
          queue: "fuzz",
          idempotencyKey: key,
        }, auth.b);
        expect(res?.status === 400 && res.json?.error?.field === "idempotencyKey", `key ${key}`);
      }
      const first = await call("POST", "/tasks", {
        type: "demo.echo",
        params: { a: 1, b: 2 },
        queue: "fuzz",
        idempotencyKey: idem,
      }, auth.b);
      expect(first?.status === 201, `idempotent submit: ${first?.status}`);
      const again = await call("POST", "/tasks", {
        type: "demo.echo",
        params: { b: 2, a: 1 },
        queue: "fuzz",
        idempotencyKey: idem,
      }, auth.b);
      expect(again?.status === 200 && again.json.id === first?.json?.id, "same key, same params");
      for (
        const body of [
          { type: "demo.echo", params: { a: 2 }, queue: "fuzz", idempotencyKey: idem },
          { tasks: [{ type: "demo.echo", params: { a: 3 }, queue: "fuzz", idempotencyKey: idem }] },
        ]
      ) {
        const res = await call("POST", "/tasks", body, auth.b);
        expect(
          res?.status === 409 && res.json?.error?.code === "idempotency_conflict",
          `reused key: ${res?.status} ${JSON.stringify(res?.json)}`,
        );
      }
      // A repeated report of an accepted lease with another result: 409 conflict, the first stands.
      const edgeTask = (await call("POST", "/tasks", {
        type: "demo.echo",
        queue: "edge",
      }, auth.b))!.json;
      const [edgeLease] = (await call("POST", "/leases", {
        workerId: "edge",
        queues: ["edge"],
      }, auth.worker))!.json.leases;
      const report = (result: unknown) =>
        call("POST", `/tasks/${edgeTask.id}/complete`, {
          leaseId: edgeLease.leaseId,
          result,
        }, auth.worker);
      expect((await report({ n: 1 }))?.status === 200, "first report");
      expect((await report({ n: 1 }))?.status === 200, "the same report again");
      const other = await report({ n: 2 });
      expect(other?.status === 409 && other.json?.error?.code === "conflict", "another result");
      const batchOther = await call("POST", "/leases/report", {
        items: [{ taskId: edgeTask.id, leaseId: edgeLease.leaseId, result: { n: 3 } }],
      }, auth.worker);
      expect(batchOther?.json?.outcomes?.[0]?.code === "conflict", "another result, batched");
      const kept = await call("GET", `/tasks/${edgeTask.id}`, undefined, auth.b);
      expect(kept?.json?.result?.n === 1, "the first result stands");
      // Large batches stay under the KV's 1,000 mutations per operation, whatever each task costs.
      for (
        const [n, extra] of [[1000, {}], [300, {
          verification: { mode: "quorum", replicas: 5, agree: 3, maxReplicas: 5 },
        }]] as const
      ) {
        const tasks = Array.from({ length: n }, (_, i) => ({
          type: "demo.echo",
          params: { i },
          queue: "edge-bulk",
          ...extra,
        }));
        const res = await call("POST", "/tasks", { tasks }, auth.b);
        expect(res?.status === 201, `a batch of ${n}: ${res?.status}`);
      }
      // A tour: every route once with a request its handler takes, so the coverage check below
      // does not depend on what the random phase happens to reach in its time budget.
      const tourTask = (await call("POST", "/tasks", { type: "demo.echo", queue: "edge" }, auth.b))!
        .json;
      for (
        const path of [
          "/health",
          "/whoami",
          "/openapi.json",
          "/donors",
          "/handlers",
          "/about",
          "/donors/x",
          "/public",
        ]
      ) {
        await call("GET", path, undefined, auth.none);
      }
      await call("GET", `/handlers/versions/${"0".repeat(64)}`, undefined, auth.none);
      await call("POST", "/handlers/reload", undefined, auth.admin);
      for (const path of ["/stats", "/workers", "/workers/edge/stats", "/live"]) {
        await call("GET", path, undefined, auth.admin);
      }
      await call("GET", "/tasks?queue=edge", undefined, auth.b);
      await call("GET", `/tasks/${tourTask.id}`, undefined, auth.b);
      await call("POST", "/tasks/await", { ids: [tourTask.id], waitMs: 0 }, auth.b);
      await call("POST", "/tasks/claim", { worker_id: "edge", queues: ["edge"] }, auth.worker);
      for (const end of ["heartbeat", "fail", "release", "complete"]) {
        await call("POST", `/tasks/${tourTask.id}/retry`, undefined, auth.b);
        const [l] =
          (await call("POST", "/leases", { workerId: "edge", queues: ["edge"] }, auth.worker))!
            .json.leases ?? [];
        const body = end === "fail"
          ? { leaseId: l?.leaseId, error: "tour" }
          : end === "complete"
          ? { leaseId: l?.leaseId, result: 1 }
          : { leaseId: l?.leaseId };
        await call("POST", `/tasks/${tourTask.id}/${end}`, body, auth.worker);
        if (end === "heartbeat") {
          await call("POST", `/tasks/${tourTask.id}/cancel`, undefined, auth.b);
        }
      }
      await call("POST", "/leases/report", {
        items: [{ taskId: tourTask.id, leaseId: "gone", result: 1 }],
      }, auth.worker);
      // The job routes, once each, on a job of the edge queue.
      const tourJob = (await call("POST", "/jobs", {
        type: "demo.echo",
        queue: "edge",
        inputs: [{ a: 1 }],
        open: true,
      }, auth.b))!.json;
      await call("POST", `/jobs/${tourJob.id}/tasks`, { inputs: [{ a: 2 }] }, auth.b);
      await call("GET", "/jobs?status=running", undefined, auth.b);
      await call("GET", `/jobs/${tourJob.id}`, undefined, auth.b);
      await call("GET", `/jobs/${tourJob.id}/results?order=input`, undefined, auth.b);
      await call("GET", `/jobs/${tourJob.id}/results?after=bad`, undefined, auth.b);
      await call("POST", `/jobs/${tourJob.id}/close`, undefined, auth.b);
      await call("POST", `/jobs/${tourJob.id}/cancel`, undefined, auth.b);
      await call("POST", `/jobs/${tourJob.id}/retry`, undefined, auth.b);
      await call("DELETE", `/jobs/${tourJob.id}`, undefined, auth.b);
      const edgeMs = Date.now() - edgeStarted;

      // ---- The fuzzers.
      const started = Date.now();
      const budget = Math.max(3000, Math.min(BUDGET_MS, TOTAL_MS - (started - testStarted)));
      const over = () =>
        Date.now() - started > budget ||
        (stats.http >= HTTP_TARGET && stats.socketMessages >= SOCKET_TARGET);
      /** Task ids and leases the fuzzer made: out-of-order calls need real ones too. */
      const pool = {
        tasks: [] as string[],
        leases: [] as Array<{ taskId: string; leaseId: string }>,
      };
      // Only the fuzzer's own tasks: an admin's list also shows the known set, which the
      // fuzzer must never be handed (an admin may legitimately retry or cancel it).
      const ours = (t: any) => typeof t?.queue === "string" && !t.queue.startsWith(PROTECTED);
      const remember = (res: { json: any } | null) => {
        const tasks = res?.json?.tasks ?? (res?.json?.id ? [res.json] : []);
        for (const t of Array.isArray(tasks) ? tasks : []) {
          if (ours(t) && typeof t.id === "string" && pool.tasks.length < 500) pool.tasks.push(t.id);
        }
        for (const l of Array.isArray(res?.json?.leases) ? res.json.leases : []) {
          if (ours(l?.task) && pool.leases.length < 500) {
            pool.leases.push({ taskId: l.taskId, leaseId: l.leaseId });
          }
        }
      };

      const someId = (r: Rng): string => {
        switch (r.int(6)) {
          case 0:
          case 1:
            return pool.tasks.length ? r.pick(pool.tasks) : "01J0NOSUCH000000000000000";
          case 2:
            return encodeURIComponent(r.pick(WEIRD).toWellFormed()) || "x";
          case 3:
            return "x".repeat(r.pick([1, 100, 101, 3000]));
          case 4:
            return r.pick(["%2F", "..", ".", "%", "%zz", "a%20b", "claim", "await"]);
          default:
            return "01J" + r.text(23).replace(/[^A-Z0-9]/gi, "Z");
        }
      };
      const someLease = (r: Rng) =>
        pool.leases.length && r.chance(0.7) ? r.pick(pool.leases) : {
          taskId: someId(r),
          leaseId: r.pick(["", "nope", crypto.randomUUID(), "x".repeat(500)]),
        };

      const someCaller = (r: Rng): Record<string, string> => {
        return r.pick([
          auth.none,
          auth.b,
          auth.c,
          auth.worker,
          auth.worker,
          auth.b,
          auth.admin,
          { authorization: "Bearer tsk_" + r.text(43).replace(/\W/g, "A") },
          { authorization: `Basic ${btoa("a:b")}` },
          { authorization: "Bearer" },
          { authorization: `bearer   ${keys.b}  ` },
          { authorization: `Bearer ${keys.b} extra` },
          { authorization: "Bearer " + "k".repeat(1500) },
        ]);
      };

      const submitBody = (r: Rng) => ({
        type: r.pick(["demo.echo", "demo.echo", "primes.count", "demo.sleep", "hash.search"]),
        params: r.pick([{ a: 1 }, { from: 0, to: 100 }, { ms: 0 }, { prefix: "x", difficulty: 1 }]),
        queue: r.pick(QUEUES),
        priority: r.int(5),
        maxAttempts: 1 + r.int(3),
        ...(r.chance(0.2)
          ? { idempotencyKey: `idem-${r.int(20)}${r.pick(["", "", "\ud800", "\udbff", "😀"])}` }
          : {}),
      });

      /** Valid-shaped requests for each route, for mutation. */
      const validRequest = (r: Rng): [string, string, any, "claim" | "await" | "other"] => {
        const l = someLease(r);
        const id = r.chance(0.6) ? l.taskId : someId(r);
        switch (r.int(15)) {
          case 0:
            return ["POST", "/tasks", submitBody(r), "other"];
          case 1:
            return ["POST", "/tasks", { tasks: [submitBody(r), submitBody(r)] }, "other"];
          case 2:
            return ["POST", "/leases", {
              workerId: `fz-${r.int(5)}`,
              max: 1 + r.int(5),
              waitMs: r.int(50),
              queues: [r.pick(QUEUES)],
              kind: r.pick(["deno", "browser", "other"]),
            }, "claim"];
          case 3:
            return ["POST", "/tasks/claim", {
              worker_id: `seed-${r.int(3)}`,
              task_types: ["demo.echo"],
              queues: ["fuzz"],
            }, "claim"];
          case 4:
            return [
              "POST",
              `/tasks/${id}/heartbeat`,
              { leaseId: l.leaseId, progress: r.next() },
              "other",
            ];
          case 5:
            return [
              "POST",
              `/tasks/${id}/complete`,
              { leaseId: l.leaseId, result: { ok: r.int(9) } },
              "other",
            ];
          case 6:
            return ["POST", `/tasks/${id}/fail`, {
              leaseId: l.leaseId,
              error: { code: "handler", message: "fuzz", retryable: r.chance(0.5) },
            }, "other"];
          case 7:
            return ["POST", `/tasks/${id}/release`, { leaseId: l.leaseId }, "other"];
          case 8:
            return ["POST", "/leases/report", {
              items: [
                { taskId: l.taskId, leaseId: l.leaseId, result: r.int(5) },
                {
                  taskId: id,
                  leaseId: "x",
                  error: { code: "handler", message: "m", retryable: false },
                },
              ],
            }, "other"];
          case 9:
            return ["POST", "/tasks/await", { ids: [id, someId(r)], waitMs: r.int(50) }, "await"];
          case 10:
            return ["POST", `/tasks/${id}/cancel`, undefined, "other"];
          case 11:
            return ["POST", `/tasks/${id}/retry`, undefined, "other"];
          case 12:
            return [
              "GET",
              `/tasks?${
                r.pick([
                  "status=failed",
                  "status=processing",
                  "limit=0",
                  "limit=5000",
                  "limit=abc",
                  "cursor=%FF",
                  `cursor=${r.pick(cursors)}${r.pick(filters)}`,
                  `cursor=${r.pick(cursors)}${r.pick(filters)}`,
                  `limit=${1 + r.int(5)}${r.pick(filters)}`,
                  "queue=fuzz&type=demo.echo",
                  "status=bogus",
                  `cursor=${someId(r)}`,
                ])
              }`,
              undefined,
              "other",
            ];
          case 13:
            return [
              "GET",
              `/tasks/${id}?wait=${r.pick(["0", "50", "-1", "abc", "99999999", "1.5"])}`,
              undefined,
              "other",
            ];
          default:
            return [
              "GET",
              r.pick([
                "/stats",
                "/workers",
                `/workers/${someId(r)}/stats`,
                "/health",
                "/whoami",
                "/donors",
                `/donors/${someId(r)}`,
                "/about",
                "/openapi.json",
              ]),
              undefined,
              "other",
            ];
        }
      };

      const randomRequest = async (r: Rng): Promise<void> => {
        const who = someCaller(r);
        const kind = r.int(10);
        if (kind <= 3) {
          // A valid-shaped request, mutated (or not).
          const [method, path, body, guardKind] = validRequest(r);
          const sent = body === undefined
            ? undefined
            : guard(r.chance(0.8) ? mutate(r, body) : body, guardKind);
          remember(
            await send(method, `/api${path}`, sent === undefined ? undefined : serialize(r, sent), {
              ...json,
              ...who,
            }),
          );
        } else if (kind === 4) {
          // Not JSON, or not quite.
          const body = r.pick([
            "{",
            "nul",
            "\ufeff{}",
            '{"type":"demo.echo",}',
            "[]",
            "1",
            '"str"',
            "{'a':1}",
            r.text(r.int(200)),
            '{"tasks":' + deepJson(r, 100_000) + "}",
            deepJson(r, 50_000),
            '{"a":"\\ud800"}',
          ]);
          const path = r.pick([
            "/tasks",
            "/leases",
            "/leases/report",
            "/tasks/await",
            `/tasks/${someId(r)}/complete`,
          ]);
          await send("POST", `/api${path}`, body, { ...json, ...who });
        } else if (kind === 5) {
          // Oversized or wrongly labelled bodies.
          const huge = r.chance(0.5);
          const body = huge
            ? JSON.stringify({
              type: "demo.echo",
              params: { s: "x".repeat(MAX_BODY + r.int(1000)) },
            })
            : JSON.stringify(submitBody(r));
          const type = r.pick([
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/json; charset=latin1",
            "application/json",
          ]);
          await send("POST", "/api/tasks", body, {
            ...(type ? { "content-type": type } : {}),
            ...who,
          });
        } else if (kind === 6) {
          // Random methods and paths.
          const method = r.pick(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]);
          const path = r.pick([
            "/api",
            "/api/",
            "/api/tasks/",
            "/api//tasks",
            `/api/tasks/${someId(r)}/${someId(r)}`,
            "/api/nope",
            "/api/ws",
            "/api/live",
            `/api/tasks/${someId(r)}`,
            "/api/leases/x",
            `/%61pi/tasks/${someId(r)}`,
            "/api/openapi.json?x=" + "y".repeat(3000),
            "/api/tasks?" + "a=1&".repeat(500),
            "/nope",
          ]);
          const body = method === "GET" || method === "HEAD"
            ? undefined
            : serialize(r, randomValue(r));
          await send(method, path, body, { ...json, ...who });
        } else {
          // Out of order, on real tasks: complete before claim, twice, after cancel; cancel finished.
          const owner = r.pick([auth.b, auth.c]);
          const made = await call("POST", "/tasks", {
            tasks: [submitBody(r), { ...submitBody(r), queue: "fuzz" }],
          }, owner);
          remember(made);
          const ids: string[] = made?.json?.tasks?.map((t: any) => t.id) ?? [];
          if (ids.length === 0) return;
          await call(
            "POST",
            `/tasks/${ids[0]}/complete`,
            { leaseId: crypto.randomUUID(), result: 1 },
            auth.worker,
          );
          await call("POST", `/tasks/${ids[0]}/complete`, { result: 1 }, auth.worker); // seed style: no lease
          const claimed = await call("POST", "/leases", {
            workerId: `flow-${r.int(3)}`,
            max: 2,
            queues: QUEUES,
          }, auth.worker);
          remember(claimed);
          for (const l of claimed?.json?.leases ?? []) {
            const step = r.int(6);
            if (step === 0) {
              await call(
                "POST",
                `/tasks/${l.taskId}/cancel`,
                undefined,
                r.pick([owner, auth.admin, auth.b]),
              );
            }
            const result = {
              leaseId: l.leaseId,
              result: r.chance(0.2) ? "x".repeat(40_000) : { n: 1 },
            };
            await call("POST", `/tasks/${l.taskId}/complete`, result, auth.worker);
            if (step < 3) await call("POST", `/tasks/${l.taskId}/complete`, result, auth.worker);
            if (step === 3) {
              await call(
                "POST",
                `/tasks/${l.taskId}/fail`,
                { leaseId: l.leaseId, error: "late" },
                auth.worker,
              );
            }
            if (step === 4) {
              await call(
                "POST",
                `/tasks/${l.taskId}/heartbeat`,
                { leaseId: l.leaseId },
                auth.worker,
              );
            }
            await call(
              "POST",
              `/tasks/${l.taskId}/${r.pick(["cancel", "retry"])}`,
              undefined,
              r.pick([owner, auth.admin]),
            );
            await call("POST", `/tasks/${l.taskId}/release`, { leaseId: l.leaseId }, auth.worker);
          }
        }
      };

      /** One socket: garbage and out-of-order messages; with the token, real leases done badly. */
      const socketSession = async (r: Rng): Promise<void> => {
        stats.socketSessions++;
        const withToken = r.chance(0.4);
        const query = withToken ? `?token=${WORKER_TOKEN}` : r.chance(0.1) ? "?token=bad" : "";
        const ws = new WebSocket(`${base.replace(/^http/, "ws")}/api/ws${query}`);
        ws.binaryType = "arraybuffer";
        const leasesHere: any[] = [];
        ws.onmessage = (e) => {
          let parsed: any;
          try {
            parsed = ServerMessage.parse(JSON.parse(String(e.data)));
          } catch (err) {
            stats.failures.push(`invalid server message ${String(e.data).slice(0, 200)}: ${err}`);
            return;
          }
          if (parsed.type === "lease") leasesHere.push(parsed.lease);
          if (parsed.type === "ack" && !parsed.ok && parsed.code === "internal") {
            stats.failures.push(`internal ack: ${String(e.data).slice(0, 200)}`);
          }
        };
        const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
        const opened = await new Promise<boolean>((resolve) => {
          ws.onopen = () => resolve(true);
          ws.onerror = () => resolve(false);
        });
        if (opened) {
          answered.add("GET /ws");
          const hello = guard({
            type: "hello",
            workerId: `sock-${r.int(50)}`,
            kind: withToken
              ? r.pick(["deno", "other", "browser"])
              : r.pick(["browser", "browser", "deno"]),
            slots: r.int(4),
            queues: ["fuzz"],
            ...(r.chance(0.3) ? { donorId: `donor-${r.int(5)}` } : {}),
          }, "claim");
          const steps = 1 + r.int(25);
          for (let i = 0; i < steps && ws.readyState === WebSocket.OPEN; i++) {
            const ref = r.int(1000);
            const l = leasesHere.length && r.chance(0.7) ? r.pick(leasesHere) : someLease(r);
            const message = r.pick<() => unknown>([
              () => (i === 0 && r.chance(0.8) ? hello : guard(mutate(r, hello), "claim")),
              () => r.text(r.int(100)),
              () => new Uint8Array(Array.from({ length: r.int(64) }, () => r.int(256))),
              () => ({ type: "credit", slots: r.pick([0, 1, 3, -1, 1000, "2"]) }),
              () => ({
                type: "complete",
                ref,
                taskId: l.taskId,
                leaseId: l.leaseId,
                result: { ok: 1 },
                runMs: 3,
              }),
              () => ({
                type: "complete",
                ref,
                taskId: l.taskId,
                leaseId: l.leaseId,
                result: "__DEEP__",
              }),
              () => ({
                type: "fail",
                ref,
                taskId: l.taskId,
                leaseId: l.leaseId,
                error: { code: "handler", message: "x", retryable: true },
              }),
              () => ({
                type: "heartbeat",
                ref,
                taskId: l.taskId,
                leaseId: l.leaseId,
                progress: r.next() * 2,
              }),
              () => ({ type: "release", ref, taskId: l.taskId, leaseId: l.leaseId }),
              () =>
                mutate(r, {
                  type: "complete",
                  ref,
                  taskId: l.taskId,
                  leaseId: l.leaseId,
                  result: [1, 2],
                }),
              () => ({ type: r.pick(["nope", 7, null]) }),
              () => "x".repeat(r.pick([140_000, 300_000])),
              () => ({
                type: "complete",
                ref,
                taskId: l.taskId,
                leaseId: l.leaseId,
                result: "y".repeat(40_000),
              }),
            ])();
            try {
              ws.send(
                message instanceof Uint8Array
                  ? message
                  : typeof message === "string"
                  ? message
                  : serialize(r, message),
              );
              stats.socketMessages++;
            } catch { /* closing */ }
            if (r.chance(0.3)) await sleep(r.int(20));
          }
          // Complete what was pushed (twice, sometimes), then leave or let the server close.
          for (const l of leasesHere.splice(0)) {
            if (ws.readyState !== WebSocket.OPEN) break;
            const done = JSON.stringify({
              type: "complete",
              ref: 1,
              taskId: l.taskId,
              leaseId: l.leaseId,
              result: 1,
            });
            ws.send(done);
            stats.socketMessages++;
            if (r.chance(0.3)) {
              // The same report again, or another result for the same lease: refused, not 500.
              ws.send(r.chance(0.5) ? done : done.replace('"result":1', '"result":2'));
              stats.socketMessages++;
            }
          }
          await sleep(r.int(30));
          if (ws.readyState === WebSocket.OPEN) ws.close();
        }
        const code = await Promise.race([closed, sleep(5000).then(() => -1)]);
        bump(stats.closeCodes, code);
        if (code === -1) ws.close();
        if (code === 1011) stats.failures.push("socket closed with 1011 (internal error)");
      };

      /** Many sockets from one address at once: the extra ones get 4002. */
      const socketCrowd = async (): Promise<void> => {
        const sockets = Array.from(
          { length: 20 },
          () => new WebSocket(`${base.replace(/^http/, "ws")}/api/ws`),
        );
        const codes = await Promise.all(sockets.map((ws) =>
          new Promise<number>((resolve) => {
            ws.onclose = (e) => resolve(e.code);
            ws.onopen = () => setTimeout(() => ws.readyState === WebSocket.OPEN && ws.close(), 200);
          })
        ));
        for (const code of codes) bump(stats.closeCodes, code);
        if (!codes.includes(CLOSE.tooManySockets)) stats.failures.push(`no 4002 among ${codes}`);
      };

      const loops = [
        ...Array.from({ length: HTTP_LOOPS }, async (_, i) => {
          const r = rng(SEED + i);
          while (!over()) await randomRequest(r);
        }),
        ...Array.from({ length: SOCKET_LOOPS }, async (_, i) => {
          const r = rng(SEED + 1000 + i);
          while (!over()) await socketSession(r);
        }),
      ];
      await Promise.all(loops);
      await socketCrowd();
      const elapsed = Date.now() - started;

      // ---- Afterwards: still serving, nothing logged as an error, the known set untouched.
      await sleep(300);
      assert.ok(!exited, "the coordinator process exited");
      const health = await fetch(`${api}/health`);
      assert.equal(health.status, 200);
      assert.equal((await health.json()).status, "ok");
      for (const id of known) {
        const res = await fetch(`${api}/tasks/${id}`, { headers: auth.admin });
        assert.equal(await res.text(), snapshot.get(id), `task ${id} changed`);
      }
      const listed = await fetch(`${api}/tasks?queue=${PROTECTED}&limit=1000`, {
        headers: auth.admin,
      });
      assert.equal(
        (await listed.json()).tasks.length,
        25,
        "no task entered or left the protected queue",
      );

      const summary = {
        seed: SEED,
        totalSeconds: Math.round((Date.now() - testStarted) / 100) / 10,
        seconds: Math.round(elapsed / 100) / 10,
        edgeSeconds: Math.round(edgeMs / 100) / 10,
        routes: `${answered.size}/${templates.length}`,
        http: stats.http,
        socketMessages: stats.socketMessages,
        socketSessions: stats.socketSessions,
        byStatus: Object.fromEntries([...stats.byStatus].sort(([a], [b]) => a - b)),
        closeCodes: Object.fromEntries(stats.closeCodes),
        clientErrors: stats.clientErrors.length,
      };
      console.log(JSON.stringify(summary));

      child.kill("SIGTERM");
      const exit = await Promise.race([status, sleep(15_000).then(() => null)]);
      await draining;

      assert.deepEqual(
        stats.failures.slice(0, 20),
        [],
        `seed ${SEED}: ${stats.failures.length} failures`,
      );
      assert.equal([...stats.byStatus.keys()].filter((s) => s >= 500).length, 0);
      assert.deepEqual(
        templates.map((t) => t.route).filter((route) => !answered.has(route)),
        [],
        "documented routes no request reached",
      );
      const errors = logs.filter((l) => l.level === "error");
      assert.deepEqual(errors.slice(0, 10), [], "the coordinator logged errors");
      assert.deepEqual(
        strayLines.slice(0, 10),
        [],
        "the coordinator printed something other than logs",
      );
      assert.equal(exit?.code, 0, "the coordinator did not shut down cleanly");
      // The budget bounds the time; on a loaded machine fewer requests fit in it.
      assert.ok(stats.http >= 2000, `only ${stats.http} requests`);
      assert.ok(stats.socketMessages >= 500, `only ${stats.socketMessages} socket messages`);
      assert.ok(
        stats.clientErrors.length <= stats.http * 0.01,
        stats.clientErrors.slice(0, 5).join("\n"),
      );
    } finally {
      if (!exited) child.kill("SIGKILL");
      await status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
