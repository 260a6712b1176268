// deno-lint-ignore-file no-explicit-any -- JSON bodies in tests
/**
 * The donate page end to end: served at `/`, then in real Chromium against a real coordinator,
 * computing with its Web Workers over the WebSocket lease protocol.
 *
 * Browser volunteers are anonymous, so a coordinator normally gives them known-answer spot checks
 * and requires a quorum of two distinct workers for deterministic types. Here a single page must
 * finish the tasks alone: the coordinator runs with `spotChecks: "off"` and every task is
 * submitted with `verification: { mode: "none" }`.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { createApiKey } from "../coordinator/auth/api_keys.ts";
import { buildApps } from "../coordinator/build_apps.ts";
import { loadHandler } from "../handlers/mod.ts";
import {
  type BrowserExecutor,
  createBrowserExecutor,
  type PoolState,
} from "../shared/worker/browser_executor.ts";
import type { Lease } from "../shared/protocol.ts";
import type { TaskOutcome } from "../shared/worker/worker_core.ts";
import { hasChromium, withBrowser } from "./_browser.ts";
import { createHandlerSource } from "../shared/worker/handler_source.ts";
import { builtinPack, servePack } from "./_pack_server.ts";
import { eventually, REPO_ROOT, sleep, type TestCoordinator, testCoordinator } from "./_helpers.ts";

const ARTIFACTS = `${REPO_ROOT}test/artifacts`;

// The coordinator serves builds, never makes them: build what is missing or stale first.
await buildApps();
const NONE = { mode: "none" } as const;

interface Prefs {
  workers: number;
  duty: number;
  pauseWhenHidden: boolean;
  pauseOnBattery: boolean;
}

interface Donor {
  page: Page;
  workerId: string;
  errors: string[];
  close(): Promise<void>;
}

/** Opens the page with saved preferences in a fresh context and presses Start. */
async function openDonor(
  browser: Browser,
  c: TestCoordinator,
  prefs: Partial<Prefs> = {},
  viewport = { width: 1280, height: 900 },
): Promise<Donor> {
  const context = await browser.newContext({ viewport });
  const saved = { workers: 2, duty: 100, pauseWhenHidden: true, pauseOnBattery: false, ...prefs };
  await context.addInitScript(
    `localStorage.setItem("tessera.donate.prefs", ${JSON.stringify(JSON.stringify(saved))})`,
  );
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(`${c.url}/`);
  await page.click('[data-testid="start-button"]');
  await page.waitForSelector('[data-testid="status"][data-link="open"]');
  const workerId = await page.locator('[data-testid="worker-id"]').getAttribute("data-value");
  assert.match(workerId!, /^browser-[0-9a-f]{8}-[0-9a-f]{6}$/);
  return {
    page,
    workerId: workerId!,
    errors,
    close: () => context.close(),
  };
}

/** Tasks `workerId` holds now, as the coordinator sees them. */
async function heldBy(c: TestCoordinator, workerId: string): Promise<any[]> {
  const { body } = await c.call("GET", "/tasks?status=processing&limit=1000");
  return body.tasks.filter((t: any) => t.workerId === workerId);
}

const value = (page: Page, testid: string) =>
  page.locator(`[data-testid="${testid}"]`).getAttribute("data-value").then(Number);

function sleepTasks(n: number, ms: number, extra: Record<string, unknown> = {}) {
  return Array.from({ length: n }, () => ({
    type: "demo.sleep",
    params: { ms },
    verification: NONE,
    ...extra,
  }));
}

