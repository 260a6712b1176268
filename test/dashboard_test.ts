// deno-lint-ignore-file no-explicit-any -- JSON bodies in tests
/**
 * The live dashboard end to end: the built page and the SSE feed over HTTP, then the page in
 * real Chromium against a real coordinator fed by in-test workers that run the real handlers.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { buildApps } from "../coordinator/build_apps.ts";
import { hasChromium, withBrowser } from "./_browser.ts";
import { callJson, REPO_ROOT, runInTestWorker, sleep, testCoordinator } from "./_helpers.ts";

const ARTIFACTS = `${REPO_ROOT}test/artifacts`;

// The coordinator serves builds, never makes them: build what is missing or stale first.
await buildApps();

/** A worker over the lease API that runs the real handlers, as `kind`. */
const runWorker = (api: string, workerId: string, kind: "deno" | "browser", signal: AbortSignal) =>
  runInTestWorker(api, signal, { workerId, kind });

/** Keeps a trickle of work coming so the throughput never drops to zero during the test. */
function runSubmitter(api: string, signal: AbortSignal) {
  return (async () => {
    for (let round = 0; !signal.aborted; round++) {
      const tasks: unknown[] = Array.from({ length: 12 }, (_, i) => ({
        type: "primes.count",
        params: { from: (round * 12 + i) * 20_000, to: (round * 12 + i + 1) * 20_000 },
      }));
      if (round % 8 === 0) {
        tasks.push({
          type: "demo.sleep",
          params: { ms: 1, fail: "permanent" },
          maxAttempts: 1,
        });
      }
      const res = await callJson(api, "POST", "/tasks", { tasks });
      if (res.status !== 201) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
      await sleep(200);
    }
  })();
}

/** Reads an SSE response until `count` events have arrived (or `match` says stop). */
async function readEvents(
  res: Response,
  match: (events: { event: string; data: any }[]) => boolean,
): Promise<{ event: string; data: any }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { event: string; data: any }[] = [];
  let buffer = "";
  try {
    while (!match(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = block.match(/^event: (.*)$/m)?.[1];
        const data = block.match(/^data: (.*)$/m)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
    }
  } finally {
    await reader.cancel();
  }
  return events;
}

/** Page-side expression for an element's dataset (the test itself has no DOM types). */
const dataset = (testid: string) => `document.querySelector('[data-testid="${testid}"]')?.dataset`;

const testidValue = (page: Page, id: string) =>
  page.locator(`[data-testid="${id}"]`).getAttribute("data-value").then(Number);

