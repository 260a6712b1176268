// deno-lint-ignore-file no-explicit-any -- JSON bodies in tests
/**
 * Authentication and authorisation end to end: API keys made through the real store (and once
 * through the real `deno task keys` CLI), a real coordinator enforcing them, roles, owners,
 * the localhost dashboard exemption, and the socket and request limits.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createApiKey, type KeyRole, revokeApiKey } from "../coordinator/auth/api_keys.ts";
import { routeClass } from "../coordinator/auth/auth.ts";
import type { CoordinatorConfig } from "../coordinator/config.ts";
import { callJson, eventually, REPO_ROOT, sleep, testCoordinator } from "./_helpers.ts";

const WORKER_TOKEN = "worker-token-for-tests";
/** Any proxy header makes a loopback request count as remote (no dashboard exemption). */
const REMOTE = { "x-forwarded-for": "203.0.113.9" };

async function authCoordinator(overrides: Partial<CoordinatorConfig> = {}) {
  const c = await testCoordinator({ auth: "on", workerToken: WORKER_TOKEN, ...overrides });
  const key = async (name: string, role: KeyRole = "client") =>
    (await createApiKey(c.ctx.kv, { name, role })).key;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  return { c, key, bearer };
}

function assertRefusal(res: { status: number; body: any }, status: number, code: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body?.error?.code, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.error.message, "string");
  if (status === 401 || status === 403) assert.equal(res.body.error.field, "authorization");
}

const echo = (params: unknown = {}) => ({ type: "demo.echo", params });

/** Every route, as a request a caller of the right role could make (ids may not exist). */
function routes(id = "01NOSUCHTASK0000000000000X") {
  const client: Array<[string, string, unknown?]> = [
    ["POST", "/tasks", echo()],
    ["GET", "/tasks"],
    ["GET", `/tasks/${id}`],
    ["POST", "/tasks/await", { ids: [id], waitMs: 0 }],
    ["POST", `/tasks/${id}/cancel`],
    ["POST", `/tasks/${id}/retry`],
  ];
  const worker: Array<[string, string, unknown?]> = [
    ["POST", "/leases", { workerId: "w" }],
    ["POST", "/leases/report", { items: [{ taskId: id, leaseId: "l", result: 1 }] }],
    ["POST", "/tasks/claim", { worker_id: "w" }],
    ["POST", `/tasks/${id}/heartbeat`, { leaseId: "l" }],
    ["POST", `/tasks/${id}/complete`, { leaseId: "l", result: 1 }],
    ["POST", `/tasks/${id}/fail`, { leaseId: "l", error: "x" }],
    ["POST", `/tasks/${id}/release`, { leaseId: "l" }],
  ];
  const dashboard: Array<[string, string, unknown?]> = [
    ["GET", "/stats"],
    ["GET", "/workers"],
    ["GET", "/workers/w/stats"],
  ];
  return { client, worker, dashboard };
}

