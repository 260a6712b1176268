// deno-lint-ignore-file no-explicit-any -- JSON bodies in tests
/**
 * The operator console's Jobs card in real Chromium against a real coordinator and a real
 * `worker.ts` process: a running job's progress bar moves as the worker finishes tasks, its view
 * shows counts, failures and the first result lines, another job is cancelled from the card, and
 * the live mosaic's Render creates an ordinary job whose tiles paint. Screenshots in
 * test/artifacts/jobs-panel*.png.
 *
 * @module
 */
import assert from "node:assert/strict";
import { buildApps } from "../coordinator/build_apps.ts";
import { hasChromium, withBrowser } from "./_browser.ts";
import { eventually, REPO_ROOT, testCoordinator } from "./_helpers.ts";
import { spawnWorker } from "./_worker_helpers.ts";

const ARTIFACTS = `${REPO_ROOT}test/artifacts`;
await buildApps();

const testid = (id: string) => `[data-testid="${id}"]`;
const jobRow = (id: string) => `${testid("job-row")}[data-id="${id}"]`;

Deno.test({
  name: "jobs card: progress that moves, a job's view, cancel from the card, the mosaic as a job",
  ignore: !hasChromium(),
  // The worker's and the browser's pipes are closed in `finally`, after the test's own awaits.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await using c = await testCoordinator({ spotChecks: "off" });
    // 300 short sleeps, every 60th failing for good; and a job in a queue no worker serves.
    const sleepers = (await c.call("POST", "/jobs", {
      type: "demo.sleep",
      name: "Sleepers",
      maxAttempts: 1,
      inputs: Array.from(
        { length: 300 },
        (_, i) => (i % 60 === 59 ? { ms: 1, fail: "permanent" } : { ms: 30 }),
      ),
    })).body;
    const parked = (await c.call("POST", "/jobs", {
      type: "demo.echo",
      name: "Parked echoes",
      queue: "parked",
      inputs: Array.from({ length: 200 }, (_, n) => ({ n })),
    })).body;
    assert.equal(parked.status, "running");
    const worker = spawnWorker([
      "--coordinator",
      c.url,
      "--nice",
      "0",
      "--concurrency",
      "2",
      "--queues",
      "default",
    ]);
    try {
      await withBrowser(async (browser) => {
        const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
        page.setDefaultTimeout(20_000);
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        await page.goto(`${c.url}/dashboard/`);
        const card = page.locator(testid("card-jobs"));
        await card.locator(`${testid("jobs-active")} ${jobRow(sleepers.id)}`).waitFor();
        await card.locator(`${testid("jobs-active")} ${jobRow(parked.id)}`).waitFor();

        // The bar moves as the worker finishes tasks, and says so to assistive technology.
        const bar = card.locator(`${jobRow(sleepers.id)} ${testid("job-progress")}`);
        assert.equal(await bar.getAttribute("role"), "progressbar");
        assert.equal(await bar.getAttribute("data-total"), "300");
        await worker.waitFor(/worker started/, 30_000);
        const finished = async () => Number(await bar.getAttribute("data-finished"));
        const first = await eventually(async () => {
          const f = await finished();
          return f > 0 && f < 300 ? f : 0;
        }, 20_000);
        await eventually(async () => {
          const f = await finished();
          return f > first || !(await bar.isVisible().catch(() => false));
        }, 20_000);
        assert.ok(
          Number(await bar.getAttribute("aria-valuenow").catch(() => "100")) > 0,
          "aria-valuenow moved",
        );
        assert.match(
          await card.locator(`${jobRow(sleepers.id)} ${testid("job-figures")}`).innerText(),
          /\/s[\s\S]*ETA/,
        );
        await page.screenshot({ path: `${ARTIFACTS}/jobs-panel.png`, fullPage: true });

        // Its view: counts per status, the first result lines, its failures.
        await card.locator(`${jobRow(sleepers.id)} ${testid("job-open")}`).click();
        const view = card.locator(`${testid("job-view")}[data-id="${sleepers.id}"]`);
        await view.waitFor();
        await page.waitForFunction(
          `Number(document.querySelector('[data-testid="job-count-completed"]')?.dataset.value) > 0`,
        );
        assert.equal(
          await view.locator(testid("job-count-total")).getAttribute("data-value"),
          "300",
        );
        await eventually(
          async () => (await view.locator(testid("job-result-line")).count()) === 20,
          20_000,
        );
        assert.match(await view.locator(testid("job-results")).innerText(), /#0 .*sleptMs/);
        await view.locator(`${testid("job-failures")} li`).first().waitFor();
        assert.match(await view.locator(testid("job-failures")).innerText(), /#59 handler/);
        await view.scrollIntoViewIfNeeded();
        await card.screenshot({ path: `${ARTIFACTS}/jobs-panel-view.png` });

        // Cancel the parked job from the card: it is listed as cancelled.
        const cancel = card.locator(`${jobRow(parked.id)} ${testid("job-cancel")}`);
        assert.equal(await cancel.getAttribute("aria-label"), "Cancel job Parked echoes");
        await cancel.click();
        await card.locator(`${testid("jobs-recent")} ${jobRow(parked.id)}[data-status="cancelled"]`)
          .waitFor();
        assert.equal((await c.call("GET", `/jobs/${parked.id}`)).body.status, "cancelled");

        // Render: the mosaic is a job of its own, listed like the others, and its tiles paint.
        await page.click(testid("render-button"));
        const mosaicJob = await eventually(async () =>
          (await c.call("GET", "/jobs")).body.jobs.find((j: any) => j.name === "Live mosaic")
        );
        assert.equal(mosaicJob.type, "mandelbrot.tile");
        assert.equal(mosaicJob.counts.total, 64);
        await card.locator(jobRow(mosaicJob.id)).waitFor();
        await page.waitForFunction(
          `(m => m && m.total === "64" && m.painted === "64")(document.querySelector('[data-testid="mosaic"]')?.dataset)`,
          undefined,
          { timeout: 30_000 },
        );
        await card.locator(`${jobRow(mosaicJob.id)}[data-status="completed"]`).waitFor();
        await page.screenshot({ path: `${ARTIFACTS}/jobs-panel-mosaic.png`, fullPage: true });
        await page.emulateMedia({ colorScheme: "dark" });
        await page.setViewportSize({ width: 390, height: 844 });
        await card.scrollIntoViewIfNeeded();
        await card.screenshot({ path: `${ARTIFACTS}/jobs-panel-phone-dark.png` });
        assert.deepEqual(errors, [], "no errors in the page");
        await page.close();
      });
    } finally {
      worker.kill("SIGKILL");
      await worker.status;
    }
  },
});