/** 200 small tasks of every type but demo.sleep, the same on every run. */
function mixedTasks(): { type: string; params: any }[] {
  const tasks: { type: string; params: any }[] = [];
  for (let i = 0; i < 200; i++) {
    switch (i % 6) {
      case 0:
        tasks.push({ type: "primes.count", params: { from: i * 7_000, to: i * 7_000 + 40_000 } });
        break;
      case 1: {
        const x0 = -2 + (i % 12) * 0.2, y0 = -1 + (i % 7) * 0.25;
        tasks.push({
          type: "mandelbrot.tile",
          params: { x0, y0, x1: x0 + 0.2, y1: y0 + 0.25, width: 24, height: 24, maxIter: 120 },
        });
        break;
      }
      case 2:
        tasks.push({ type: "montecarlo.pi", params: { seed: i * 7919, samples: 30_000 } });
        break;
      case 3:
        tasks.push({
          type: "text.wordcount",
          params: { text: `tile ${i} volunteer grid tile lease quorum grid ${i % 5} tile`, top: 3 },
        });
        break;
      case 4:
        tasks.push({ type: "hash.search", params: { prefix: `tessera-${i}-`, difficulty: 8 } });
        break;
      default:
        tasks.push({ type: "demo.echo", params: { i, note: "hello from the test" } });
    }
  }
  return tasks;
}

async function expected(type: string, params: unknown): Promise<unknown> {
  const handler = await loadHandler(type);
  return await handler.run(handler.params.parse(params), {
    signal: new AbortController().signal,
    progress: () => {},
    log: console,
    taskId: "expected",
    attempt: 1,
  });
}

/** A lease as the executor needs it. */
function lease(type: string, params: unknown): Lease {
  const id = crypto.randomUUID();
  return {
    leaseId: `lease-${id}`,
    taskId: id,
    expiresAt: Date.now() + 30_000,
    attempt: 1,
    task: { id, type, params, timeoutMs: 30_000, leaseMs: 30_000 },
  } as unknown as Lease;
}

const spawnThread = () =>
  new Worker(new URL("../shared/worker/task_thread.ts", import.meta.url), { type: "module" });
const noSignal = () => ({ signal: new AbortController().signal, onProgress: () => {} });

/** Runs `fn` with a handler source on a pack server of the built-ins. */
async function withSource(
  fn: (source: ReturnType<typeof createHandlerSource>) => Promise<void>,
): Promise<void> {
  await using server = servePack(await builtinPack());
  await fn(createHandlerSource({ origin: server.url }));
}

Deno.test("createBrowserExecutor() rests a thread 3 d after a task of d at 25 %, out of ready", () =>
  withSource(async (source) => {
    const states: PoolState[] = [];
    const executor = createBrowserExecutor({
      source,
      spawn: spawnThread,
      size: 1,
      duty: 0.25,
      onChange: (s) => states.push(s),
    });
    try {
      const first = await executor.run(lease("demo.sleep", { ms: 120, cpu: true }), noSignal());
      assert.equal(first.ok, true);
      // Told before the outcome came back: the capacity drops before the report goes out.
      assert.deepEqual(executor.state(), { size: 1, busy: 0, resting: 1, ready: 0 });
      assert.deepEqual(states.at(-1), executor.state());
      const asked = performance.now();
      // The same handler: its code is in the thread already, so only the rest is timed.
      const second = await executor.run(lease("demo.sleep", { ms: 0 }), noSignal());
      const waited = performance.now() - asked;
      assert.deepEqual(second, { ok: true, result: { sleptMs: 0, attempt: 1 } });
      assert.ok(waited >= 330 && waited < 1000, `the next task waited ${waited} ms, not ~360`);
    } finally {
      executor.close();
    }
  }));

Deno.test("createBrowserExecutor() shrinks by retiring a busy thread after its task; abort() stops one", () =>
  withSource(async (source) => {
    const executor = createBrowserExecutor({ source, spawn: spawnThread, size: 2 });
    try {
      const a = lease("demo.sleep", { ms: 300 });
      const b = lease("demo.sleep", { ms: 5_000 });
      const runA = executor.run(a, noSignal());
      const runB = executor.run(b, noSignal());
      // Both threads must load their module first: slow on a loaded machine.
      await eventually(() => executor.state().busy === 2, 15_000);
      assert.deepEqual(executor.state(), { size: 2, busy: 2, resting: 0, ready: 2 });
      executor.resize(1);
      assert.equal(executor.state().ready, 1, "one busy thread leaves after its task");
      executor.abort(b.leaseId, "cancelled");
      const outcomeB = await runB;
      assert.equal(outcomeB.ok, false);
      assert.equal(!outcomeB.ok && outcomeB.error.code, "cancelled");
      assert.equal((await runA).ok, true);
      assert.deepEqual(executor.state(), { size: 1, busy: 0, resting: 0, ready: 1 });
    } finally {
      executor.close();
    }
  }));