Deno.test("deno task keys creates, lists and revokes keys that a coordinator on the same KV honours", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-keys-" });
  const db = `${dir}/kv.sqlite`;
  const cli = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-kv", "coordinator/keys_cli.ts", ...args, "--db", db],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  };
  try {
    const made = await cli("create", "--name", "alice", "--json");
    assert.equal(made.code, 0, made.stderr);
    const alice = JSON.parse(made.stdout);
    assert.match(alice.key, /^tsk_[A-Za-z0-9_-]{43}$/);
    assert.equal(alice.role, "client");
    assert.equal(alice.hash, undefined);
    const human = await cli("create", "--name", "root", "--role", "admin");
    assert.equal(human.code, 0, human.stderr);
    const adminKey = /^\s+(tsk_\S+)$/m.exec(human.stdout)?.[1];
    assert.ok(adminKey, human.stdout);

    const list = await cli("list");
    assert.equal(list.code, 0);
    assert.match(list.stdout, /alice\s+client\s+tsk_\S+…\s+\S+ \S+\s+active/);
    assert.ok(!list.stdout.includes(alice.key) && !list.stdout.includes(adminKey));
    assert.equal((await cli("create", "--name", "x", "--role", "root")).code, 2);
    assert.equal((await cli("revoke", "key_nosuchkey")).code, 1);

    // A coordinator on that file, --auth auto: the keys exist, so they are required.
    await using c = await testCoordinator({ db, auth: "auto" });
    const who = await c.call("GET", "/whoami", undefined, { authorization: `Bearer ${alice.key}` });
    assert.deepEqual(who.body, {
      role: "client",
      keyId: alice.id,
      name: "alice",
      enforced: true,
      trustedWorker: false,
      // A client key may change its own tasks but not read the operator console.
      console: { read: false, write: true },
    });
    assertRefusal(await c.call("POST", "/tasks", echo()), 401, "unauthorized");
    const auth = { authorization: `Bearer ${alice.key}` };
    assert.equal((await c.call("POST", "/tasks", echo(), auth)).status, 201);
    const admin = { authorization: `Bearer ${adminKey}` };
    assert.equal((await c.call("GET", "/whoami", undefined, admin)).body.role, "admin");

    const revoked = await cli("revoke", alice.id);
    assert.equal(revoked.code, 0, revoked.stderr);
    assertRefusal(await c.call("POST", "/tasks", echo(), auth), 401, "unauthorized");
    assert.match((await cli("list")).stdout, /alice\s+client\s+\S+\s+\S+ \S+\s+revoked/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("API keys are stored hashed: the raw key appears nowhere in the KV", async () => {
  const { c, key, bearer } = await authCoordinator();
  await using _ = c;
  const keys = [await key("alice"), await key("root", "admin")];
  for (const k of keys) {
    assert.equal((await c.call("POST", "/tasks", echo(), bearer(k))).status, 201);
  }
  const dump: string[] = [];
  for await (const e of c.ctx.kv.list({ prefix: [] })) {
    dump.push(
      JSON.stringify(
        [e.key, e.value],
        (_k, v) =>
          typeof v === "bigint"
            ? String(v)
            : v instanceof Deno.KvU64
            ? String(v.value)
            : v instanceof Uint8Array
            ? new TextDecoder().decode(v)
            : v,
      ),
    );
  }
  const all = dump.join("\n");
  assert.ok(all.includes('"apikey_hash"'), "the hash index is there");
  for (const k of keys) {
    assert.ok(!all.includes(k), "raw key found in KV");
    assert.ok(!all.includes(k.slice(12)), "the secret part of a key found in KV");
  }
});

Deno.test("every API route without credentials is 401 with the error shape; only public routes answer", async () => {
  const { c } = await authCoordinator();
  await using _ = c;
  // Every route in the OpenAPI document, plus the ones outside it.
  const doc = (await c.call("GET", "/openapi.json")).body;
  // The socket is public too: browser volunteers connect without a token (tested elsewhere).
  const publicRoutes = new Set([
    "GET /health",
    "GET /donors",
    "GET /donors/x",
    "GET /about",
    "GET /public",
    "GET /whoami",
    "GET /openapi.json",
    "GET /ws",
    // The handler manifest and its entries: the code the grid ships to volunteers anyway.
    "GET /handlers",
    "GET /handlers/versions/x",
  ]);
  const bodies = new Map(
    [...Object.values(routes())].flat().map((
      [m, p, b],
    ) => [`${m} ${p.replace(/01NO\w+/, "x")}`, b]),
  );
  let checked = 0;
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const method of Object.keys(ops)) {
      const m = method.toUpperCase();
      const concrete = path.replace(/\{[^}]+\}/g, "x");
      if (publicRoutes.has(`${m} ${concrete}`)) continue;
      const body = bodies.get(`${m} ${concrete}`) ?? (m === "POST" ? {} : undefined);
      // From this machine the dashboard's reads are open (tested below); remote they are not.
      const localRead = m === "GET" &&
        /^\/(stats|workers|workers\/x\/stats|tasks\/x|live)$/.test(concrete);
      for (const headers of localRead ? [REMOTE] : [REMOTE, {}]) {
        const res = await c.call(m, concrete, body, headers);
        assertRefusal(res, 401, "unauthorized");
        checked++;
      }
    }
  }
  assert.ok(checked >= 28, `only ${checked} route checks`); // 16 routes, 4 of them local reads
  // Outside the document: the live feed and unknown API paths (default deny), remote.
  for (const path of ["/live", "/nope", "/tasks/x/nope"]) {
    assertRefusal(await c.call("GET", path, undefined, REMOTE), 401, "unauthorized");
  }
  // The same path, spelled differently, is the same route.
  for (const path of ["/%61pi/tasks", "/api/%74asks"]) {
    const res = await callJson(c.url, "GET", path);
    assertRefusal(res, 401, "unauthorized");
  }
  for (const path of ["//api/tasks", "/api//tasks", "/api/tasks/"]) {
    assert.notEqual((await callJson(c.url, "GET", path, undefined, REMOTE)).status, 200, path);
  }
  // Public routes answer anyone.
  assert.equal((await c.call("GET", "/health", undefined, REMOTE)).status, 200);
  assert.equal((await c.call("GET", "/donors", undefined, REMOTE)).status, 200);
  assert.equal((await c.call("GET", "/donors/some-donor", undefined, REMOTE)).status, 200);
  assert.equal((await c.call("GET", "/about", undefined, REMOTE)).status, 200);
  assert.deepEqual((await c.call("GET", "/whoami", undefined, REMOTE)).body, {
    role: "anonymous",
    enforced: true,
    localReadOnly: false,
    trustedWorker: false,
    console: { read: false, write: false },
  });
  // The document declares the bearer scheme.
  assert.deepEqual(doc.security, [{ bearer: [] }]);
  assert.equal(doc.components.securitySchemes.bearer.scheme, "bearer");
  assert.deepEqual(doc.paths["/health"].get.security, []);
});

