/**
 * Bad input at the HTTP edge gets a 4xx with the error shape, never a 500: cursors past the end
 * of the key space, broken WebSocket handshakes, truncated bodies, wrong content types; and the
 * idempotency, repeated-report and OpenAPI contracts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { REPO_ROOT, sleep, testCoordinator } from "./_helpers.ts";
import { rawExchange } from "./_socket.ts";

/** A raw request's status and JSON body. */
async function rawHttp(
  port: number,
  request: string,
  options: { halfClose?: boolean } = {},
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any }> {
  const { status, body } = await rawExchange(port, request, options);
  return { status, body: body ? JSON.parse(body) : null };
}

Deno.test("GET /api/tasks with a cursor beyond U+FFFF answers 200, for every listing", async () => {
  await using c = await testCoordinator();
  await c.call("POST", "/tasks", { type: "demo.echo", params: {} });
  for (const cursor of ["%F0%9F%98%80", "%EF%BF%BF", "%F4%8F%BF%BF"]) {
    for (
      const filter of ["", "&status=processing", "&status=failed", "&status=pending", "&queue=q"]
    ) {
      const res = await c.call("GET", `/tasks?cursor=${cursor}${filter}`);
      assert.equal(res.status, 200, `${cursor}${filter}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(res.body, { tasks: [], cursor: null });
    }
  }
});

const UPGRADE =
  "GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
const KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

Deno.test("a broken WebSocket handshake gets 400 naming the header, never 500", async () => {
  await using c = await testCoordinator();
  const cases: Array<[string, string]> = [
    [`${UPGRADE}Connection: Upgrade\r\n\r\n`, "sec-websocket-key"],
    [`${UPGRADE}Connection: Upgrade\r\nSec-WebSocket-Key: short\r\n\r\n`, "sec-websocket-key"],
    [`${UPGRADE}${KEY}\r\n`, "connection"],
    [`${UPGRADE}Connection: keep-alive\r\n${KEY}\r\n`, "connection"],
  ];
  for (const [request, field] of cases) {
    const res = await rawHttp(c.port, request);
    assert.equal(res.status, 400, request);
    assert.equal(res.body.error.code, "bad_request", request);
    assert.equal(res.body.error.field, field, request);
  }
});

Deno.test("a WebSocket asking for subprotocols is upgraded without one", async () => {
  await using c = await testCoordinator();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.port });
  await conn.write(
    new TextEncoder().encode(
      `${UPGRADE}Connection: Upgrade\r\n${KEY}Sec-WebSocket-Protocol: a,b\r\n\r\n`,
    ),
  );
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf);
  conn.close();
  const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
  assert.match(head, /^HTTP\/1\.1 101/);
  assert.doesNotMatch(head, /sec-websocket-protocol/i);
  const ws = new WebSocket(`${c.url.replace("http", "ws")}/api/ws`, ["a", "b"]);
  const outcome = await new Promise<string>((resolve) => {
    ws.onopen = () => resolve("open");
    ws.onerror = () => resolve("error");
  });
  // The browser side refuses a server that picked none of its subprotocols: no crash either way.
  assert.ok(outcome === "open" || outcome === "error");
  if (ws.readyState === WebSocket.OPEN) ws.close();
  const health = await c.call("GET", "/health");
  assert.equal(health.status, 200);
});

Deno.test("a body shorter than its Content-Length gets 400 bad_request on field body", async () => {
  await using c = await testCoordinator();
  for (const type of ["", "Content-Type: application/json\r\n"]) {
    for (const path of ["/api/tasks", "/api/leases", "/api/tasks/x/complete"]) {
      const res = await rawHttp(
        c.port,
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${type}Content-Length: 100\r\n\r\n{"type"`,
        { halfClose: true },
      );
      assert.equal(res.status, 400, `${path} ${type}`);
      assert.ok(["bad_request", "invalid_json"].includes(res.body.error.code), path);
      assert.equal(res.body.error.field, "body", path);
    }
  }
  const res = await rawHttp(
    c.port,
    'POST /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"typ',
    { halfClose: true },
  );
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, "body");
  assert.equal((await c.call("GET", "/health")).status, 200);
});

