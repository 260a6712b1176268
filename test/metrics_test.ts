/**
 * `GET /metrics` against a real coordinator, read with an independent Prometheus text parser
 * (parse-prometheus-text-format), not with prom-client's own registry.
 */
import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { createApiKey } from "../coordinator/auth/api_keys.ts";
import { eventually, testCoordinator } from "./_helpers.ts";

interface Family {
  name: string;
  type: string;
  help: string;
  metrics: Array<{
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }>;
}

async function scrape(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/metrics`, { headers });
  const text = await res.text();
  return { res, text };
}

function families(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  for (const f of parsePrometheusTextFormat(text) as Family[]) {
    const seen = out.get(f.name);
    if (seen) seen.metrics.push(...f.metrics);
    else out.set(f.name, f);
  }
  return out;
}

/**
 * The same parser on the text with histograms declared untyped: it folds a histogram's
 * labelled series into one (it was written for unlabelled ones), so each `_bucket`, `_sum` and
 * `_count` series is read as a family of its own (met again for each label set: merged),
 * labels intact.
 */
function histogramSeries(text: string): Map<string, Family> {
  return families(text.replace(/^# TYPE (\S+) histogram$/gm, "# TYPE $1 untyped"));
}

/** The value of one sample whose labels include `labels`; throws when there is none. */
function value(fams: Map<string, Family>, name: string, labels: Record<string, string> = {}) {
  const fam = fams.get(name);
  assert.ok(fam, `metric ${name} is exposed`);
  const m = fam.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  assert.ok(m, `${name} has a sample with ${JSON.stringify(labels)}`);
  return Number(m.value ?? m.count);
}

const echo = (i: number, extra: Record<string, unknown> = {}) => ({
  type: "demo.echo",
  params: { i },
  verification: { mode: "none" },
  ...extra,
});

Deno.test("GET /metrics: task counts, histograms, expiries, retries, committer, sockets and memory, parsed by an independent parser", async () => {
  await using c = await testCoordinator();
  // Four completed; one failed once (retryable) and then completed; one expired, pending again.
  const sub = await c.call("POST", "/tasks", { tasks: [0, 1, 2, 3].map((i) => echo(i)) });
  assert.equal(sub.status, 201);
  const claimed = await c.call("POST", "/leases", { workerId: "w1", kind: "deno", max: 4 });
  assert.equal(claimed.body.leases.length, 4);
  for (const l of claimed.body.leases) {
    const done = await c.call("POST", `/tasks/${l.taskId}/complete`, {
      leaseId: l.leaseId,
      result: { ok: true },
    });
    assert.equal(done.status, 200);
  }
  const flaky = (await c.call("POST", "/tasks", echo(10, { backoffMs: 0 }))).body;
  const [f1] = (await c.call("POST", "/leases", { workerId: "w1", kind: "deno" })).body.leases;
  await c.call("POST", `/tasks/${flaky.id}/fail`, {
    leaseId: f1.leaseId,
    error: { code: "handler", message: "flaky", retryable: true },
  });
  const [f2] = (await c.call("POST", "/leases", { workerId: "w1", kind: "deno", waitMs: 2000 }))
    .body.leases;
  assert.equal(f2.taskId, flaky.id);
  await c.call("POST", `/tasks/${flaky.id}/complete`, { leaseId: f2.leaseId, result: 1 });
  const sleepy = (await c.call("POST", "/tasks", echo(11, { leaseMs: 1000, backoffMs: 0 }))).body;
  await eventually(async () => {
    const [l] = (await c.call("POST", "/leases", { workerId: "w2", kind: "other" })).body.leases;
    return l;
  });
  await eventually(
    async () => (await c.call("GET", `/tasks/${sleepy.id}`)).body.history.length === 1,
    4000,
  );

  // A socket that said hello as a browser volunteer.
  const ws = new WebSocket(c.url.replace(/^http/, "ws") + "/api/ws");
  await new Promise((r) => ws.addEventListener("open", r, { once: true }));
  ws.send(JSON.stringify({ type: "hello", workerId: "sock-1", kind: "browser", slots: 0 }));
  await new Promise((r) => ws.addEventListener("message", r, { once: true }));

  const { res, text } = await scrape(c.url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const fams = families(text);

  // Fleet-wide, from the KV counters.
  assert.equal(
    value(fams, "tessera_tasks", { type: "demo.echo", queue: "default", status: "completed" }),
    5,
  );
  assert.equal(
    value(fams, "tessera_tasks", { type: "demo.echo", queue: "default", status: "pending" }),
    1,
  );
  assert.equal(fams.get("tessera_tasks")!.type, "GAUGE");
  assert.ok(value(fams, "tessera_tasks_per_second", { kind: "submitted" }) >= 0);
  assert.equal(value(fams, "tessera_workers_online", { kind: "deno" }), 1);
  assert.equal(value(fams, "tessera_workers_online", { kind: "other" }), 1);

  // This process: histograms.
  assert.equal(fams.get("tessera_claim_duration_seconds")!.type, "HISTOGRAM");
  const h = histogramSeries(text);
  assert.equal(
    value(h, "tessera_claim_duration_seconds_count", { kind: "deno" }),
    3,
    "three claims by deno workers got work",
  );
  assert.equal(value(h, "tessera_claim_duration_seconds_bucket", { kind: "deno", le: "+Inf" }), 3);
  assert.equal(value(fams, "tessera_leases_granted_total", { kind: "deno" }), 6);
  assert.equal(value(h, "tessera_queue_wait_seconds_count", { type: "demo.echo" }), 5);
  assert.equal(value(h, "tessera_run_duration_seconds_count", { outcome: "completed" }), 5);
  assert.ok(value(h, "tessera_run_duration_seconds_sum", { outcome: "completed" }) >= 0);
  assert.equal(value(h, "tessera_run_duration_seconds_count", { outcome: "expired" }), 1);

  // Outcomes, expiries, retries.
  assert.equal(value(fams, "tessera_attempts_ended_total", { outcome: "completed" }), 5);
  assert.equal(value(fams, "tessera_attempts_ended_total", { outcome: "failed" }), 1);
  assert.equal(value(fams, "tessera_lease_expiries_total", { type: "demo.echo" }), 1);
  assert.equal(value(fams, "tessera_retries_total", { reason: "failed" }), 1);
  assert.equal(value(fams, "tessera_retries_total", { reason: "expired" }), 1);
  assert.equal(value(fams, "tessera_tasks_ended_total", { status: "completed" }), 5);

  // Sockets, committer, process.
  assert.equal(value(fams, "tessera_sockets", { kind: "browser" }), 1);
  assert.equal(fams.get("tessera_committer_commits_total")!.type, "COUNTER");
  assert.ok(value(fams, "tessera_committer_commits_total") > 0);
  assert.ok(value(fams, "tessera_committer_intents_total") >= 10);
  assert.equal(value(fams, "tessera_committer_conflicts_total"), 0);
  assert.ok(value(fams, "process_resident_memory_bytes") > 10_000_000);
  assert.ok(value(fams, "nodejs_heap_size_used_bytes") > 0);
  assert.equal(value(fams, "tessera_coordinator_info", { pid: String(Deno.pid) }), 1);
  for (const line of text.split("\n")) {
    assert.doesNotMatch(line, /\bNan\b|undefined/, `no malformed value: ${line}`);
  }
  ws.close();
});

Deno.test("GET /metrics: an admin key anywhere, read-only without a token from this machine, 401 through a proxy, 403 for a client key", async () => {
  await using c = await testCoordinator({ auth: "on" });
  const { key: admin } = await createApiKey(c.ctx.kv, { name: "ops", role: "admin" });
  const { key: clientKey } = await createApiKey(c.ctx.kv, { name: "app", role: "client" });
  assert.equal((await scrape(c.url, { authorization: `Bearer ${admin}` })).res.status, 200);
  assert.equal((await scrape(c.url)).res.status, 200, "loopback, no proxy header");
  const proxied = await scrape(c.url, { "x-forwarded-for": "203.0.113.9" });
  assert.equal(proxied.res.status, 401);
  assert.equal(JSON.parse(proxied.text).error.field, "authorization");
  assert.equal((await scrape(c.url, { authorization: `Bearer ${clientKey}` })).res.status, 403);
  const post = await fetch(`${c.url}/metrics`, { method: "POST" });
  await post.body?.cancel();
  assert.notEqual(post.status, 200);
});