Deno.test("the wrong role gets 403: a client on worker and dashboard routes, a worker on client routes", async () => {
  const { c, key, bearer } = await authCoordinator();
  await using _ = c;
  const client = bearer(await key("alice"));
  const worker = bearer(WORKER_TOKEN);
  const { client: clientRoutes, worker: workerRoutes, dashboard } = routes();
  for (const [m, p, b] of [...workerRoutes, ...dashboard]) {
    assertRefusal(await c.call(m, p, b, { ...client, ...REMOTE }), 403, "forbidden");
  }
  for (const [m, p, b] of [...clientRoutes, ...dashboard]) {
    assertRefusal(await c.call(m, p, b, { ...worker, ...REMOTE }), 403, "forbidden");
  }
  // The worker does its own work, and reads health.
  assert.equal((await c.call("GET", "/health", undefined, worker)).status, 200);
  assert.equal((await c.call("GET", "/whoami", undefined, worker)).body.role, "worker");
  const submitted = await c.call("POST", "/tasks", echo({ n: 1 }), client);
  const claimed = await c.call("POST", "/leases", { workerId: "w1", max: 1 }, worker);
  assert.equal(claimed.body.leases[0].taskId, submitted.body.id);
  const done = await c.call(
    "POST",
    `/tasks/${submitted.body.id}/complete`,
    { leaseId: claimed.body.leases[0].leaseId, result: { ok: 1 } },
    worker,
  );
  assert.equal(done.status, 200);
  // A refused token is 401, not 403, wherever it is sent.
  assertRefusal(await c.call("GET", "/tasks", undefined, bearer("tsk_wrong")), 401, "unauthorized");
  assertRefusal(
    await c.call("POST", "/leases", { workerId: "w" }, bearer("nope")),
    401,
    "unauthorized",
  );
  assertRefusal(await c.call("GET", "/whoami", undefined, bearer("nope")), 401, "unauthorized");
  assertRefusal(
    await c.call("GET", "/tasks", undefined, { authorization: "Basic YTpi" }),
    401,
    "unauthorized",
  );
});

