import assert from "node:assert/strict";
import {
  encodedSize,
  freshSizeBound,
  KV_OP_BYTES,
  KV_VALUE_BYTES,
  sizeBound,
} from "../coordinator/store/encoded_size.ts";
import { resultPartKey } from "../coordinator/store/keys.ts";
import { LIMITS } from "../shared/protocol.ts";
import { testCoordinator } from "./_helpers.ts";

/** `n` floats: 4 bytes of JSON each ("0.5,"), 9 bytes of KV's encoding. */
const floats = (n: number) => Array.from({ length: n }, () => 0.5);
/** demo.echo params of exactly 16,007 bytes of JSON, ~36 KB encoded. */
const bigParams = { v: floats(4000) };
/** The largest float array within the result limit: 32,765 bytes of JSON, 73,7xx encoded. */
const bigResult = floats(8191);

Deno.test("encodedSize() is the size KV counts: 65,536 is the largest value it takes", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    // A string of n ASCII characters encodes to n + 6 bytes.
    const fits = "a".repeat(KV_VALUE_BYTES - 6);
    assert.equal(encodedSize(fits), KV_VALUE_BYTES);
    await kv.set(["v"], fits);
    await assert.rejects(() => kv.set(["v"], fits + "a"), /Value too large/);
    assert.ok(encodedSize(bigResult) > KV_VALUE_BYTES, "the float result is over as one value");
    await assert.rejects(() => kv.set(["v"], bigResult), /Value too large/);
    // An operation: values plus each key twice; ["k", i] encodes to 12 bytes.
    const each = (KV_OP_BYTES - 20 * 2 * 12) / 20;
    const op = () => {
      const a = kv.atomic();
      for (let i = 0; i < 20; i++) a.set(["k", i], new Uint8Array(each));
      return a;
    };
    await op().commit();
    await assert.rejects(() => op().set(["x"], 0).commit(), /Total mutation size too large/);
  } finally {
    kv.close();
  }
});

Deno.test("sizeBound() never undercounts the encoding of its worst shapes, fresh or read back from KV", async () => {
  const shapes: unknown[] = [
    floats(3000),
    Array.from({ length: 500 }, () => [0.5]),
    Array.from({ length: 250 }, () => JSON.parse("[".repeat(30) + "0.5" + "]".repeat(30))),
    JSON.parse("[".repeat(64) + "]".repeat(64)),
    "a".repeat(10_000) + "€",
    Array.from({ length: 900 }, () => [[]]),
    Array.from({ length: 900 }, () => 1),
    { v: floats(4000) },
    0.5,
  ];
  const kv = await Deno.openKv(":memory:");
  try {
    for (const v of shapes) {
      // Read back, arrays encode sparsely (each element with its index): larger than fresh.
      await kv.set(["v"], v);
      const back = (await kv.get(["v"])).value;
      for (const x of [v, back]) {
        assert.ok(sizeBound(x) >= encodedSize(x), JSON.stringify(x).slice(0, 40));
      }
      // Fresh from JSON (as a request's params are), arrays are packed.
      const fresh = JSON.parse(JSON.stringify(v));
      assert.ok(freshSizeBound(fresh) >= encodedSize(fresh), JSON.stringify(v).slice(0, 40));
    }
  } finally {
    kv.close();
  }
});

