// deno-lint-ignore-file no-explicit-any -- JSON bodies in tests
/**
 * Who may do what, decided by the connection and the token, never by what a caller says about
 * itself: protected mode (no keys: only this machine submits and administers), and which workers
 * are trusted (a worker token, or loopback with no token configured).
 *
 * A caller from another address is real: the coordinator listens on 0.0.0.0 and the test
 * connects to this machine's own non-loopback address, so the peer address the coordinator sees
 * is that address. Where the machine has none, those tests are reported as ignored; the proxy
 * header and Host cases run everywhere and go through the same decision.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createApiKey } from "../coordinator/auth/api_keys.ts";
import { keysCli } from "../coordinator/keys_cli.ts";
import { apiKeyRoleKey } from "../coordinator/store/keys.ts";
import { spawnWorker } from "./_worker_helpers.ts";
import { callJson, eventually, testCoordinator } from "./_helpers.ts";
import { connectSocket, OTHER_ADDRESS, rawHttp } from "./_socket.ts";

const noOther = OTHER_ADDRESS === undefined;

/** A coordinator on every interface, and callers from loopback and from the other address. */
async function everywhere(overrides: Parameters<typeof testCoordinator>[0] = {}) {
  const c = await testCoordinator({ hostname: "0.0.0.0", ...overrides });
  const localUrl = `http://127.0.0.1:${c.port}`;
  const remoteUrl = `http://${OTHER_ADDRESS}:${c.port}`;
  const local = (method: string, path: string, body?: unknown, headers = {}) =>
    callJson(`${localUrl}/api`, method, path, body, headers);
  const remote = (method: string, path: string, body?: unknown, headers = {}) =>
    callJson(`${remoteUrl}/api`, method, path, body, headers);
  return { c, local, remote, localUrl, remoteUrl };
}

function assertRefusal(res: { status: number; body: any }, status: number, code: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body?.error?.code, code, JSON.stringify(res.body));
  assert.equal(res.body.error.field, "authorization");
}

const echo = { type: "demo.echo", params: { x: 1 } };
const primes = { type: "primes.count", params: { from: 0, to: 100 } };
const PRIMES_RESULT = { from: 0, to: 100, count: 25 };

Deno.test({
  name:
    "protected mode: without keys a remote caller may not submit, read or administer (403 naming deno task keys); this machine may",
  ignore: noOther,
  async fn() {
    const { c, local, remote } = await everywhere();
    await using _ = c;
    const task = await local("POST", "/tasks", echo);
    assert.equal(task.status, 201);
    const id = task.body.id;
    for (
      const [method, path, body] of [
        ["POST", "/tasks", echo],
        ["GET", "/tasks"],
        ["GET", `/tasks/${id}`],
        ["POST", "/tasks/await", { ids: [id], waitMs: 0 }],
        ["POST", `/tasks/${id}/cancel`],
        ["GET", "/stats"],
        ["GET", "/workers"],
        ["GET", "/live"],
        ["GET", "/nothing-here"],
      ] as Array<[string, string, unknown?]>
    ) {
      const res = await remote(method, path, body);
      assertRefusal(res, 403, "forbidden");
      assert.match(res.body.error.message, /deno task keys create/, path);
    }
    // Public routes and volunteering still work from anywhere.
    assert.equal((await remote("GET", "/health")).status, 200);
    assert.equal((await remote("GET", "/donors")).status, 200);
    const who = await remote("GET", "/whoami");
    assert.equal(who.status, 200);
    assert.equal(who.body.enforced, false);
    assert.equal(who.body.trustedWorker, false);
    assert.equal((await local("GET", "/whoami")).body.trustedWorker, true);
    const claim = await remote("POST", "/leases", { workerId: "volunteer", kind: "other" });
    assert.equal(claim.status, 200, JSON.stringify(claim.body));
    // This machine does everything.
    assert.equal((await local("GET", `/tasks/${id}`)).status, 200);
    assert.equal((await local("GET", "/stats")).status, 200);
    assert.equal((await local("POST", `/tasks/${id}/cancel`)).status, 200);
  },
});