Deno.test("another client's task is 404 on get, cancel, retry and await and absent from its list; admin sees all", async () => {
  const { c, key, bearer } = await authCoordinator();
  await using _ = c;
  const aliceKey = await key("alice");
  const alice = bearer(aliceKey);
  const bob = bearer(await key("bob"));
  const admin = bearer(await key("root", "admin"));
  const aliceId = (await c.call("GET", "/whoami", undefined, alice)).body.keyId;

  const mine = (await c.call("POST", "/tasks", { tasks: [echo({ a: 1 }), echo({ a: 2 })] }, alice))
    .body.tasks;
  assert.ok(mine.every((t: any) => t.owner === aliceId));
  const failed = (await c.call("POST", "/tasks", {
    type: "demo.sleep",
    params: { ms: 0, fail: "permanent" },
    maxAttempts: 1,
    queue: "failing",
  }, alice)).body;
  const bobs = (await c.call("POST", "/tasks", echo({ b: 1 }), bob)).body;
  const id = mine[0].id;
  const missing = "01NOSUCHTASK0000000000000X";

  for (const target of [id, missing]) {
    const get = await c.call("GET", `/tasks/${target}`, undefined, bob);
    assertRefusal(get, 404, "not_found");
    assert.equal(get.body.error.message, `no task ${target}`, "a foreign task reads as missing");
    assertRefusal(
      await c.call("POST", `/tasks/${target}/cancel`, undefined, bob),
      404,
      "not_found",
    );
    assertRefusal(await c.call("POST", `/tasks/${target}/retry`, undefined, bob), 404, "not_found");
  }
  // Waiting on someone else's task answers at once, as for an unknown id.
  let t0 = Date.now();
  assertRefusal(await c.call("GET", `/tasks/${id}?wait=5000`, undefined, bob), 404, "not_found");
  assert.ok(Date.now() - t0 < 2000);
  t0 = Date.now();
  const awaited = await c.call("POST", "/tasks/await", { ids: [bobs.id, id], waitMs: 5000 }, bob);
  assert.equal(awaited.status, 200);
  assert.equal(awaited.body.tasks[0].id, bobs.id);
  assert.equal(awaited.body.tasks[1], null);
  assert.ok(Date.now() - t0 < 2000, "await returned at once");

  const bobList = (await c.call("GET", "/tasks?limit=100", undefined, bob)).body.tasks;
  assert.deepEqual(bobList.map((t: any) => t.id), [bobs.id]);
  const aliceList = (await c.call("GET", "/tasks?limit=100", undefined, alice)).body.tasks;
  assert.deepEqual(
    aliceList.map((t: any) => t.id).sort(),
    [...mine.map((t: any) => t.id), failed.id].sort(),
  );
  const adminList = (await c.call("GET", "/tasks?limit=100", undefined, admin)).body.tasks;
  assert.equal(adminList.length, 4);

  // Fail alice's task for good: bob still cannot see it in the failed index, alice can retry it.
  const worker = bearer(WORKER_TOKEN);
  const [lease] = (await c.call("POST", "/leases", { workerId: "w", queues: ["failing"] }, worker))
    .body.leases;
  await c.call("POST", `/tasks/${failed.id}/fail`, {
    leaseId: lease.leaseId,
    error: { code: "handler", message: "no", retryable: false },
  }, worker);
  assert.deepEqual((await c.call("GET", "/tasks?status=failed", undefined, bob)).body.tasks, []);
  assert.equal(
    (await c.call("GET", "/tasks?status=failed", undefined, alice)).body.tasks.length,
    1,
  );
  assertRefusal(
    await c.call("POST", `/tasks/${failed.id}/retry`, undefined, bob),
    404,
    "not_found",
  );
  assert.equal((await c.call("POST", `/tasks/${failed.id}/retry`, undefined, alice)).status, 200);

  // The owner reads, waits, cancels; the admin reads and cancels anyone's.
  assert.equal((await c.call("GET", `/tasks/${id}`, undefined, alice)).status, 200);
  assert.equal((await c.call("GET", `/tasks/${bobs.id}`, undefined, admin)).status, 200);
  assert.equal(
    (await c.call("POST", `/tasks/${id}/cancel`, undefined, alice)).body.status,
    "cancelled",
  );
  assert.equal(
    (await c.call("POST", `/tasks/${bobs.id}/cancel`, undefined, admin)).body.status,
    "cancelled",
  );
  // The SDK carries the key.
  const { createClient } = await import("../shared/client.ts");
  const sdk = createClient({ baseUrl: c.api, token: aliceKey });
  assert.equal((await sdk.get(id)).status, "cancelled");
  await assert.rejects(sdk.get(bobs.id), (e: any) => e.status === 404);
});