Deno.test("a body that is not JSON by its content type gets 415 unsupported_media_type", async () => {
  await using c = await testCoordinator();
  for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]) {
    const res = await fetch(`${c.api}/tasks`, {
      method: "POST",
      headers: { "content-type": type },
      body: JSON.stringify({ type: "demo.echo" }),
    });
    assert.equal(res.status, 415, type);
    const body = await res.json();
    assert.equal(body.error.code, "unsupported_media_type");
    assert.equal(body.error.field, "content-type");
  }
  const none = await fetch(`${c.api}/leases`, { method: "POST", body: "{}" });
  assert.equal(none.status, 415);
  assert.equal((await none.json()).error.field, "content-type");
});

Deno.test("a JSON body that is not an object names the field body", async () => {
  await using c = await testCoordinator();
  for (const body of ["null", "[]", "1", '"x"']) {
    const res = await c.call("POST", "/tasks", body);
    assert.equal(res.status, 400, body);
    assert.equal(res.body.error.code, "validation");
    assert.equal(res.body.error.field, "body", body);
  }
});

Deno.test("idempotency keys that are not well-formed UTF-16 are refused", async () => {
  await using c = await testCoordinator();
  for (const key of ["K\ud800", "K\udbff", "\udc00K", "a\ud83d"]) {
    const res = await c.call("POST", "/tasks", {
      type: "demo.echo",
      params: { key },
      idempotencyKey: key,
    });
    assert.equal(res.status, 400, JSON.stringify(key));
    assert.equal(res.body.error.code, "validation");
    assert.equal(res.body.error.field, "idempotencyKey");
  }
  const batch = await c.call("POST", "/tasks", {
    tasks: [{ type: "demo.echo", idempotencyKey: "ok" }, {
      type: "demo.echo",
      idempotencyKey: "K\ud800",
    }],
  });
  assert.equal(batch.body.error.field, "tasks.1.idempotencyKey");
  const ok = await c.call("POST", "/tasks", { type: "demo.echo", idempotencyKey: "K😀" });
  assert.equal(ok.status, 201);
  assert.equal((await c.call("GET", "/tasks")).body.tasks.length, 1);
});

Deno.test("reusing an idempotency key with different params answers 409 idempotency_conflict", async () => {
  await using c = await testCoordinator();
  const first = await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: { a: 1, b: [1, 2] },
    idempotencyKey: "k1",
  });
  assert.equal(first.status, 201);
  const same = await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: { b: [1, 2], a: 1 },
    idempotencyKey: "k1",
  });
  assert.equal(same.status, 200, "the same params in another key order are the same request");
  assert.equal(same.body.id, first.body.id);
  const differing: Array<Record<string, unknown>> = [
    { type: "demo.echo", params: { a: 2, b: [1, 2] } },
    { type: "demo.sleep", params: { ms: 1 } },
    { type: "demo.echo", params: { a: 1, b: [1, 2] }, maxAttempts: 7 },
    { type: "demo.echo", params: { a: 1, b: [1, 2] }, queue: "other" },
    { type: "demo.echo", params: { a: 1, b: [1, 2] }, priority: 5 },
  ];
  for (const body of differing) {
    const res = await c.call("POST", "/tasks", { ...body, idempotencyKey: "k1" });
    assert.equal(res.status, 409, JSON.stringify(body));
    assert.equal(res.body.error.code, "idempotency_conflict");
    assert.equal(res.body.error.field, "idempotencyKey");
  }
  const batch = await c.call("POST", "/tasks", {
    tasks: [{ type: "demo.echo", params: {} }, {
      type: "demo.echo",
      params: { a: 3 },
      idempotencyKey: "k1",
    }],
  });
  assert.equal(batch.status, 409);
  assert.equal(batch.body.error.field, "tasks.1.idempotencyKey");
  const twice = await c.call("POST", "/tasks", {
    tasks: [{ type: "demo.echo", params: { x: 1 }, idempotencyKey: "k2" }, {
      type: "demo.echo",
      params: { x: 2 },
      idempotencyKey: "k2",
    }],
  });
  assert.equal(twice.status, 409, "one key with two params in one request");
  assert.equal(twice.body.error.field, "tasks.1.idempotencyKey");
  const all = await c.call("GET", "/tasks");
  assert.equal(all.body.tasks.length, 1, "no refused request wrote a task");
  assert.deepEqual(all.body.tasks[0].params, { a: 1, b: [1, 2] });
});