Deno.test("GET /dashboard/ serves the built page, and its assets under /dashboard/", async () => {
  await using c = await testCoordinator();
  const redirect = await fetch(`${c.url}/dashboard`, { redirect: "manual" });
  await redirect.body?.cancel();
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get("location"), "/dashboard/");

  const res = await fetch(`${c.url}/dashboard/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/html/);
  const html = await res.text();
  assert.match(html, /<div id="app"><\/div>/);
  const script = html.match(/src="(\/dashboard\/assets\/[^"]+\.js)"/)?.[1];
  assert.ok(script, "the page loads its script from /dashboard/assets/");
  const js = await fetch(`${c.url}${script}`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type")!, /javascript/);
  assert.match(js.headers.get("cache-control")!, /immutable/);
  await js.body?.cancel();

  const missing = await fetch(`${c.url}/dashboard/assets/nope.js`);
  await missing.body?.cancel();
  assert.equal(missing.status, 404);
  const sneaky = await fetch(`${c.url}/dashboard/%2e%2e/deno.json`);
  await sneaky.body?.cancel();
  assert.equal(sneaky.status, 404);
});

Deno.test("GET /api/live delivers a stats event, then task events with the worker's kind", async () => {
  await using c = await testCoordinator();
  const ac = new AbortController();
  const res = await fetch(`${c.api}/live?types=demo.echo`, { signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/event-stream/);

  const stop = new AbortController();
  const worker = runWorker(c.api, "live-test-deno", "deno", stop.signal);
  await c.call("POST", "/tasks", { type: "primes.count", params: { from: 0, to: 1000 } });
  const { body: task } = await c.call("POST", "/tasks", { type: "demo.echo", params: { n: 1 } });
  const events = await readEvents(res, (evs) => evs.some((e) => e.event === "task"));
  stop.abort();
  await worker;

  const stats = events.find((e) => e.event === "stats")!.data;
  assert.equal(events[0].event, "stats", "a stats event comes first");
  for (const k of ["pending", "processing", "completed", "failed", "cancelled"]) {
    assert.equal(typeof stats.stats.status[k], "number");
  }
  assert.equal(stats.stats.rates.completed.length, 600);
  assert.deepEqual(Object.keys(stats.workers.online).sort(), ["browser", "deno", "other"]);
  assert.ok("p50" in stats.latency.queueWait && "p99" in stats.latency.run);
  assert.ok(Array.isArray(stats.failures));

  const ended = events.filter((e) => e.event === "task").map((e) => e.data);
  assert.ok(ended.every((e) => e.type === "demo.echo"), "only the asked-for type");
  assert.deepEqual(ended[0], {
    id: task.id,
    type: "demo.echo",
    status: "completed",
    workerId: "live-test-deno",
    workerKind: "deno",
  });
});

Deno.test({
  name:
    "dashboard in Chromium: live throughput, workers online, a mosaic that fills in, calm offline",
  ignore: !hasChromium(),
  async fn() {
    const c = await testCoordinator();
    let coordinatorUp = true;
    const stop = new AbortController();
    const loops = [
      runWorker(c.api, "test-deno-worker", "deno", stop.signal),
      runWorker(c.api, "test-browser-worker", "browser", stop.signal),
      runSubmitter(c.api, stop.signal),
    ];
    const stopLoops = async () => {
      stop.abort();
      await Promise.all(loops);
    };
    try {
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await withBrowser(async (browser) => {
        const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
        page.setDefaultTimeout(15_000);
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });

        await page.goto(`${c.url}/dashboard/`);
        await page.waitForSelector('[data-testid="connection"][data-state="live"]');
        await page.waitForFunction(`${dataset("throughput")}?.value > 0`);
        assert.ok(await testidValue(page, "throughput") > 0, "non-zero throughput");
        assert.ok(await testidValue(page, "workers-online") >= 1, "a worker online");
        assert.ok(await testidValue(page, "workers-deno") >= 1, "the Deno worker is counted");
        await page.waitForSelector('[data-testid="failed-tasks"] [data-testid="task-row"]');
        assert.ok(await page.locator('[data-testid="worker-row"]').count() >= 1);
        assert.ok(await page.locator('[data-testid="throughput-chart"] canvas').count() >= 1);

        await page.click('[data-testid="render-button"]');
        const mosaic = page.locator('[data-testid="mosaic"]');
        const allPainted = `(m => m && m.total > 0 && m.painted === m.total)(${dataset("mosaic")})`;
        await page.waitForFunction(allPainted);
        assert.equal(await mosaic.getAttribute("data-total"), "64");
        assert.equal(await mosaic.getAttribute("data-failed"), "0");

        // The render survives a reload: its tiles are read back and painted again.
        await page.reload();
        await page.waitForFunction(allPainted);
        assert.equal(await mosaic.getAttribute("data-painted"), "64");
        // The task view, opened by clicking a failure.
        await page.click('[data-testid="failed-tasks"] [data-testid="task-row"] button');
        await page.waitForSelector('[data-testid="task-result"][data-status="failed"]');
        await page.waitForFunction(`${dataset("throughput")}?.value > 0`);
        await page.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });

        await page.emulateMedia({ colorScheme: "dark" });
        await page.setViewportSize({ width: 390, height: 844 });
        await page.evaluate("scrollTo(0, 0)");
        await sleep(300);
        await page.screenshot({ path: `${ARTIFACTS}/dashboard-phone-dark.png` });
        assert.deepEqual(errors, [], "no errors in the page");

        // The coordinator goes away: the page says so calmly and keeps the last figures.
        await stopLoops();
        await c[Symbol.asyncDispose]();
        coordinatorUp = false;
        await page.waitForSelector('[data-testid="connection"][data-state="reconnecting"]');
        assert.match(await page.locator('[role="status"]').innerText(), /unreachable/);
        assert.ok(await testidValue(page, "workers-online") >= 1, "the last figures stay");
        await page.close();
      });
    } finally {
      if (!stop.signal.aborted) await stopLoops();
      if (coordinatorUp) await c[Symbol.asyncDispose]();
    }
  },
});