Deno.test("protected mode: a loopback request with a proxy header, a foreign Host or a foreign Origin is not local; --auth off opens it all", async () => {
  await using c = await testCoordinator();
  assert.equal((await c.call("POST", "/tasks", echo)).status, 201);
  const submit = (headers: Record<string, string>) =>
    rawHttp(c.port, "POST", "/api/tasks", headers, JSON.stringify(echo));
  assert.equal((await submit({ host: `localhost:${c.port}` })).status, 201);
  assert.equal((await submit({ host: `127.0.0.1:${c.port}` })).status, 201);
  for (
    const headers of [
      { "x-forwarded-for": "203.0.113.9" } as Record<string, string>,
      { forwarded: "for=203.0.113.9" },
      { "x-real-ip": "203.0.113.9" },
      { origin: "http://evil.example" },
    ]
  ) {
    const res = await c.call("POST", "/tasks", echo, headers);
    assertRefusal(res, 403, "forbidden");
    assert.match(res.body.error.message, /deno task keys create/);
    assertRefusal(await c.call("GET", "/stats", undefined, headers), 403, "forbidden");
  }
  // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1.
  const rebound = await submit({ host: `evil.example:${c.port}` });
  assert.equal(rebound.status, 403, rebound.text);
  assert.match(rebound.text, /deno task keys create/);

  await using off = await testCoordinator({ auth: "off", db: c.db });
  const proxied = { "x-forwarded-for": "203.0.113.9" };
  assert.equal((await off.call("POST", "/tasks", echo, proxied)).status, 201);
  assert.equal((await off.call("GET", "/stats", undefined, proxied)).status, 200);
});

Deno.test({
  name:
    "a worker that says kind other from another address is untrusted: spot checks, and its result alone never completes a quorum",
  ignore: noOther,
  async fn() {
    const { c, local, remote } = await everywhere();
    await using _ = c;
    const task = (await local("POST", "/tasks", primes)).body;
    assert.equal(task.verification.mode, "quorum");
    const leases =
      (await remote("POST", "/leases", { workerId: "stranger", kind: "other", max: 5 }))
        .body.leases;
    const spot = leases.find((l: any) => l.taskId !== task.id);
    assert.ok(spot, `a known-answer spot check comes first: ${JSON.stringify(leases)}`);
    assert.equal(spot.task.verification.mode, "none");
    let replica = leases.find((l: any) => l.taskId === task.id);
    if (!replica) {
      replica = (await remote("POST", "/leases", { workerId: "stranger", kind: "other" })).body
        .leases.find((l: any) => l.taskId === task.id);
    }
    assert.ok(replica, "it still gets work");
    const after = await remote("POST", "/leases/report", {
      items: [{ taskId: task.id, leaseId: replica.leaseId, result: PRIMES_RESULT }],
    });
    assert.equal(after.body.outcomes[0].ok, true);
    const open = (await local("GET", `/tasks/${task.id}`)).body;
    assert.notEqual(open.status, "completed", "one untrusted vote is not enough");
    assert.equal(open.votes.length, 1);
    // The operator's own worker, on this machine, settles it.
    const [mine] =
      (await local("POST", "/leases", { workerId: "mine", kind: "other" })).body.leases;
    assert.equal(mine.taskId, task.id);
    const done = await local("POST", `/tasks/${task.id}/complete`, {
      leaseId: mine.leaseId,
      result: PRIMES_RESULT,
    });
    assert.equal(done.body.status, "completed");
    assert.deepEqual(done.body.agreement, { agreed: 2, of: 2 });
  },
});

Deno.test({
  name:
    "a socket that says kind deno from another address without a token is held to the volunteer limits and spot-checked",
  ignore: noOther,
  async fn() {
    const { c, remoteUrl } = await everywhere();
    await using _ = c;
    const s = await connectSocket(remoteUrl);
    s.send({ type: "hello", workerId: "stranger-ws", kind: "deno", slots: 1 });
    await s.next((m) => m.type === "welcome");
    assert.equal(c.hub.anonymousFrom(OTHER_ADDRESS!), 1, "still counted as anonymous");
    // No task was submitted: the only work it can get is a spot check.
    const lease = await s.next((m) => m.type === "lease", 3000);
    assert.equal(lease.lease.task.verification.mode, "none");
    assert.equal((await c.call("GET", `/tasks/${lease.lease.taskId}`)).body.status, "processing");
    await s.close();
  },
});

Deno.test("worker.ts on this machine with no token configured is trusted: verified task types complete with that one worker", async () => {
  await using c = await testCoordinator();
  const ids = (await c.call("POST", "/tasks", {
    tasks: [0, 1, 2].map((i) => ({
      type: "primes.count",
      params: { from: i * 100, to: i * 100 + 100 },
    })),
  })).body.tasks.map((t: any) => t.id);
  const w = spawnWorker(["--coordinator", c.url, "--concurrency", "1", "--nice", "0"]);
  try {
    const done = await eventually(async () => {
      const tasks = await Promise.all(
        ids.map(async (id: string) => (await c.call("GET", `/tasks/${id}`)).body),
      );
      return tasks.every((t) => t.status === "completed") ? tasks : null;
    }, 20_000);
    assert.deepEqual(done![0].agreement, { agreed: 1, of: 1 });
    assert.equal(done![0].verification.mode, "quorum");
  } finally {
    w.kill("SIGKILL");
    await w.status;
  }
});