Deno.test("idempotency keys are scoped per owner", async () => {
  const { c, key, bearer } = await authCoordinator();
  await using _ = c;
  const alice = bearer(await key("alice"));
  const bob = bearer(await key("bob"));
  const body = { ...echo({ x: 1 }), idempotencyKey: "order-42" };
  const a1 = await c.call("POST", "/tasks", body, alice);
  const b1 = await c.call("POST", "/tasks", body, bob);
  const a2 = await c.call("POST", "/tasks", body, alice);
  assert.deepEqual([a1.status, b1.status, a2.status], [201, 201, 200]);
  assert.notEqual(a1.body.id, b1.body.id);
  assert.equal(a2.body.id, a1.body.id);
});

Deno.test("a revoked key gets 401 at once", async () => {
  const { c, bearer } = await authCoordinator();
  await using _ = c;
  const { key, record } = await createApiKey(c.ctx.kv, { name: "temp", role: "admin" });
  assert.equal((await c.call("GET", "/tasks", undefined, bearer(key))).status, 200);
  await revokeApiKey(c.ctx.kv, record.id);
  assertRefusal(await c.call("GET", "/tasks", undefined, bearer(key)), 401, "unauthorized");
  assertRefusal(await c.call("GET", "/whoami", undefined, bearer(key)), 401, "unauthorized");
});

Deno.test("from localhost the dashboard reads without a key; a POST, a list or a proxied request does not", async () => {
  const { c, key, bearer } = await authCoordinator();
  await using _ = c;
  const task = (await c.call("POST", "/tasks", echo({ d: 1 }), bearer(await key("alice")))).body;
  for (const path of ["/stats", "/workers", `/tasks/${task.id}`]) {
    assert.equal((await c.call("GET", path)).status, 200, path);
    assertRefusal(await c.call("GET", path, undefined, REMOTE), 401, "unauthorized");
  }
  assertRefusal(await c.call("GET", "/workers/none/stats"), 404, "not_found");
  const who = await c.call("GET", "/whoami");
  assert.deepEqual(who.body, {
    role: "anonymous",
    enforced: true,
    localReadOnly: true,
    trustedWorker: false, // a worker token is configured: local alone is not enough
    console: { read: true, write: false },
  });
  const live = await fetch(`${c.api}/live`);
  assert.equal(live.status, 200);
  assert.match(live.headers.get("content-type") ?? "", /event-stream/);
  await live.body?.cancel();
  // Remote, an admin key reads it all; the live feed takes the key as ?token= (EventSource).
  const adminKey = await key("root", "admin");
  const remoteHeaders = { ...REMOTE, ...bearer(adminKey) };
  assert.equal((await c.call("GET", "/stats", undefined, remoteHeaders)).status, 200);
  const remoteLive = await fetch(`${c.api}/live?token=${adminKey}`, { headers: REMOTE });
  assert.equal(remoteLive.status, 200);
  await remoteLive.body?.cancel();
  assertRefusal(
    await c.call("GET", "/stats?token=" + adminKey, undefined, REMOTE),
    401,
    "unauthorized",
  );
  // Read-only: no writes, no listing, nothing else.
  assertRefusal(await c.call("POST", "/tasks", echo()), 401, "unauthorized");
  assertRefusal(await c.call("POST", `/tasks/${task.id}/cancel`), 401, "unauthorized");
  assertRefusal(await c.call("POST", "/tasks/await", { ids: [task.id] }), 401, "unauthorized");
  assertRefusal(await c.call("GET", "/tasks"), 401, "unauthorized");
  assert.equal((await c.call("GET", `/tasks/${task.id}`)).body.status, "pending");
});

