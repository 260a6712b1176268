import assert from "node:assert/strict";
import { testCoordinator } from "./_helpers.ts";

Deno.test("POST /api/tasks refuses bad input with 400 naming the field, and writes nothing", async () => {
  await using c = await testCoordinator();
  const cases: Array<[unknown, string, string]> = [
    [{ params: {} }, "type", "validation"],
    [{ type: "nodots" }, "type", "validation"],
    [{ type: "no.such", params: {} }, "type", "unknown_type"],
    [{ type: "primes.count", params: { from: 10, to: "x" } }, "params.to", "validation"],
    [
      { type: "primes.count", params: { from: 0, to: 10 }, priority: 1.5 },
      "priority",
      "validation",
    ],
    [
      { type: "primes.count", params: { from: 0, to: 10 }, maxAttempts: 0 },
      "maxAttempts",
      "validation",
    ],
    [{ type: "primes.count", params: { from: 0, to: 10 }, queue: "" }, "queue", "validation"],
    [{ type: "demo.echo", params: { big: "x".repeat(20_000) } }, "params", "validation"],
    [
      {
        tasks: [{ type: "demo.echo", params: {} }, {
          type: "primes.count",
          params: { from: -1, to: 5 },
        }],
      },
      "tasks.1.params.from",
      "validation",
    ],
    [{ tasks: [] }, "tasks", "validation"],
  ];
  for (const [body, field, code] of cases) {
    const res = await c.call("POST", "/tasks", body);
    assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
    assert.equal(res.body.error.code, code, JSON.stringify(res.body));
    assert.equal(res.body.error.field, field, JSON.stringify(res.body));
    assert.equal(typeof res.body.error.message, "string");
  }
  const list = await c.call("GET", "/tasks");
  assert.equal(list.body.tasks.length, 0, "no refused submission left a task behind");
});

Deno.test("POST /api/tasks answers invalid JSON with 400 invalid_json", async () => {
  await using c = await testCoordinator();
  const res = await c.call("POST", "/tasks", "{not json");
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, "invalid_json");
  assert.equal(res.body.error.field, "body");
});

Deno.test("an oversized body gets 413 with the error shape", async () => {
  await using c = await testCoordinator({ maxBodyBytes: 64 * 1024 });
  const tasks = Array.from(
    { length: 10 },
    () => ({ type: "demo.echo", params: { s: "x".repeat(10_000) } }),
  );
  const res = await c.call("POST", "/tasks", { tasks });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.code, "payload_too_large");
  assert.equal((await c.call("GET", "/tasks")).body.tasks.length, 0);
});

Deno.test("worker calls with bad bodies or unknown ids get 4xx, never 500", async () => {
  await using c = await testCoordinator();
  const probes: Array<[string, string, unknown, number]> = [
    ["POST", "/leases", {}, 400],
    ["POST", "/leases", { workerId: "w", max: 1000 }, 400],
    ["POST", "/leases", { workerId: "w", waitMs: 60_000 }, 400],
    ["POST", "/tasks/claim", {}, 400],
    ["POST", "/tasks/nope/complete", { leaseId: "x", result: 1 }, 404],
    ["POST", "/tasks/nope/fail", { leaseId: "x", error: "boom" }, 404],
    ["POST", "/tasks/nope/heartbeat", { leaseId: "x" }, 404],
    ["POST", "/tasks/nope/heartbeat", {}, 400],
    ["POST", "/tasks/nope/cancel", undefined, 404],
    ["GET", "/tasks/nope", undefined, 404],
    ["GET", "/tasks?limit=0", undefined, 400],
    ["GET", "/tasks?status=weird", undefined, 400],
    ["POST", "/leases/report", { items: [{ taskId: "a" }] }, 400],
    ["GET", "/no/such/route", undefined, 404],
  ];
  for (const [method, path, body, status] of probes) {
    const res = await c.call(method, path, body);
    assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.equal(typeof res.body.error.code, "string");
  }
  const field = await c.call("POST", "/leases", { workerId: "w", max: 1000 });
  assert.equal(field.body.error.field, "max");
});

Deno.test("GET /api/openapi.json documents the API from the zod schemas", async () => {
  await using c = await testCoordinator();
  const res = await c.call("GET", "/openapi.json");
  assert.equal(res.status, 200);
  for (
    const p of [
      "/tasks",
      "/tasks/{id}",
      "/tasks/claim",
      "/leases",
      "/tasks/{id}/complete",
      "/stats",
    ]
  ) {
    assert.ok(res.body.paths[p], `documents ${p}`);
  }
  const submit = res.body.paths["/tasks"].post.requestBody.content["application/json"].schema;
  assert.ok(JSON.stringify(submit).includes("idempotencyKey"));
});