Deno.test({
  name:
    "worker keys: deno task keys create --role worker makes a token a remote worker is trusted with; none or revoked is 401; clients stay protected",
  ignore: noOther,
  async fn() {
    const { c, local, remote } = await everywhere({ workerToken: "the-flag-token" });
    await using _ = c;
    const out: string[] = [];
    const code = await keysCli(
      ["create", "--name", "box-7", "--role", "worker", "--json", "--db", c.db],
      {},
      (l) => out.push(l),
      (l) => out.push(l),
    );
    assert.equal(code, 0, out.join("\n"));
    const made = JSON.parse(out[0]);
    assert.equal(made.role, "worker");
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

    // Worker keys do not switch on client keys: this machine still submits without one.
    const task = await local("POST", "/tasks", primes);
    assert.equal(task.status, 201, JSON.stringify(task.body));
    assertRefusal(await remote("POST", "/tasks", echo), 403, "forbidden");
    assertRefusal(await remote("POST", "/tasks", echo, bearer(made.key)), 403, "forbidden");

    // A worker token is configured now: no token is 401, from here too.
    assertRefusal(await remote("POST", "/leases", { workerId: "x" }), 401, "unauthorized");
    assertRefusal(await local("POST", "/leases", { workerId: "x" }), 401, "unauthorized");

    const who = await remote("GET", "/whoami", undefined, bearer(made.key));
    assert.equal(who.body.role, "worker");
    assert.equal(who.body.trustedWorker, true);
    const claimed = await remote(
      "POST",
      "/leases",
      { workerId: "box-7", kind: "deno" },
      bearer(made.key),
    );
    const [l] = claimed.body.leases;
    assert.equal(l.taskId, task.body.id, "trusted: no spot check first");
    const done = await remote("POST", `/tasks/${l.taskId}/complete`, {
      leaseId: l.leaseId,
      result: PRIMES_RESULT,
    }, bearer(made.key));
    assert.equal(done.body.status, "completed", "a trusted worker's result alone is accepted");

    // The --worker-token flag is still one more worker token.
    const flag = await remote("POST", "/leases", { workerId: "f" }, bearer("the-flag-token"));
    assert.equal(flag.status, 200);

    assert.equal(await keysCli(["revoke", made.id, "--db", c.db], {}, () => {}, () => {}), 0);
    assertRefusal(
      await remote("POST", "/leases", { workerId: "box-7" }, bearer(made.key)),
      401,
      "unauthorized",
    );
  },
});

Deno.test("a worker key is refused on client routes once keys are enforced, and a client key on worker routes", async () => {
  await using c = await testCoordinator({ auth: "on" });
  const worker = (await createApiKey(c.ctx.kv, { name: "w", role: "worker" })).key;
  const { key: client } = await createApiKey(c.ctx.kv, { name: "c", role: "client" });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  assertRefusal(await c.call("POST", "/tasks", echo, bearer(worker)), 403, "forbidden");
  assertRefusal(
    await c.call("POST", "/leases", { workerId: "w" }, bearer(client)),
    403,
    "forbidden",
  );
  assert.equal((await c.call("POST", "/leases", { workerId: "w" }, bearer(worker))).status, 200);
  const s = await connectSocket(c.url, worker);
  s.send({ type: "hello", workerId: "w-ws", kind: "deno", slots: 0 });
  await s.next((m) => m.type === "welcome");
  await s.close();
});

Deno.test("a key store from before role markers is still enforced: the first look scans every key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-old-keys-" });
  const db = `${dir}/kv.sqlite`;
  try {
    const kv = await Deno.openKv(db);
    const { key } = await createApiKey(kv, { name: "old", role: "client" });
    await kv.delete(apiKeyRoleKey("client"));
    kv.close();
    await using c = await testCoordinator({ db });
    assertRefusal(await c.call("POST", "/tasks", echo), 401, "unauthorized");
    const mine = { authorization: `Bearer ${key}` };
    assert.equal((await c.call("POST", "/tasks", echo, mine)).status, 201);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
