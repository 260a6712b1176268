import assert from "node:assert/strict";
import { TransportError } from "../shared/worker/transport.ts";
import { createWsTransport } from "../shared/worker/ws_transport.ts";
import { eventually, sleep, testCoordinator } from "./_helpers.ts";

Deno.test("createWsTransport claims pushed leases, heartbeats and completes over one socket", async () => {
  await using c = await testCoordinator();
  const statuses: string[] = [];
  const t = createWsTransport({
    url: c.url,
    workerId: "ws-t",
    kind: "deno",
    capacity: 2,
    onStatus: (s) => statuses.push(s),
  });
  try {
    assert.deepEqual((await t.health()).types.includes("demo.echo"), true);
    await c.call("POST", "/tasks", {
      tasks: [1, 2, 3].map((i) => ({ type: "demo.echo", params: { i } })),
    });
    const first = await t.claim({ max: 5, waitMs: 3000 });
    await eventually(async () => {
      if (first.length < 2) first.push(...await t.claim({ max: 2 - first.length, waitMs: 500 }));
      return first.length === 2;
    });
    assert.equal(t.roundTripMs, null, "no reply yet");
    const hb = await t.heartbeat(first[0].taskId, first[0].leaseId, 0.5);
    assert.equal(hb.ok, true);
    // What the worker's prefetch is sized by: a reply's time, measured.
    assert.ok(
      t.roundTripMs !== null && t.roundTripMs > 0 && t.roundTripMs < 5000,
      `${t.roundTripMs}`,
    );
    assert.deepEqual(await t.complete(first[0].taskId, first[0].leaseId, { ok: 1 }), {
      ok: true,
    });
    const again = await t.complete(first[0].taskId, first[0].leaseId, { ok: 1 });
    assert.equal(again.ok, false, "the socket no longer holds it");
    const third = await t.claim({ max: 1, waitMs: 3000 });
    assert.equal(third.length, 1);
    assert.deepEqual(
      await t.fail(third[0].taskId, third[0].leaseId, {
        code: "validation",
        message: "no",
        retryable: false,
      }),
      { ok: true },
    );
    assert.deepEqual(await t.release(first[1].taskId, first[1].leaseId), { ok: true });
    assert.ok(statuses.includes("open"));
  } finally {
    t.close();
    await sleep(50);
  }
});

Deno.test("createWsTransport reconnects after a coordinator restart and loses nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-ws-restart-" });
  const db = `${dir}/tessera.sqlite`;
  let c = await testCoordinator({ db });
  const port = c.port;
  const t = createWsTransport({ url: c.url, workerId: "survivor", kind: "deno", capacity: 1 });
  try {
    await eventually(() => t.connected);
    const submitted =
      (await c.call("POST", "/tasks", { type: "demo.echo", params: { n: 1 } })).body;
    await c.close();
    await eventually(() => !t.connected);
    c = await testCoordinator({ db, port });
    await eventually(() => t.connected, 10_000);
    const leases = await t.claim({ max: 1, waitMs: 5000 });
    assert.equal(
      leases[0]?.taskId,
      submitted.id,
      "the task submitted before the restart is served after it",
    );
    assert.deepEqual(await t.complete(leases[0].taskId, leases[0].leaseId, "ok"), { ok: true });
    assert.equal((await c.call("GET", `/tasks/${submitted.id}`)).body.status, "completed");
  } finally {
    t.close();
    await c.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createWsTransport treats a socket refused with 4001 as final: calls fail as unauthorized, no reconnect loop", async () => {
  await using c = await testCoordinator({ auth: "on" });
  const statuses: string[] = [];
  const t = createWsTransport({
    url: c.url,
    workerId: "no-token",
    kind: "deno",
    capacity: 1,
    onStatus: (s) => statuses.push(s),
  });
  try {
    const error = await t.claim({ max: 1, waitMs: 5_000 }).then(() => null, (e) => e);
    assert.ok(error instanceof TransportError, String(error));
    assert.equal(error.kind, "unauthorized");
    assert.match(error.message, /worker token is required/);
    await sleep(1_000);
    assert.deepEqual(statuses, ["connecting", "closed"], "it does not reconnect");
    const again = await t.heartbeat("t", "l").then(() => null, (e) => e);
    assert.equal(again?.kind, "unauthorized");
  } finally {
    t.close();
  }
});
