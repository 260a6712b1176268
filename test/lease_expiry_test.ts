/**
 * Lease expiry across processes: the coordinator that granted a lease expires it on time from
 * memory, and any coordinator on the store finds the leases no live process remembers (granted
 * before a restart, or by one that died) by scanning the leases.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually, sleep, testCoordinator } from "./_helpers.ts";

const SCAN = { leaseScanMs: 300 };

async function submitShortLease(c: Awaited<ReturnType<typeof testCoordinator>>): Promise<string> {
  const res = await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: {},
    leaseMs: 1000,
    backoffMs: 0,
  });
  assert.equal(res.status, 201);
  return res.body.id;
}

Deno.test("a lease granted before a restart expires on the restarted coordinator", async () => {
  await using first = await testCoordinator(SCAN);
  const id = await submitShortLease(first);
  const [lease] = (await first.call("POST", "/leases", { workerId: "gone" })).body.leases;
  assert.equal(lease.taskId, id);
  await first.close();
  await using second = await testCoordinator({ ...SCAN, db: first.db });
  const back = await eventually(async () => {
    const t = (await second.call("GET", `/tasks/${id}`)).body;
    return t.status === "pending" ? t : null;
  }, 5000);
  assert.equal(back.history[0].outcome, "expired");
  const late = Date.now() - lease.expiresAt;
  assert.ok(late < 1500, `requeued ${late} ms after expiry`);
});

Deno.test("a lease whose coordinator stopped expires on another coordinator on the same store", async () => {
  await using a = await testCoordinator(SCAN);
  await using b = await testCoordinator({ ...SCAN, db: a.db });
  const id = await submitShortLease(a);
  const [lease] = (await a.call("POST", "/leases", { workerId: "orphan" })).body.leases;
  assert.equal(lease.taskId, id);
  await a.close();
  const back = await eventually(async () => {
    const t = (await b.call("GET", `/tasks/${id}`)).body;
    return t.status === "pending" ? t : null;
  }, 5000);
  assert.equal(back.history[0].outcome, "expired");
});

Deno.test("a lease kept alive through another coordinator does not expire on the one that granted it", async () => {
  await using a = await testCoordinator(SCAN);
  await using b = await testCoordinator({ ...SCAN, db: a.db });
  const id = await submitShortLease(a);
  const [lease] = (await a.call("POST", "/leases", { workerId: "mover" })).body.leases;
  // Three lease lengths, extended through B only.
  for (let i = 0; i < 10; i++) {
    await sleep(300);
    const hb = await b.call("POST", `/tasks/${id}/heartbeat`, { leaseId: lease.leaseId });
    assert.equal(hb.status, 200, JSON.stringify(hb.body));
  }
  assert.equal((await a.call("GET", `/tasks/${id}`)).body.status, "processing");
  const done = await b.call("POST", `/tasks/${id}/complete`, {
    leaseId: lease.leaseId,
    result: { ok: true },
  });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  const t = (await a.call("GET", `/tasks/${id}`)).body;
  assert.equal(t.status, "completed");
  assert.equal(t.attempts, 1);
  assert.deepEqual(t.history.map((h: { outcome: string }) => h.outcome), ["completed"]);
});

Deno.test("a lease extended here expires at its new time, not its first one", async () => {
  await using c = await testCoordinator(SCAN);
  const id = await submitShortLease(c);
  const [lease] = (await c.call("POST", "/leases", { workerId: "late" })).body.leases;
  await sleep(700);
  const hb = await c.call("POST", `/tasks/${id}/heartbeat`, { leaseId: lease.leaseId });
  assert.equal(hb.status, 200);
  await sleep(700); // past the first expiry, before the new one
  assert.equal((await c.call("GET", `/tasks/${id}`)).body.status, "processing");
  await eventually(async () => {
    const t = (await c.call("GET", `/tasks/${id}`)).body;
    return t.status === "pending" ? t : null;
  }, 4000);
  const late = Date.now() - hb.body.expiresAt;
  assert.ok(late >= 0 && late < 1000, `requeued ${late} ms after the extended expiry`);
});