Deno.test("36 tasks of 16,007-byte float params (within the params limit) submit as one batch", async () => {
  await using c = await testCoordinator();
  assert.equal(JSON.stringify(bigParams).length, 16_007);
  assert.ok(JSON.stringify(bigParams).length <= LIMITS.paramsBytes);
  const res = await c.call("POST", "/tasks", {
    tasks: Array.from({ length: 36 }, (_, i) => ({
      type: "demo.echo",
      params: bigParams,
      idempotencyKey: `big-${i}`,
    })),
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.tasks.length, 36);
  const leases = (await c.call("POST", "/leases", { workerId: "w", max: 100 })).body.leases;
  assert.equal(leases.length, 36);
});

Deno.test("a task with the largest params completes with the largest float result, and reads back whole", async () => {
  await using c = await testCoordinator();
  assert.ok(JSON.stringify(bigResult).length <= LIMITS.resultBytes);
  const sub = await c.call("POST", "/tasks", {
    tasks: [0, 1].map(() => ({ type: "demo.echo", params: bigParams })),
  });
  assert.equal(sub.status, 201);
  const [a, b] = (await c.call("POST", "/leases", { workerId: "w", max: 2 })).body.leases;
  const one = await c.call("POST", `/tasks/${a.taskId}/complete`, {
    leaseId: a.leaseId,
    result: bigResult,
  });
  assert.equal(one.status, 200, JSON.stringify(one.body));
  assert.deepEqual(one.body.result, bigResult);
  const many = await c.call("POST", "/leases/report", {
    items: [{ taskId: b.taskId, leaseId: b.leaseId, result: bigResult }],
  });
  assert.equal(many.status, 200, JSON.stringify(many.body));
  for (const id of [a.taskId, b.taskId]) {
    const got = await c.call("GET", `/tasks/${id}`);
    assert.equal(got.body.status, "completed");
    assert.deepEqual(got.body.result, bigResult);
    assert.equal(got.body.resultParts, undefined, "internal fields stay internal");
    // The result sits in a key of its own: the record alone would be over the value limit.
    assert.ok((await c.ctx.kv.get(resultPartKey(id, 0))).value instanceof Uint8Array);
  }
  const listed = await c.call("GET", "/tasks?status=completed");
  assert.equal(listed.body.tasks.length, 2);
  for (const t of listed.body.tasks) assert.deepEqual(t.result, bigResult);
  // A repeated report answers with the task as it is, result included.
  const again = await c.call("POST", `/tasks/${a.taskId}/complete`, {
    leaseId: a.leaseId,
    result: bigResult,
  });
  assert.equal(again.status, 200);
  assert.deepEqual(again.body.result, bigResult);
});

Deno.test("a quorum task whose replicas agree on the largest float result completes", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  const sub = await c.call("POST", "/tasks", {
    type: "demo.echo",
    params: bigParams,
    verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2, adaptive: false },
  });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));
  for (const w of ["w1", "w2"]) {
    const [l] = (await c.call("POST", "/leases", { workerId: w, kind: "browser", max: 1 })).body
      .leases;
    const r = await c.call("POST", `/tasks/${l.taskId}/complete`, {
      leaseId: l.leaseId,
      result: bigResult,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  const got = (await c.call("GET", `/tasks/${sub.body.id}`)).body;
  assert.equal(got.status, "completed");
  assert.deepEqual(got.agreement, { agreed: 2, of: 2 });
  assert.deepEqual(got.result, bigResult);
});

Deno.test("a task with the costliest params keeps failing with the longest errors, and every report is taken", async () => {
  await using c = await testCoordinator();
  // Nested arrays are KV's worst case per byte of JSON (2.5×): ~40 KB encoded, within 16 KiB.
  const nest = () => JSON.parse("[".repeat(30) + "0.5" + "]".repeat(30));
  const params = { v: Array.from({ length: 255 }, nest) };
  assert.ok(JSON.stringify(params).length <= LIMITS.paramsBytes);
  assert.ok(encodedSize(params) > 40_000);
  const sub = await c.call("POST", "/tasks", {
    type: "demo.echo",
    params,
    maxAttempts: 30,
    backoffMs: 0,
  });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));
  // Two-byte characters cost KV twice what they cost JSON.
  const workerId = "€".repeat(200);
  const message = "€".repeat(LIMITS.errorMessageChars);
  for (let i = 0; i < 25; i++) {
    const [l] = (await c.call("POST", "/leases", { workerId, max: 1, waitMs: 2000 })).body.leases;
    assert.ok(l, `attempt ${i + 1} was claimable`);
    const r = await c.call("POST", `/tasks/${l.taskId}/fail`, {
      leaseId: l.leaseId,
      error: { code: "handler", message, retryable: true },
    });
    assert.equal(r.status, 200, `attempt ${i + 1}: ${JSON.stringify(r.body).slice(0, 200)}`);
  }
  const got = (await c.call("GET", `/tasks/${sub.body.id}`)).body;
  assert.equal(got.attempts, 25);
  assert.ok(got.history.length >= 1);
  assert.equal(got.history.at(-1).attempt, 25, "the latest attempts are the ones kept");
});

Deno.test("300 quorum tasks of 3 replicas in a queue with the longest name submit as one batch", async () => {
  await using c = await testCoordinator({ spotChecks: "off" });
  // 4 mutations a task (1,200 > KV's 1,000 per commit), ~530 bytes of keys (> its 80 KiB).
  const queue = "q".repeat(100);
  const res = await c.call("POST", "/tasks", {
    tasks: Array.from({ length: 300 }, (_, i) => ({
      type: "demo.echo",
      queue,
      params: { i },
      verification: { mode: "quorum", replicas: 3, agree: 2, maxReplicas: 3 },
    })),
  });
  assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));
  const leases = (await c.call("POST", "/leases", { workerId: "w", max: 100, queues: [queue] }))
    .body.leases;
  assert.equal(leases.length, 100);
});
