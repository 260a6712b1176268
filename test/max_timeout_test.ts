/** Each task type caps how long a client may make a volunteer's CPU work on one task. */
import assert from "node:assert/strict";
import { loadAllHandlers } from "../handlers/mod.ts";
import { DEFAULT_MAX_TIMEOUT_MS } from "../handlers/contract.ts";
import { testCoordinator } from "./_helpers.ts";

Deno.test("POST /tasks refuses a timeoutMs above the type's maxTimeoutMs, naming the field", async () => {
  await using c = await testCoordinator();
  const handlers = await loadAllHandlers();
  const max = handlers.get("demo.sleep")!.maxTimeoutMs!;
  assert.ok(max <= 120_000, `demo.sleep caps at ${max} ms`);
  const over = await c.call("POST", "/tasks", {
    type: "demo.sleep",
    params: { ms: 10 },
    timeoutMs: max + 1,
  });
  assert.equal(over.status, 400, JSON.stringify(over.body));
  assert.equal(over.body.error.code, "validation");
  assert.equal(over.body.error.field, "timeoutMs");
  assert.match(over.body.error.message, new RegExp(`${max}`));

  const batch = await c.call("POST", "/tasks", {
    tasks: [
      { type: "demo.echo", params: {} },
      { type: "text.wordcount", params: { text: "a" }, timeoutMs: 24 * 3600_000 },
    ],
  });
  assert.equal(batch.status, 400);
  assert.equal(batch.body.error.field, "tasks.1.timeoutMs");

  const at = await c.call("POST", "/tasks", {
    type: "demo.sleep",
    params: { ms: 10 },
    timeoutMs: max,
  });
  assert.equal(at.status, 201);
  const dflt = await c.call("POST", "/tasks", { type: "demo.sleep", params: { ms: 10 } });
  assert.ok(dflt.body.timeoutMs <= max, "the type's default timeout is within its cap");
});

Deno.test("demo.sleep cannot be asked to burn a donor's CPU for ten minutes", async () => {
  await using c = await testCoordinator();
  const res = await c.call("POST", "/tasks", {
    type: "demo.sleep",
    params: { cpu: true, ms: 600_000 },
  });
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error.field, "params.ms");
});

Deno.test("every handler's default timeout is within its maxTimeoutMs", async () => {
  for (const [type, h] of await loadAllHandlers()) {
    const max = h.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS;
    assert.ok((h.timeoutMs ?? 60_000) <= max, `${type}: ${h.timeoutMs} > ${max}`);
    assert.ok(max <= 600_000, `${type} caps at ${max} ms`);
  }
});
