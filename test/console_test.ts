// deno-lint-ignore-file no-explicit-any -- JSON bodies in tests
/**
 * The operator console in real Chromium against real coordinators, as a person sees it: the
 * stall alert, work waiting for votes, worker states (idle, draining, offline, crashed), the
 * failures view and the task browser's retry and cancel; with keys on, read-only visitors, a
 * refused key, and the public view. One browser for the file; screenshots in test/artifacts/.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { buildApps } from "../coordinator/build_apps.ts";
import { createApiKey } from "../coordinator/auth/api_keys.ts";
import { repKey } from "../coordinator/store/keys.ts";
import { hasChromium, withBrowser } from "./_browser.ts";
import { connectSocket } from "./_socket.ts";
import { eventually, REPO_ROOT, runInTestWorker, testCoordinator } from "./_helpers.ts";

const ARTIFACTS = `${REPO_ROOT}test/artifacts`;
await buildApps();

const quorum = { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 2, adaptive: false };
const testid = (id: string) => `[data-testid="${id}"]`;

/**
 * A socket worker that says hello and then vanishes without a close frame, as a killed process
 * does: a raw TCP connection, the upgrade and one masked text frame, then the TCP close.
 */
async function crashingSocket(port: number, hello: unknown): Promise<() => void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await conn.write(new TextEncoder().encode(
    `GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const buf = new Uint8Array(4096);
  await conn.read(buf); // 101 Switching Protocols
  const payload = new TextEncoder().encode(JSON.stringify(hello));
  assert.ok(payload.length < 126);
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const frame = new Uint8Array(6 + payload.length);
  frame.set([0x81, 0x80 | payload.length, ...mask]);
  payload.forEach((b, i) => (frame[6 + i] = b ^ mask[i % 4]));
  await conn.write(frame);
  await conn.read(buf); // the welcome
  return () => conn.close();
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
}

/** An open grid (no keys): everything the console shows and does. */
async function openGrid(t: Deno.TestContext, browser: Browser): Promise<void> {
  await using c = await testCoordinator({
    stallAlertMs: 1000,
    workerOfflineMs: 1000,
    spotChecks: "off",
  });
  const stop = new AbortController();
  const loops: Promise<void>[] = [];
  const sockets: Array<Awaited<ReturnType<typeof connectSocket>>> = [];
  try {
    // A lone volunteer for echo (replicated: it can give only one of two votes) and sleep.
    const failing = (await c.call("POST", "/tasks", {
      tasks: [1, 2, 3].map(() => ({
        type: "demo.sleep",
        params: { ms: 1, fail: "permanent" },
        maxAttempts: 1,
      })),
    })).body.tasks;
    const voted = (await c.call("POST", "/tasks", {
      tasks: [1, 2, 3].map((n) => ({
        type: "demo.echo",
        params: { n },
        queue: "votes",
        verification: quorum,
      })),
    })).body.tasks;
    loops.push(runInTestWorker(c.api, stop.signal, {
      workerId: "lonely",
      types: ["demo.echo", "demo.sleep"],
    }));
    // A banned worker: work it takes is ready, it is idle, and nothing is claimed.
    await c.ctx.kv.atomic().sum(repKey("w", "banned-1", "disagree"), 5n).commit();
    c.ctx.reputation.invalidate("w", "banned-1");
    await c.call("POST", "/tasks", {
      tasks: [1, 2, 3, 4].map((i) => ({
        type: "primes.count",
        params: { from: i * 100, to: i * 100 + 10 },
      })),
    });
    loops.push(runInTestWorker(c.api, stop.signal, {
      workerId: "banned-1",
      types: ["primes.count"],
    }));
    // Parked work nobody takes, for the task browser.
    const parked = (await c.call("POST", "/tasks", {
      tasks: [1, 2, 3].map((n) => ({
        type: "text.wordcount",
        params: { text: `parked ${n}` },
        queue: "parked",
      })),
    })).body.tasks;
    // Socket workers: idle, draining (holds a lease, takes no more), offline, crashed.
    const hello = (workerId: string, types: string[]) => ({
      type: "hello",
      workerId,
      kind: "deno",
      types,
      slots: 1,
      concurrency: 1,
    });
    const idle = await connectSocket(c.url);
    idle.send(hello("idle-sock", ["hash.search"]));
    await idle.next((m) => m.type === "welcome");
    const idleSince = Date.now();
    const drain = await connectSocket(c.url);
    drain.send(hello("drain-sock", ["montecarlo.pi"]));
    await drain.next((m) => m.type === "welcome");
    await c.call("POST", "/tasks", {
      type: "montecarlo.pi",
      params: { seed: 1, samples: 1000 },
    });
    await drain.next((m) => m.type === "lease");
    drain.send({ type: "credit", slots: 0 });
    const gone = await connectSocket(c.url);
    gone.send(hello("gone-sock", ["hash.search"]));
    await gone.next((m) => m.type === "welcome");
    await gone.close();
    const crash = await crashingSocket(c.port, hello("crash-sock", ["hash.search"]));
    crash();
    sockets.push(idle, drain);

    await (async () => {
      const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
      page.setDefaultTimeout(15_000);
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${c.url}/dashboard/`);
      await page.waitForSelector(`${testid("connection")}[data-state="live"]`);

      await t.step("work that answered waits for more volunteers, and says so", async () => {
        const row = page.locator(testid("backlog-votes-demo.echo"));
        await row.locator('[data-col="votes"]', { hasText: /^3/ }).waitFor();
        assert.match(
          await row.innerText(),
          /3 answered, each waiting for 1 more volunteer \(someone other than those who answered\)/,
        );
        assert.equal((await row.locator('[data-col="ready"]').innerText()).trim(), "0");
        // The task view shows the one vote.
        await page.fill(testid("lookup-id"), voted[0].id);
        await page.press(testid("lookup-id"), "Enter");
        await page.waitForSelector(`${testid("task-result")}[data-id="${voted[0].id}"]`);
        assert.equal(await page.locator(`${testid("task-votes")} tbody tr`).count(), 1);
        assert.match(await page.locator(testid("task-quorum")).innerText(), /1 answered/);
      });

      await t.step(
        "the stall alert: ready work, an idle worker that takes it, no claim",
        async () => {
          const alert = page.locator(testid("stall-alert"));
          await alert.waitFor();
          const text = await alert.innerText();
          assert.match(text, /Work is stuck\. 4 tasks are ready \(primes\.count\)/);
          assert.match(text, /1 idle worker takes them/);
          assert.equal(await alert.getAttribute("role"), "alert");
          await page.locator(testid("card-backlog")).screenshot({
            path: `${ARTIFACTS}/console-backlog.png`,
          });
          await shot(page, "console-stall");
        },
      );

      await t.step("workers: idle, draining, offline and crashed all stay listed", async () => {
        const state = (id: string) =>
          page.locator(`${testid("worker-row")}[data-worker="${id}"]`).getAttribute("data-state");
        await page.waitForSelector(`${testid("worker-row")}[data-worker="crash-sock"]`);
        // Past --worker-offline-ms (1 s): a connected idle worker is still idle, not gone.
        const quiet = Date.now() - idleSince;
        if (quiet < 1500) await new Promise((r) => setTimeout(r, 1500 - quiet));
        await page.waitForSelector(
          `${testid("worker-row")}[data-worker="idle-sock"][data-state="idle"]`,
        );
        assert.equal(await state("drain-sock"), "draining");
        assert.equal(await state("gone-sock"), "offline");
        assert.equal(await state("crash-sock"), "crashed");
        const row = page.locator(`${testid("worker-row")}[data-worker="drain-sock"]`);
        assert.match(await row.innerText(), /montecarlo\.pi/);
        assert.match(await row.innerText(), /1 \/ 1/);
        await page.locator(testid("card-workers")).screenshot({
          path: `${ARTIFACTS}/console-workers.png`,
        });
      });

      await t.step("failures: rate, counts by type and code, filter, retry many", async () => {
        // All three failed (in setup), counted by type and code.
        await page.locator(testid("failure-count"), { hasText: /demo\.sleep\s*handler\s*3/ })
          .waitFor();
        assert.match(await page.locator(testid("failure-rate")).innerText(), /%$/);
        await page.selectOption(testid("failures-code"), "handler");
        const failed = page.locator(`${testid("failed-tasks")} ${testid("task-row")}`);
        await eventually(async () => (await failed.count()) === 3, 10_000);
        await page.locator(`${testid("failed-tasks")} thead input[type="checkbox"]`).check();
        await page.click(`${testid("failed-tasks")} ${testid("bulk-retry")}`);
        await page.locator(testid("bulk-note"), { hasText: "Retried 3 tasks." }).waitFor();
        // The worker runs them again: each has a second attempt, failed again.
        await eventually(async () => {
          const tasks = await Promise.all(
            failing.map((f: any) => c.call("GET", `/tasks/${f.id}`)),
          );
          return tasks.every((r) => r.body.status === "failed" && r.body.history.length === 2);
        }, 10_000);
        // The page catches up: the three are listed as failed again.
        await eventually(async () => (await failed.count()) === 3, 10_000);
        await page.locator(testid("card-failures")).screenshot({
          path: `${ARTIFACTS}/console-failures.png`,
        });
      });

      await t.step("task browser: filter by queue, cancel many, retry one and many", async () => {
        await page.selectOption(testid("filter-queue"), "parked");
        const rows = page.locator(`${testid("task-list")} ${testid("task-row")}`);
        await eventually(async () => (await rows.count()) === 3);
        assert.equal(await rows.first().getAttribute("data-status"), "pending");
        await page.locator(`${testid("task-list")} thead input[type="checkbox"]`).check();
        await page.click(`${testid("task-list")} ${testid("bulk-cancel")}`);
        await page.locator(testid("bulk-note"), { hasText: "Cancelled 3 tasks." }).waitFor();
        await page.waitForSelector(
          `${testid("task-list")} ${testid("task-row")}[data-status="cancelled"]`,
        );
        // One: open it, retry it from its view.
        await page.click(`${testid("task-list")} [data-id="${parked[0].id}"] button`);
        await page.waitForSelector(`${testid("task-result")}[data-id="${parked[0].id}"]`);
        await page.click(testid("task-retry"));
        await page.waitForSelector(`${testid("task-result")}[data-status="pending"]`);
        assert.equal(
          await page.locator(testid("task-cancel")).count(),
          1,
          "pending: cancellable",
        );
        // Many: the other two.
        await page.locator(`${testid("task-list")} [data-id="${parked[1].id}"] input`).check();
        await page.locator(`${testid("task-list")} [data-id="${parked[2].id}"] input`).check();
        await page.click(`${testid("task-list")} ${testid("bulk-retry")}`);
        await page.locator(testid("bulk-note"), { hasText: "Retried 2 tasks." }).waitFor();
        await eventually(async () => {
          const all = await Promise.all(parked.map((p: any) => c.call("GET", `/tasks/${p.id}`)));
          return all.every((r) => r.body.status === "pending");
        });
        await shot(page, "console");
      });

      await t.step("a bulk action that empties the list still says what it did", async () => {
        // Pending ones of the parked queue, cancelled at once: none is left to list.
        await page.selectOption(testid("filter-status"), "pending");
        const rows = page.locator(`${testid("task-list")} ${testid("task-row")}`);
        await eventually(async () => (await rows.count()) === 3);
        await page.locator(`${testid("task-list")} thead input[type="checkbox"]`).check();
        await page.click(`${testid("task-list")} ${testid("bulk-cancel")}`);
        await eventually(async () => (await rows.count()) === 0);
        await page.locator(testid("bulk-note"), { hasText: "Cancelled 3 tasks." }).waitFor();
        await page.locator(testid("task-browser"), { hasText: "No task matches." }).waitFor();
        await page.locator(testid("task-browser")).screenshot({
          path: `${ARTIFACTS}/console-emptied-list.png`,
        });
      });
      assert.deepEqual(errors, [], "no errors in the page");
      await page.close();
    })();
  } finally {
    stop.abort();
    await Promise.all(loops);
    for (const s of sockets) await s.close().catch(() => {});
  }
}

