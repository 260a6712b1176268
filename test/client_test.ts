// deno-lint-ignore-file no-explicit-any -- JSON bodies in tests
import assert from "node:assert/strict";
import { createClient, TaskFailedError } from "../shared/client.ts";
import { runInTestWorker, testCoordinator } from "./_helpers.ts";

/** A minimal in-test worker over the lease API that runs the real handlers. */
const runWorker = (api: string, signal: AbortSignal) =>
  runInTestWorker(api, signal, { workerId: "sdk-test", max: 20 });

Deno.test("client.submit and client.wait resolve with the result", async () => {
  await using c = await testCoordinator();
  const stop = new AbortController();
  const worker = runWorker(c.api, stop.signal);
  const tessera = createClient({ baseUrl: c.api });
  const task = await tessera.submit("primes.count", { from: 0, to: 100 });
  assert.equal(task.status, "pending");
  assert.deepEqual(await tessera.wait(task.id), { from: 0, to: 100, count: 25 });
  assert.equal((await tessera.get(task.id)).status, "completed");
  stop.abort();
  await worker;
});

Deno.test("client.map returns results in input order and reports progress", async () => {
  await using c = await testCoordinator();
  const stop = new AbortController();
  const worker = runWorker(c.api, stop.signal);
  const tessera = createClient({ baseUrl: c.api });
  const ranges = Array.from({ length: 50 }, (_, i) => ({ from: i * 100, to: (i + 1) * 100 }));
  const seen: number[] = [];
  const results = await tessera.map<{ from: number; count: number }>("primes.count", ranges, {
    onProgress: (p) => seen.push(p.done),
  });
  assert.deepEqual(results.map((r) => r.from), ranges.map((r) => r.from));
  assert.equal(results.reduce((a, r) => a + r.count, 0), 669, "pi(5000) = 669");
  assert.equal(seen.at(-1), 50);
  assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]), "progress only grows");
  stop.abort();
  await worker;
});

Deno.test("client.wait rejects with TaskFailedError carrying the task's error", async () => {
  await using c = await testCoordinator();
  const tessera = createClient({ baseUrl: c.api });
  const task = await tessera.submit("demo.echo", {});
  await tessera.cancel(task.id);
  await assert.rejects(
    () => tessera.wait(task.id),
    (e) => e instanceof TaskFailedError && e.task.status === "cancelled",
  );
  await assert.rejects(
    () => tessera.submit("primes.count", { from: 5, to: 1 }),
    (e: any) => e.status === 400 && e.field?.startsWith("params"),
  );
});

Deno.test("createClient with several coordinators fails over when one goes away, without duplicates", async () => {
  const a = await testCoordinator();
  const b = await testCoordinator({ db: a.db });
  const tessera = createClient({ baseUrl: [a.api, b.api] });
  const stop = new AbortController();
  const worker = runInTestWorker(b.api, stop.signal);
  try {
    const first = await tessera.submit("demo.echo", { n: 1 });
    assert.ok(first.idempotencyKey, "failover submissions carry a key");
    await a.close();
    // A is gone: the next calls land on B, and the results come back.
    const second = await tessera.submit("demo.echo", { n: 2 });
    assert.deepEqual(await tessera.wait(first.id, { timeoutMs: 10_000 }), { n: 1 });
    assert.deepEqual(await tessera.wait(second.id, { timeoutMs: 10_000 }), { n: 2 });
    const all = await tessera.list({ limit: 100 });
    assert.equal(all.tasks.length, 2);
  } finally {
    stop.abort();
    await worker;
    await b.close();
    await Deno.remove(a.dir, { recursive: true });
  }
});