Deno.test("createBrowserExecutor() at full duty stages a run on its busy thread, which begins it the moment the first ends", () =>
  withSource(async (source) => {
    const executor = createBrowserExecutor({ source, spawn: spawnThread, size: 1 });
    try {
      assert.equal(executor.stages, true);
      const first = executor.run(lease("demo.sleep", { ms: 400, cpu: true }), noSignal());
      await eventually(() => executor.state().busy === 1, 15_000);
      let firstEnded = 0;
      void first.then(() => (firstEnded = performance.now()));
      let began = 0;
      const second = executor.run(lease("demo.sleep", { ms: 50, cpu: true }), {
        ...noSignal(),
        onStart: () => (began = performance.now()),
      });
      await sleep(100);
      assert.equal(began, 0, "staged: not begun while the first runs");
      assert.deepEqual(executor.state(), { size: 1, busy: 1, resting: 0, ready: 1 });
      assert.equal((await first).ok, true);
      assert.deepEqual(await second, { ok: true, result: { sleptMs: 50, attempt: 1 } });
      assert.ok(
        began > 0 && began <= firstEnded,
        "begun by the time the first one's outcome was back",
      );
      assert.equal(executor.restarts, 0);
    } finally {
      executor.close();
    }
  }));

/**
 * Hands `executor` a run that spins from its first instruction and never yields (demo.sleep's
 * `hog: "cpu"`, 120 s); `stop()` cancels it and checks that it ended so.
 */
function runHog(executor: BrowserExecutor): { stop(): Promise<void> } {
  const stop = new AbortController();
  const run = executor.run(lease("demo.sleep", { ms: 0, hog: "cpu" }), {
    ...noSignal(),
    signal: stop.signal,
  });
  return {
    async stop() {
      stop.abort("cancelled");
      const stopped = await run;
      assert.equal(!stopped.ok && stopped.error.code, "cancelled");
    },
  };
}

/** `run`'s outcome, or `late` if it is not back within 10 s (held behind a hog). */
const within10s = (run: Promise<TaskOutcome>, late: string) =>
  Promise.race([run, sleep(10_000).then(() => late)]);

Deno.test("createBrowserExecutor() runs a task handed over while its thread loads the first one's code after that one", () =>
  withSource(async (source) => {
    const executor = createBrowserExecutor({
      source,
      spawn: spawnThread,
      size: 1,
      stopWithinMs: 100,
    });
    try {
      let hog: ReturnType<typeof runHog> | undefined;
      const first = executor.run(lease("demo.sleep", { ms: 100 }), {
        ...noSignal(),
        // Its thread is taken, and its code not yet loaded there (that is a round trip).
        onStart: () => (hog = runHog(executor)),
      });
      assert.deepEqual(await within10s(first, "overtaken"), {
        ok: true,
        result: { sleptMs: 100, attempt: 1 },
      });
      await hog!.stop();
    } finally {
      executor.close();
    }
  }));

Deno.test("createBrowserExecutor() gets a task's outcome back before its thread begins the staged one", () =>
  withSource(async (source) => {
    const executor = createBrowserExecutor({
      source,
      spawn: spawnThread,
      size: 1,
      stopWithinMs: 100,
    });
    try {
      let progressed!: () => void;
      const running = new Promise<void>((resolve) => (progressed = resolve));
      const first = executor.run(lease("demo.sleep", { ms: 300, cpu: true }), {
        ...noSignal(),
        onProgress: () => progressed(),
      });
      await running;
      // Staged behind the first: begun before the first one's outcome was posted, it would hold
      // that outcome for its whole 120 s.
      const hog = runHog(executor);
      assert.deepEqual(await within10s(first, "held"), {
        ok: true,
        result: { sleptMs: 300, attempt: 1 },
      });
      await hog.stop();
      assert.equal(executor.restarts, 1, "the spinning thread was replaced");
    } finally {
      executor.close();
    }
  }));