Deno.test("route classes: the dashboard's files are public, its data is not; HEAD as GET; unknown API paths denied", () => {
  assert.equal(routeClass("GET", "/dashboard"), "public");
  assert.equal(routeClass("GET", "/dashboard/assets/app.js"), "public");
  assert.equal(routeClass("GET", "/api/live"), "dashboard");
  assert.equal(routeClass("POST", "/dashboard"), "admin");
  assert.equal(routeClass("HEAD", "/api/tasks"), "client");
  assert.equal(routeClass("GET", "/api/tasks/claim"), "client");
  assert.equal(routeClass("POST", "/api/tasks/claim"), "worker");
  assert.equal(routeClass("DELETE", "/api/tasks/x"), "admin");
  assert.equal(routeClass("GET", "/api/ws"), "public");
  assert.equal(routeClass("GET", "/"), "other");
});

Deno.test("--auth auto is open without keys and enforced once one exists, revoked or not; off never enforces", async () => {
  await using c = await testCoordinator({ auth: "auto" });
  assert.equal((await c.call("POST", "/tasks", echo())).status, 201);
  assert.equal((await c.call("GET", "/whoami")).body.enforced, false);
  const { record } = await createApiKey(c.ctx.kv, { name: "first", role: "client" });
  await eventually(async () => (await c.call("POST", "/tasks", echo())).status === 401, 3000);
  await revokeApiKey(c.ctx.kv, record.id);
  await sleep(1100);
  assertRefusal(await c.call("POST", "/tasks", echo()), 401, "unauthorized");

  await using off = await testCoordinator({ auth: "off", db: c.db });
  assert.equal((await off.call("POST", "/tasks", echo())).status, 201);
  assert.equal((await off.call("GET", "/stats", undefined, REMOTE)).status, 200);
});

/** A raw socket that records messages and its close. */
async function socket(url: string, token?: string) {
  const ws = new WebSocket(
    url.replace(/^http/, "ws") + "/api/ws" + (token ? `?token=${encodeURIComponent(token)}` : ""),
  );
  const inbox: any[] = [];
  ws.onmessage = (e) => inbox.push(JSON.parse(e.data));
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.onclose = (e) => r({ code: e.code, reason: e.reason })
  );
  await new Promise((r, j) => {
    ws.onopen = r;
    ws.onerror = j;
  });
  const send = (m: unknown) => ws.send(JSON.stringify(m));
  return { ws, inbox, closed, send };
}