Deno.test("repeating an accepted completion with a different result answers 409 conflict", async () => {
  await using c = await testCoordinator();
  const task = (await c.call("POST", "/tasks", { type: "demo.echo", params: {} })).body;
  const [lease] = (await c.call("POST", "/leases", { workerId: "w" })).body.leases;
  const done = await c.call("POST", `/tasks/${task.id}/complete`, {
    leaseId: lease.leaseId,
    result: { n: 1, m: 2 },
  });
  assert.equal(done.status, 200);
  const again = await c.call("POST", `/tasks/${task.id}/complete`, {
    leaseId: lease.leaseId,
    result: { m: 2, n: 1 },
  });
  assert.equal(again.status, 200, "the same result again is idempotent");
  const other = await c.call("POST", `/tasks/${task.id}/complete`, {
    leaseId: lease.leaseId,
    result: { n: 2 },
  });
  assert.equal(other.status, 409);
  assert.equal(other.body.error.code, "conflict");
  assert.equal(other.body.error.field, "result");
  const report = await c.call("POST", "/leases/report", {
    items: [{ taskId: task.id, leaseId: lease.leaseId, result: { n: 3 } }],
  });
  assert.deepEqual(report.body.outcomes, [{ taskId: task.id, ok: false, code: "conflict" }]);
  const read = await c.call("GET", `/tasks/${task.id}`);
  assert.deepEqual(read.body.result, { n: 1, m: 2 }, "the first result stays");
});

Deno.test("GET /api/openapi.json has the /api server, the socket and live routes, and every refusal", async () => {
  await using c = await testCoordinator();
  const doc = (await c.call("GET", "/openapi.json")).body;
  assert.equal(doc.servers?.[0]?.url, "/api");
  assert.ok(doc.paths["/ws"]?.get, "documents /ws");
  assert.ok(doc.paths["/live"]?.get, "documents /live");
  for (const [path, method] of [["/leases", "post"], ["/leases/report", "post"]] as const) {
    const codes = Object.keys(doc.paths[path][method].responses);
    for (const code of ["200", "400", "401", "403", "409", "413", "415", "429"]) {
      assert.ok(codes.includes(code), `${path} documents ${code}: ${codes}`);
    }
  }
  const submit = Object.keys(doc.paths["/tasks"].post.responses);
  for (const code of ["409", "413", "415"]) assert.ok(submit.includes(code), `/tasks ${code}`);
});

Deno.test("--db with a KV Connect URL creates no folder", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "tessera-db-url-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        "--config",
        `${REPO_ROOT}deno.json`,
        `${REPO_ROOT}coordinator/main.ts`,
        ...["--port", "0", "--hostname", "127.0.0.1", "--db", "http://127.0.0.1:9/kv"],
      ],
      cwd,
      env: { DENO_KV_ACCESS_TOKEN: "x" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await Promise.race([child.status, sleep(4000)]);
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    const entries = await Array.fromAsync(Deno.readDir(cwd));
    assert.deepEqual(entries.map((e) => e.name), []);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("a long-poll claim whose client went away takes no task (the body is read up front)", async () => {
  await using c = await testCoordinator();
  const gone = new AbortController();
  const polling = fetch(`${c.api}/leases`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ workerId: "gone", waitMs: 10_000 }),
    signal: gone.signal,
  }).catch(() => null);
  await sleep(200);
  gone.abort();
  await polling;
  await sleep(100);
  await c.call("POST", "/tasks", { type: "demo.echo", params: {} });
  const claim = await c.call("POST", "/leases", { workerId: "here", waitMs: 2000 });
  assert.equal(claim.body.leases.length, 1, "the task went to the live claimer");
});