Deno.test("createBrowserExecutor() ends a staged run aborted before it begins at once, and leaves the running task alone", () =>
  withSource(async (source) => {
    const executor = createBrowserExecutor({ source, spawn: spawnThread, size: 1 });
    try {
      const first = executor.run(lease("demo.sleep", { ms: 600, cpu: true }), noSignal());
      await eventually(() => executor.state().busy === 1, 15_000);
      const staged = lease("demo.sleep", { ms: 50 });
      let began = false;
      const second = executor.run(staged, { ...noSignal(), onStart: () => (began = true) });
      await sleep(50);
      const asked = performance.now();
      executor.abort(staged.leaseId, "cancelled");
      const outcome = await second;
      assert.ok(performance.now() - asked < 300, "it did not wait for the running task");
      assert.equal(!outcome.ok && outcome.error.code, "cancelled");
      assert.equal(began, false);
      assert.equal((await first).ok, true, "the running task was not stopped");
      assert.equal(executor.restarts, 0, "no thread was killed");
      // The thread skipped the aborted run: the next one runs at once.
      const third = await executor.run(lease("demo.echo", { x: 1 }), noSignal());
      assert.deepEqual(third, { ok: true, result: { x: 1 } });
    } finally {
      executor.close();
    }
  }));

Deno.test("GET / serves the donate page, its files under /assets/, and the API keeps its 404s", async () => {
  await using c = await testCoordinator();
  const res = await fetch(`${c.url}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/html/);
  assert.equal(res.headers.get("cache-control"), "no-cache");
  const html = await res.text();
  assert.match(html, /<div id="app"><\/div>/);
  const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
  assert.ok(script, "the page loads its script from /assets/");
  const js = await fetch(`${c.url}${script}`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type")!, /javascript/);
  assert.match(js.headers.get("cache-control")!, /immutable/);
  const code = await js.text();
  assert.match(code, /task_thread-[\w-]+\.js/, "the task thread is a separate module");

  for (const path of ["/assets/nope.js", "/assets/%2e%2e/deno.json"]) {
    const missing = await fetch(`${c.url}${path}`);
    await missing.body?.cancel();
    assert.equal(missing.status, 404, path);
  }
  const api = await fetch(`${c.url}/api/nope`);
  assert.equal(api.status, 404);
  assert.equal((await api.json()).error.code, "not_found");
});

Deno.test({
  name: "donate page in Chromium: completes 200 mixed tasks with the handlers' own results",
  ignore: !hasChromium(),
  async fn() {
    await using c = await testCoordinator({ spotChecks: "off" });
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await withBrowser(async (browser) => {
      const donor = await openDonor(browser, c);
      const { page, workerId } = donor;
      const submitted = mixedTasks();
      const res = await c.call("POST", "/tasks", {
        tasks: submitted.map((t) => ({ ...t, verification: NONE })),
      });
      assert.equal(res.status, 201);
      const ids: string[] = res.body.tasks.map((t: any) => t.id);

      await eventually(
        async () => {
          const { body } = await c.call("GET", "/stats");
          return body.status.completed === 200 || body.status.failed > 0;
        },
        30_000,
        100,
      );
      const { body } = await c.call("POST", "/tasks/await", { ids, waitMs: 0 });
      for (const [i, task] of body.tasks.entries()) {
        const want = submitted[i];
        assert.equal(task.status, "completed", `${want.type} ${JSON.stringify(task.error)}`);
        assert.equal(task.workerId, workerId);
        assert.deepEqual(task.result, await expected(want.type, want.params), want.type);
      }

      const workers = (await c.call("GET", "/workers")).body.workers;
      const me = workers.find((w: any) => w.id === workerId);
      assert.equal(me?.kind, "browser");
      assert.equal(me?.completed, 200);
      const donorId = await page.evaluate(`localStorage.getItem("tessera.donorId")`) as string;
      assert.ok(workerId.startsWith(`browser-${donorId.slice(0, 8)}-`));
      const totals = await eventually(async () => {
        const { body } = await c.call("GET", "/donors");
        const d = body.donors.find((d: any) => d.id === donorId);
        return d?.completed === 200 ? d : null;
      });
      assert.ok(totals.computeMs > 0, "compute time is credited to the donor");

      // The page says what it did; the donor's totals come from the coordinator.
      await page.waitForSelector('[data-testid="tasks-done"][data-value="200"]');
      // The coordinator credits about what the page computed: a staged task's wait for its
      // thread is not compute (counted from each push it was 4.6 s here against 1.7 s computed).
      const computed = Number(
        await page.locator('[data-testid="compute-donated"]').getAttribute("data-value"),
      );
      assert.ok(
        totals.computeMs >= computed - 200 && totals.computeMs <= computed + 200 * 5,
        `credited ${totals.computeMs} ms for ${computed} ms computed`,
      );
      await page.waitForSelector('[data-testid="credit-checked"][data-value="200"]', {
        timeout: 15_000,
      });
      assert.ok(await value(page, "compute-donated") > 0);
      // Steady: "waiting" only once no thread has computed for a few seconds.
      await page.locator('[role="status"]', { hasText: "waiting for work" }).waitFor();
      // Some work in flight for the pictures: two workers busy, types named, and the cores in
      // use (averaged over a few seconds) climbing to two.
      await c.call("POST", "/tasks", { tasks: sleepTasks(6, 4000) });
      await page.waitForSelector('[data-testid="cores"][data-value="2"]', { timeout: 15_000 });
      await page.waitForSelector('[data-testid="task-types"][data-value="demo.sleep"]');
      await page.screenshot({ path: `${ARTIFACTS}/donate.png`, fullPage: true });
      await page.emulateMedia({ colorScheme: "dark" });
      await page.setViewportSize({ width: 390, height: 844 });
      await sleep(200);
      await page.screenshot({ path: `${ARTIFACTS}/donate-phone-dark.png`, fullPage: true });
      assert.deepEqual(donor.errors, [], "no errors in the page");
      await donor.close();
    });
  },
});

Deno.test({
  name: "donate page: pausing, by hand or with the tab hidden, hands leases back and claims none",
  ignore: !hasChromium(),
  async fn() {
    await using c = await testCoordinator({ spotChecks: "off" });
    await withBrowser(async (browser) => {
      const { page, workerId, errors, close } = await openDonor(browser, c);
      await c.call("POST", "/tasks", { tasks: sleepTasks(20, 3000, { leaseMs: 60_000 }) });
      const held = (await eventually(async () => {
        const h = await heldBy(c, workerId);
        return h.length >= 2 ? h : null;
      }))!;

      await page.click('[data-testid="pause-button"]');
      const pausedAt = Date.now();
      await page.waitForSelector('[data-testid="status"][data-state="paused"][data-holds="user"]');
      await eventually(async () => (await heldBy(c, workerId)).length === 0, 3000);
      for (const t of held) {
        const { body: task } = await c.call("GET", `/tasks/${t.id}`);
        assert.equal(task.status, "pending", "handed back, not waiting for its lease to expire");
        assert.equal(task.attempts, 0, "a released attempt is not counted");
        assert.equal(task.history.at(-1).outcome, "released");
      }
      // Paused: no new lease for this worker, although work is waiting.
      for (let i = 0; i < 10; i++) {
        await sleep(150);
        assert.deepEqual(await heldBy(c, workerId), [], "no lease while paused");
      }
      const { body: pending } = await c.call("GET", "/tasks?status=pending&limit=1000");
      for (const t of pending.tasks) {
        assert.ok(t.history.every((a: any) => a.startedAt < pausedAt), "nothing started after");
      }

      await page.click('[data-testid="resume-button"]');
      await eventually(async () => (await heldBy(c, workerId)).length >= 2);

      // The tab goes hidden: the page pauses itself (the default option) and says why.
      await page.evaluate(`
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
        document.dispatchEvent(new Event("visibilitychange"));
      `);
      await page.waitForSelector(
        '[data-testid="status"][data-state="paused"][data-holds="hidden"]',
      );
      assert.match(await page.locator('[data-testid="status"]').innerText(), /tab is hidden/);
      await eventually(async () => (await heldBy(c, workerId)).length === 0, 3000);
      await page.evaluate(`
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
        document.dispatchEvent(new Event("visibilitychange"));
      `);
      await page.waitForSelector('[data-testid="status"][data-state="running"]');
      await eventually(async () => (await heldBy(c, workerId)).length >= 2);
      assert.deepEqual(errors, []);
      await close();
    });
  },
});

Deno.test({
  name: "donate page: closing it returns its leases at once, long before they would expire",
  ignore: !hasChromium(),
  async fn() {
    await using c = await testCoordinator({ spotChecks: "off" });
    await withBrowser(async (browser) => {
      const { workerId, close } = await openDonor(browser, c);
      await c.call("POST", "/tasks", { tasks: sleepTasks(6, 10_000, { leaseMs: 60_000 }) });
      const held = (await eventually(async () => {
        const h = await heldBy(c, workerId);
        return h.length >= 2 ? h : null;
      }))!;
      const closedAt = Date.now();
      await close();
      await eventually(async () => (await heldBy(c, workerId)).length === 0, 5000);
      const tookMs = Date.now() - closedAt;
      assert.ok(tookMs < 5000, `returned in ${tookMs} ms, lease 60 s`);
      for (const t of held) {
        const { body: task } = await c.call("GET", `/tasks/${t.id}`);
        assert.equal(task.status, "pending");
        assert.equal(task.attempts, 0);
        assert.equal(task.history.at(-1).outcome, "released");
      }
    });
  },
});

Deno.test({
  name: "donate page: a coordinator that goes away is a calm 'reconnecting…', then work resumes",
  ignore: !hasChromium(),
  async fn() {
    const first = await testCoordinator({ spotChecks: "off" });
    let second: TestCoordinator | null = null;
    try {
      await withBrowser(async (browser) => {
        const { page, errors, close } = await openDonor(browser, first);
        await first.close();
        await page.waitForSelector('[data-testid="status"][data-link="reconnecting"]');
        await page.locator('[role="status"]', { hasText: "Reconnecting…" }).waitFor();
        assert.match(await page.locator('[role="status"]').innerText(), /Reconnecting…/);
        assert.match(await page.locator('[role="status"]').innerText(), /unreachable/);

        // Back on the same port and KV file: the page reconnects by itself and computes.
        second = await testCoordinator({ spotChecks: "off", port: first.port, db: first.db });
        const { body } = await second.call("POST", "/tasks", {
          type: "demo.echo",
          params: { back: true },
          verification: NONE,
        });
        const { body: done } = await second.call("GET", `/tasks/${body.id}?wait=20000`);
        assert.equal(done.status, "completed");
        await page.waitForSelector('[data-testid="status"][data-link="open"]');
        // The browser logs the refused connections itself; the page adds no error of its own.
        assert.deepEqual(errors.filter((e) => !/WebSocket/.test(e)), []);
        await close();
      });
    } finally {
      await (second as TestCoordinator | null)?.close();
      await Deno.remove(first.dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "donate page: volunteers need no key where the coordinator enforces API keys",
  ignore: !hasChromium(),
  async fn() {
    await using c = await testCoordinator({
      spotChecks: "off",
      auth: "on",
      workerToken: "a-worker-token",
    });
    const { key } = await createApiKey(c.ctx.kv, { name: "test client", role: "client" });
    const asClient = { authorization: `Bearer ${key}` };
    await withBrowser(async (browser) => {
      const { page, workerId, errors, close } = await openDonor(browser, c);
      const { body } = await c.call("POST", "/tasks", {
        type: "demo.echo",
        params: { hello: "volunteer" },
        verification: NONE,
      }, asClient);
      const { body: done } = await c.call(
        "GET",
        `/tasks/${body.id}?wait=10000`,
        undefined,
        asClient,
      );
      assert.equal(done.status, "completed");
      assert.equal(done.workerId, workerId);
      await page.waitForSelector('[data-testid="credit-checked"][data-value="1"]');
      assert.deepEqual(errors, []);
      await close();
    });
  },
});

Deno.test({
  name: "donate page: 1 worker vs 2 changes the parallelism the coordinator sees",
  ignore: !hasChromium(),
  async fn() {
    await using c = await testCoordinator({ spotChecks: "off" });
    await withBrowser(async (browser) => {
      const { page, workerId, errors, close } = await openDonor(browser, c, { workers: 1 });
      /** Runs `n` 300 ms tasks; the most leases held and threads busy at once. */
      const peak = async (n: number) => {
        const res = await c.call("POST", "/tasks", { tasks: sleepTasks(n, 300) });
        const ids = res.body.tasks.map((t: any) => t.id);
        let leases = 0, busy = 0;
        while (true) {
          const [held, cores, stats] = await Promise.all([
            heldBy(c, workerId),
            page.locator('[data-testid="running-task"]').count(),
            c.call("POST", "/tasks/await", { ids, waitMs: 0 }),
          ]);
          leases = Math.max(leases, held.length);
          busy = Math.max(busy, cores);
          if (stats.body.tasks.every((t: any) => t.status === "completed")) break;
          await sleep(30);
        }
        return { leases, busy };
      };
      const one = await peak(8);
      await page.click('[data-testid="workers-plus"]');
      await page.waitForSelector('[data-testid="workers"][data-value="2"]');
      const two = await peak(12);
      // Short tasks: each worker holds one more, staged on it, and one spare (see volunteer.ts);
      // the threads busy are still the workers.
      assert.deepEqual(one, { leases: 3, busy: 1 });
      assert.deepEqual(two, { leases: 6, busy: 2 });
      assert.deepEqual(errors, []);
      await close();
    });
  },
});

Deno.test({
  name: "donate page: at a 25 % CPU share a worker rests three times as long as it computed",
  ignore: !hasChromium(),
  async fn() {
    await using c = await testCoordinator({ spotChecks: "off" });
    await withBrowser(async (browser) => {
      const { page, errors, close } = await openDonor(browser, c, { workers: 1 });
      await page.click('[data-testid="duty-25"]');
      await page.waitForSelector('[data-testid="duty-25"][aria-checked="true"]');
      const res = await c.call("POST", "/tasks", {
        tasks: Array.from({ length: 4 }, () => ({
          type: "demo.sleep",
          params: { ms: 150, cpu: true },
          verification: NONE,
        })),
      });
      const ids = res.body.tasks.map((t: any) => t.id);
      const done = await eventually(
        async () => {
          const { body } = await c.call("POST", "/tasks/await", { ids, waitMs: 0 });
          return body.tasks.every((t: any) => t.status === "completed") ? body.tasks : null;
        },
        10_000,
        50,
      );
      const ends = done!.map((t: any) => t.completedAt).sort((a: number, b: number) => a - b);
      for (let i = 1; i < ends.length; i++) {
        // 450 ms of rest, then 150 ms of work: completions at least ~600 ms apart.
        const gap = ends[i] - ends[i - 1];
        assert.ok(gap >= 560, `completions ${gap} ms apart at 25 %`);
      }
      const saved = await page.evaluate(`localStorage.getItem("tessera.donate.prefs")`);
      assert.equal(JSON.parse(saved as string).duty, 25, "the choice is kept");
      assert.deepEqual(errors, []);
      await close();
    });
  },
});