/** Keys on: a read-only visitor, a refused key, and the public view. */
async function keysOn(t: Deno.TestContext, browser: Browser): Promise<void> {
  await using c = await testCoordinator({ auth: "on", spotChecks: "off" });
  const { key: admin } = await createApiKey(c.ctx.kv, { name: "ops", role: "admin" });
  const task = (await c.call("POST", "/tasks", { type: "demo.echo", params: { n: 1 } }, {
    authorization: `Bearer ${admin}`,
  })).body;
  await (async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));

    await t.step(
      "read-only from this machine without a key: figures, no write controls",
      async () => {
        await page.goto(`${c.url}/dashboard/`);
        await page.waitForSelector(`${testid("connection")}[data-state="live"]`);
        assert.match(await page.locator(".brand").innerText(), /read-only/);
        await page.waitForSelector(testid("backlog-default-demo.echo"));
        assert.equal(await page.locator(testid("render-button")).count(), 0, "no Render");
        await page.waitForSelector(testid("jobs-needs-key"));
        assert.equal(await page.locator(testid("job-cancel")).count(), 0, "no job Cancel");
        assert.equal(await page.locator(testid("bulk-retry")).count(), 0);
        assert.match(await page.locator(testid("browse-needs-key")).innerText(), /admin key/);
        await page.fill(testid("lookup-id"), task.id);
        await page.press(testid("lookup-id"), "Enter");
        await page.waitForSelector(`${testid("task-result")}[data-id="${task.id}"]`);
        assert.equal(await page.locator(testid("task-cancel")).count(), 0, "no Cancel");
        assert.equal(await page.locator(".error").count(), 0, "no raw API error on the page");
        await shot(page, "console-read-only");
      },
    );

    await t.step("a refused key is said plainly and the key prompt comes back", async () => {
      await page.evaluate(`localStorage.setItem("tessera.dashboard.key", "tsk_wrong")`);
      await page.reload();
      await page.waitForSelector(`${testid("connection")}[data-state="refused"]`);
      assert.equal(await page.locator(testid("gate-title")).innerText(), "Key refused");
      assert.match(await page.locator(testid("connection")).innerText(), /key refused/);
      const input = page.locator(testid("key-input"));
      await input.waitFor();
      assert.equal(
        await page.evaluate("document.activeElement?.dataset.testid"),
        "key-input",
        "the key input has the focus",
      );
      await shot(page, "console-key-refused");
      // The right key opens the console, with its write controls.
      await input.fill(admin);
      await page.click(testid("key-save"));
      await page.waitForSelector(`${testid("connection")}[data-state="live"]`);
      await page.waitForSelector(testid("render-button"));
      await page.waitForSelector(`${testid("task-list")} ${testid("task-row")}`);
    });

    await t.step("the public view: totals, types in plain words, no task data", async () => {
      const pub = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await pub.goto(`${c.url}/dashboard/public`);
      await pub.waitForSelector(testid("public-types"));
      assert.match(
        await pub.locator(testid("public-types")).innerText(),
        /demo\.echo[\s\S]*?Returns its params unchanged/,
      );
      assert.equal(await pub.locator(testid("public-completed")).getAttribute("data-value"), "0");
      assert.ok(!(await pub.content()).includes(task.id), "no task ids");
      assert.equal(await pub.locator(testid("key-gate")).count(), 0);
      await shot(pub, "console-public-phone");
      await pub.close();
    });
    assert.deepEqual(errors, [], "no errors in the page");
    await page.close();
  })();
}

Deno.test({
  name: "operator console in Chromium: an open grid, then keys on (one browser for both)",
  ignore: !hasChromium(),
  // The socket workers' and loops' ends are awaited in `finally`; the browser's pipes are not ours.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await withBrowser(async (browser) => {
      await t.step("an open grid", (t) => openGrid(t, browser));
      await t.step("keys on", (t) => keysOn(t, browser));
    });
  },
});
