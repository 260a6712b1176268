/**
 * Coordinators sharing one KV file behave as one: what happens on one is heard on the others
 * within a poll interval, not a lease period.
 */
import assert from "node:assert/strict";
import { callJson, testCoordinator } from "./_helpers.ts";
import { connectSocket } from "./_socket.ts";

Deno.test("a cancel through coordinator A is pushed to the socket holder on coordinator B", async () => {
  await using a = await testCoordinator();
  await using b = await testCoordinator({ db: a.db });
  const s = await connectSocket(b.url);
  try {
    s.send({ type: "hello", workerId: "holder-b", kind: "deno", slots: 1 });
    const sub = await a.call("POST", "/tasks", { type: "demo.echo", params: { x: 1 } });
    const lease = await s.next((m) => m.type === "lease");
    assert.equal(lease.lease.taskId, sub.body.id);
    const t0 = performance.now();
    const res = await a.call("POST", `/tasks/${sub.body.id}/cancel`);
    assert.equal(res.body.status, "cancelled");
    const cancel = await s.next((m) => m.type === "cancel", 2000);
    const lag = performance.now() - t0;
    assert.equal(cancel.leaseId, lease.lease.leaseId);
    console.log(`  cancel heard on B after ${lag.toFixed(1)} ms`);
    assert.ok(lag < 500, `cancel took ${lag} ms`);
  } finally {
    await s.close();
  }
});

Deno.test("a long-poll on coordinator A answers when coordinator B completes the task", async () => {
  await using a = await testCoordinator();
  await using b = await testCoordinator({ db: a.db });
  // A hears of B at its next presence refresh (each second); until then its long-polls fall back
  // to their own re-read each second.
  await new Promise((r) => setTimeout(r, 1200));
  const lags: number[] = [];
  for (let i = 0; i < 5; i++) {
    const sub = await a.call("POST", "/tasks", { type: "demo.echo", params: { i } });
    const waiting = callJson(a.api, "GET", `/tasks/${sub.body.id}?wait=5000`)
      .then((r) => ({ r, at: performance.now() }));
    const claim = await b.call("POST", "/leases", { workerId: "w", max: 1, waitMs: 1000 });
    const l = claim.body.leases[0];
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    await b.call("POST", `/tasks/${l.taskId}/complete`, { leaseId: l.leaseId, result: { i } });
    const { r, at } = await waiting;
    assert.equal(r.body.status, "completed");
    assert.deepEqual(r.body.result, { i });
    lags.push(at - t0);
  }
  lags.sort((x, y) => x - y);
  console.log(
    `  long-poll on A after completion on B: median ${lags[2].toFixed(1)} ms, max ${
      lags[4].toFixed(1)
    } ms`,
  );
  assert.ok(lags[4] < 400, `slowest ${lags[4]} ms`);
});

Deno.test("the live feed of coordinator A shows tasks that coordinator B ended", async () => {
  await using a = await testCoordinator();
  await using b = await testCoordinator({ db: a.db });
  const res = await fetch(`${a.api}/live`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const seen = new Set<string>();
  let text = "";
  const reading = (async () => {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      text += value;
      for (const m of text.matchAll(/event: task\ndata: (.*)\n/g)) seen.add(JSON.parse(m[1]).id);
    }
  })();
  try {
    const sub = await b.call("POST", "/tasks", {
      tasks: [1, 2, 3].map((i) => ({ type: "demo.echo", params: { i } })),
    });
    const ids: string[] = sub.body.tasks.map((t: { id: string }) => t.id);
    const claim = await b.call("POST", "/leases", { workerId: "w-b", max: 3, waitMs: 1000 });
    for (const l of claim.body.leases) {
      await b.call("POST", `/tasks/${l.taskId}/complete`, { leaseId: l.leaseId, result: {} });
    }
    const deadline = Date.now() + 5000;
    while (!ids.every((id) => seen.has(id)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      ids.filter((id) => !seen.has(id)),
      [],
      "tasks ended on B missing from A's feed",
    );
  } finally {
    await reader.cancel();
    await reading.catch(() => {});
  }
});