Deno.test("sockets: a token decides the kinds; anonymous ones are limited per address (close 4002)", async () => {
  const { c, key } = await authCoordinator({ maxSocketsPerAddress: 3 });
  await using _ = c;
  const hello = (kind: string, id: string) => ({ type: "hello", workerId: id, kind, slots: 0 });
  // Kind deno needs the worker token (or an admin key); a refused token closes at once.
  const anon = await socket(c.url);
  anon.send(hello("deno", "d1"));
  assert.equal((await anon.closed).code, 4001);
  const clientKey = await socket(c.url, await key("alice"));
  clientKey.send(hello("deno", "d2"));
  assert.equal((await clientKey.closed).code, 4001);
  const wrong = await socket(c.url, "wrong-token");
  assert.equal((await wrong.closed).code, 4001);
  const worker = await socket(c.url, WORKER_TOKEN);
  worker.send(hello("deno", "d3"));
  await eventually(() => worker.inbox.some((m) => m.type === "welcome"));
  const admin = await socket(c.url, await key("root", "admin"));
  admin.send(hello("other", "d4"));
  await eventually(() => admin.inbox.some((m) => m.type === "welcome"));

  // Three anonymous volunteers from 127.0.0.1; the fourth is refused; token holders are not.
  const volunteers = [];
  for (let i = 0; i < 3; i++) {
    const s = await socket(c.url);
    s.send(hello("browser", `b${i}`));
    await eventually(() => s.inbox.some((m) => m.type === "welcome"));
    volunteers.push(s);
  }
  const extra = await socket(c.url);
  const refused = await extra.closed;
  assert.equal(refused.code, 4002);
  assert.match(refused.reason, /too many sockets/);
  const worker2 = await socket(c.url, WORKER_TOKEN);
  worker2.send(hello("deno", "d5"));
  await eventually(() => worker2.inbox.some((m) => m.type === "welcome"));
  // A slot frees when one closes.
  volunteers[0].ws.close();
  await volunteers[0].closed;
  await eventually(() => c.hub.anonymousFrom("127.0.0.1") === 2);
  const again = await socket(c.url);
  again.send(hello("browser", "b9"));
  await eventually(() => again.inbox.some((m) => m.type === "welcome"));
  for (const s of [worker, admin, worker2, again, ...volunteers.slice(1)]) {
    s.ws.close();
    await s.closed;
  }
});

Deno.test("sockets: an anonymous sender over its message rate gets an error, then close 4003", async () => {
  const { c } = await authCoordinator({ socketMessageRate: 5 });
  await using _ = c;
  const s = await socket(c.url);
  s.send({ type: "hello", workerId: "flood", kind: "browser", slots: 0 });
  for (let i = 0; i < 40; i++) s.send({ type: "credit", slots: 0 });
  const closed = await s.closed;
  assert.equal(closed.code, 4003);
  const error = s.inbox.find((m) => m.type === "error");
  assert.equal(error?.code, "rate_limited");
  assert.match(error.message, /5 messages per second/);
  // The worker token is not held to it.
  const w = await socket(c.url, WORKER_TOKEN);
  w.send({ type: "hello", workerId: "busy", kind: "deno", slots: 0 });
  for (let i = 0; i < 40; i++) w.send({ type: "credit", slots: 0 });
  await sleep(300);
  assert.ok(!w.inbox.some((m) => m.type === "error"), JSON.stringify(w.inbox));
  w.ws.close();
  assert.equal((await w.closed).code, 1005);
});

Deno.test("--rate-limit: over it a key gets 429 rate_limited with Retry-After; other keys are unaffected", async () => {
  const { c, key, bearer } = await authCoordinator({ rateLimit: 5 });
  await using _ = c;
  const alice = bearer(await key("alice"));
  const bob = bearer(await key("bob"));
  const statuses: number[] = [];
  let limited: Response | null = null;
  for (let i = 0; i < 30; i++) {
    const res = await fetch(`${c.api}/tasks?limit=1`, { headers: alice });
    statuses.push(res.status);
    if (res.status === 429 && !limited) {
      limited = res;
      const body = await res.json();
      assert.equal(body.error.code, "rate_limited");
    } else await res.body?.cancel();
  }
  assert.ok(statuses.filter((s) => s === 200).length >= 5, statuses.join(","));
  assert.ok(limited, `never limited: ${statuses.join(",")}`);
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  assert.equal((await c.call("GET", "/tasks?limit=1", undefined, bob)).status, 200);
  // Anonymous callers are limited per address, with the same shape.
  let anon = 0;
  for (let i = 0; i < 30; i++) anon = (await c.call("GET", "/health")).status;
  assert.equal(anon, 429);
});
