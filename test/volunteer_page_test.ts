// deno-lint-ignore-file no-explicit-any -- JSON bodies in tests
/**
 * The volunteer page as a person meets it, in real Chromium against a real coordinator: who runs
 * the grid and what its task types do, starting by itself when asked to, a status that changes
 * once per change of state, credit the coordinator checked apart from credit still pending, the
 * "donate compute" box on another site, and the small things (a radio group that answers arrow
 * keys, a status card that keeps its height, short worker ids, readable secondary text).
 *
 * One browser for the whole file; each step has its own context (its own storage), and most
 * their own coordinator. Screenshots go to test/artifacts/.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { buildApps } from "../coordinator/build_apps.ts";
import { loadAllHandlers } from "../handlers/mod.ts";
import { hasChromium, withBrowser } from "./_browser.ts";
import { eventually, REPO_ROOT, testCoordinator } from "./_helpers.ts";
import { connectSocket } from "./_socket.ts";

const ARTIFACTS = `${REPO_ROOT}test/artifacts`;
await buildApps();

const NONE = { mode: "none" } as const;
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const PROJECT = {
  projectName: "Primes for the Maths Club",
  projectDescription: "Counts primes and draws fractals for the maths club's open evening.",
  projectOwner: "Example University Maths Club",
  projectUrl: "https://maths.example.org/grid",
};

/** A context whose page starts with these choices saved (only when nothing is saved yet). */
async function newVolunteerContext(
  browser: Browser,
  viewport = DESKTOP,
  prefs: Record<string, unknown> = {},
): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport });
  const saved = { workers: 2, duty: 100, pauseWhenHidden: true, pauseOnBattery: false, ...prefs };
  await context.addInitScript(`
    try {
      if (localStorage.getItem("tessera.donate.prefs") === null) {
        localStorage.setItem("tessera.donate.prefs", ${JSON.stringify(JSON.stringify(saved))});
      }
    } catch {}
  `);
  return context;
}

/** A page that records its errors. */
async function openPage(context: BrowserContext, url: string) {
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(url);
  return { page, errors };
}

const testid = (id: string) => `[data-testid="${id}"]`;
const text = (page: Page, id: string) => page.locator(testid(id)).first().innerText();

function sleepTasks(n: number, ms: number, extra: Record<string, unknown> = {}) {
  return Array.from({ length: n }, () => ({
    type: "demo.sleep",
    params: { ms },
    verification: NONE,
    ...extra,
  }));
}

/** Every change of the status's words, with when it happened, from now on. */
async function recordStatus(page: Page): Promise<() => Promise<{ at: number; text: string }[]>> {
  // The page renders once it has the grid's manifest.
  await page.waitForSelector('[role="status"]');
  await page.evaluate(`(() => {
    const el = document.querySelector('[role="status"]');
    const log = window.__statusLog = [{ at: performance.now(), text: el.innerText }];
    new MutationObserver(() => {
      const t = el.innerText;
      if (t !== log.at(-1).text) log.push({ at: performance.now(), text: t });
    }).observe(el, { subtree: true, childList: true, characterData: true });
  })()`);
  return () => page.evaluate(`window.__statusLog`) as Promise<{ at: number; text: string }[]>;
}

const title = (entry: { text: string }) => entry.text.split("\n")[0].trim();

Deno.test({
  name: "volunteer page in Chromium",
  ignore: !hasChromium(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await withBrowser(async (browser) => {
      await t.step(
        "says who runs the grid and why, and each task type in its handler's words, from GET /api/about",
        async () => {
          await using c = await testCoordinator({ spotChecks: "off", ...PROJECT });
          const about = (await c.call("GET", "/about")).body;
          assert.deepEqual(about.project, {
            name: PROJECT.projectName,
            description: PROJECT.projectDescription,
            owner: PROJECT.projectOwner,
            url: PROJECT.projectUrl,
          });
          const context = await newVolunteerContext(browser);
          const { page, errors } = await openPage(context, `${c.url}/`);
          await page.locator(testid("project-name"), { hasText: PROJECT.projectName }).waitFor();
          assert.equal(await text(page, "project-description"), PROJECT.projectDescription);
          assert.equal(await page.title(), `${PROJECT.projectName} · donate compute`);
          const owner = await text(page, "project-owner");
          assert.match(owner, /Run by Example University Maths Club · maths\.example\.org/);
          const link = page.locator(`${testid("project-owner")} a`);
          assert.equal(await link.getAttribute("href"), PROJECT.projectUrl);
          assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
          // Every type, with the description its handler gives.
          const shown = await page.locator(`${testid("type-list")} > div`).evaluateAll((rows) =>
            rows.map((r) => ({
              type: r.querySelector("dt")!.textContent,
              description: r.querySelector("dd")!.textContent,
            }))
          );
          const handlers = await loadAllHandlers();
          const byType = (a: { type: string | null }, b: { type: string | null }) =>
            a.type! < b.type! ? -1 : 1;
          assert.deepEqual(
            shown.sort(byType),
            [...handlers.values()].map((h) => ({ type: h.type, description: h.description }))
              .sort(byType),
          );
          // The whole grid, for everyone: the console's public read-only view, not the key-only one.
          assert.equal(
            await page.locator(testid("grid-link")).getAttribute("href"),
            "/dashboard/public",
          );
          const publicView = await fetch(`${c.url}/dashboard/public`);
          await publicView.body?.cancel();
          assert.equal(publicView.status, 200, "served without a key");

          // The task now running, in words, with its progress.
          await page.click(testid("start-button"));
          await page.waitForSelector(`${testid("status")}[data-link="open"]`);
          await c.call("POST", "/tasks", { tasks: sleepTasks(2, 4000) });
          const row = page.locator(testid("running-task")).first();
          await row.waitFor();
          assert.equal(await row.getAttribute("data-type"), "demo.sleep");
          assert.match(await row.innerText(), /Waits ms milliseconds/);
          await eventually(async () => Number(await row.getAttribute("data-progress")) >= 25, 6000);
          const bar = row.locator('[role="progressbar"]');
          assert.ok(Number(await bar.getAttribute("aria-valuenow")) >= 25);
          await page.screenshot({ path: `${ARTIFACTS}/volunteer-about.png`, fullPage: true });
          assert.deepEqual(errors, []);
          await context.close();
        },
      );

      await t.step(
        "auto-start is opt-in: a reload does not start by itself until the volunteer ticks it, then it does, without a click",
        async () => {
          await using c = await testCoordinator({ spotChecks: "off" });
          const context = await newVolunteerContext(browser);
          const { page, errors } = await openPage(context, `${c.url}/`);
          const box = page.locator(testid("auto-start"));
          assert.equal(await box.isChecked(), false, "off until the volunteer says so");
          await page.reload();
          await page.waitForSelector(`${testid("start-button")}`);
          assert.equal(await page.locator(testid("status")).getAttribute("data-state"), "stopped");
          assert.equal(await page.locator(testid("status")).getAttribute("data-link"), "offline");

          await page.locator(testid("auto-start")).check();
          await page.reload();
          // No click: it connects and computes.
          await page.waitForSelector(`${testid("status")}[data-state="running"][data-link="open"]`);
          const workerId = await page.locator(testid("worker-id")).getAttribute("data-value");
          const { body } = await c.call("POST", "/tasks", {
            type: "demo.echo",
            params: { hello: "again" },
            verification: NONE,
          });
          const { body: done } = await c.call("GET", `/tasks/${body.id}?wait=10000`);
          assert.equal(done.status, "completed");
          assert.equal(done.workerId, workerId);
          assert.equal(await page.locator(testid("auto-start")).isChecked(), true);
          assert.deepEqual(errors, []);
          await context.close();
        },
      );

      await t.step(
        "the status changes once per change of state while short tasks stream through, and cores in use is averaged, not 0",
        async () => {
          await using c = await testCoordinator({ spotChecks: "off" });
          const context = await newVolunteerContext(browser);
          const { page, errors } = await openPage(context, `${c.url}/`);
          const log = await recordStatus(page);
          // Short tasks, one after another on every thread: ~20 or more a second, waiting
          // already, and topped up below for 2.5 s, so the run outlasts the page's first seconds
          // of Running by a margin however fast this machine runs them.
          const ids: string[] = [];
          const submit = async (n: number) => {
            const res = await c.call("POST", "/tasks", { tasks: sleepTasks(n, 40) });
            ids.push(...res.body.tasks.map((x: any) => x.id));
          };
          await submit(100);
          await page.click(testid("start-button"));
          await page.locator(testid("status-title"), { hasText: /^Running$/ }).waitFor();
          const runningFrom = await page.evaluate("performance.now()") as number;
          let coresSeen = 0;
          let rateSeen = 0;
          await eventually(
            async () => {
              const cores = Number(await page.locator(testid("cores")).getAttribute("data-value"));
              const rate = Number(await page.locator(testid("rate")).getAttribute("data-value"));
              coresSeen = Math.max(coresSeen, cores);
              rateSeen = Math.max(rateSeen, rate);
              const ranMs = await page.evaluate("performance.now()") as number - runningFrom;
              if (ranMs < 2500) await submit(10);
              const { body } = await c.call("POST", "/tasks/await", { ids, waitMs: 0 });
              return body.tasks.every((x: any) => x.status === "completed");
            },
            30_000,
            200,
          );
          const doneAt = await page.evaluate("performance.now()") as number;
          assert.ok(doneAt - runningFrom > 2000, `tasks ran for ${doneAt - runningFrom} ms`);
          assert.ok(rateSeen >= 5, `tasks per second ${rateSeen}`);
          assert.ok(coresSeen >= 0.5, `cores in use ${coresSeen} at ${rateSeen} tasks/s`);
          await page.locator('[role="status"]', { hasText: "waiting for work" }).waitFor();
          const changes = (await log()).map((e) => ({ ...e, title: title(e) }));
          const during = changes.filter((e) => e.at > runningFrom && e.at <= doneAt);
          assert.deepEqual(during, [], "no change while tasks ran");
          // Ready → Connecting… → Running → waiting for work: each state once, in order.
          const titles = changes.map((e) => e.title);
          assert.deepEqual(
            titles.filter((x, i) => x !== titles[i - 1]),
            titles,
            "no repeats",
          );
          assert.equal(titles[0], "Ready when you are");
          assert.equal(titles.at(-1), "Running, waiting for work");
          assert.equal(titles.filter((x) => x === "Running").length, 1, titles.join(" | "));
          assert.equal(titles.filter((x) => x.includes("waiting")).length, 1, titles.join(" | "));
          assert.deepEqual(errors, []);
          await context.close();
        },
      );

      await t.step(
        "credit: a quorum task's result is pending until a second volunteer's agrees, then checked",
        async () => {
          await using c = await testCoordinator({ spotChecks: "off" });
          const context = await newVolunteerContext(browser);
          const { page, errors } = await openPage(context, `${c.url}/`);
          await page.click(testid("start-button"));
          await page.waitForSelector(`${testid("status")}[data-link="open"]`);
          const t1 = (await c.call("POST", "/tasks", {
            type: "demo.echo",
            params: { tile: 7 },
            verification: {
              mode: "quorum",
              replicas: 2,
              agree: 2,
              maxReplicas: 2,
              adaptive: false,
            },
          })).body;
          await page.waitForSelector(`${testid("credit-pending")}[data-value="1"]`);
          assert.match(await text(page, "credit-pending"), /Waiting to be checked\s+1 task\b/);
          assert.match(await text(page, "credit-checked"), /Checked\s+0 tasks/);
          assert.match(await text(page, "credit-note"), /another volunteer's result agrees/);
          // What this page counted is "this visit", not credit.
          assert.equal(await page.locator(testid("tasks-done")).getAttribute("data-value"), "1");
          await page.screenshot({ path: `${ARTIFACTS}/volunteer-credit-pending.png` });

          // A second volunteer computes the same task and agrees.
          const other = await connectSocket(c.url);
          other.send({
            type: "hello",
            workerId: "browser-other",
            kind: "browser",
            slots: 1,
            donorId: "other-donor",
          });
          const { lease } = await other.next((m) => m.type === "lease");
          assert.equal(lease.taskId, t1.id);
          other.send({
            type: "complete",
            ref: 1,
            taskId: lease.taskId,
            leaseId: lease.leaseId,
            result: { tile: 7 },
          });
          assert.equal((await other.next((m) => m.type === "ack")).ok, true);
          assert.equal((await c.call("GET", `/tasks/${t1.id}`)).body.status, "completed");
          await page.waitForSelector(`${testid("credit-checked")}[data-value="1"]`);
          await page.waitForSelector(`${testid("credit-pending")}[data-value="0"]`);
          assert.match(await text(page, "credit-checked"), /Checked\s+1 task\b/);
          await page.screenshot({ path: `${ARTIFACTS}/volunteer-credit-checked.png` });
          await other.close();
          assert.deepEqual(errors, []);
          await context.close();
        },
      );

      await t.step(
        "embed: a page on another port adds the box with one tag; nothing runs before Start; Start there donates",
        async () => {
          await using c = await testCoordinator({ spotChecks: "off", ...PROJECT });
          const site = Deno.serve(
            { port: 0, hostname: "127.0.0.1", onListen() {} },
            () =>
              new Response(
                `<!doctype html><html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>A maths blog</title></head>
            <body style="font: 16px/1.5 sans-serif; margin: 24px; background: #fbfaf6">
            <h1>Our open evening</h1><p>Lend your browser to the club's prime count:</p>
            <script src="${c.url}/embed.js" async></script>
            <p>Thanks for reading.</p></body></html>`,
                { headers: { "content-type": "text/html; charset=utf-8" } },
              ),
          );
          try {
            const siteUrl = `http://127.0.0.1:${site.addr.port}/`;
            assert.notEqual(site.addr.port, c.port);
            for (const [viewport, name] of [[DESKTOP, "embed"], [PHONE, "embed-phone"]] as const) {
              const context = await newVolunteerContext(browser, viewport);
              const { page, errors } = await openPage(context, siteUrl);
              const iframe = page.locator("iframe[data-tessera-embed]");
              await iframe.waitFor();
              assert.equal(await iframe.getAttribute("src"), `${c.url}/embed`);
              assert.equal(await iframe.getAttribute("title"), "Donate compute");
              const box = page.frameLocator("iframe[data-tessera-embed]");
              await box.locator(testid("project-name"), { hasText: PROJECT.projectName }).waitFor();
              // Consent first: it says what Start will do, and nothing is connected yet.
              assert.match(
                await box.locator(testid("status-detail")).innerText(),
                /Nothing runs until you press Start\. .*Primes for the Maths Club until you pause/,
              );
              const detail = box.locator(testid("status-detail"));
              assert.ok(
                await detail.evaluate((e) => e.scrollHeight <= e.clientHeight),
                "the consent line is whole, not cut",
              );
              const status = box.locator(testid("status"));
              assert.equal(await status.getAttribute("data-link"), "offline");
              const workersBefore = (await c.call("GET", "/workers")).body.workers.length;
              // The iframe takes the box's height (posted by the box), within the documented bounds.
              await eventually(async () => {
                const h = (await iframe.boundingBox())!.height;
                const inner = await box.locator(testid("embed")).evaluate((e) =>
                  Math.ceil(e.getBoundingClientRect().height)
                );
                return Math.abs(h - inner) <= 1;
              });
              const width = (await iframe.boundingBox())!.width;
              assert.ok(width <= 420 && width >= 260, `iframe ${width} px wide`);
              await page.screenshot({ path: `${ARTIFACTS}/volunteer-${name}-consent.png` });
              assert.equal(
                (await c.call("GET", "/workers")).body.workers.length,
                workersBefore,
                "no worker before Start",
              );

              await box.locator(testid("start-button")).click();
              await box.locator(`${testid("status")}[data-link="open"]`).waitFor();
              const { body } = await c.call("POST", "/tasks", { tasks: sleepTasks(2, 200) });
              const done = await eventually(
                async () => {
                  const r = await c.call("POST", "/tasks/await", {
                    ids: body.tasks.map((x: any) => x.id),
                    waitMs: 0,
                  });
                  return r.body.tasks.every((x: any) => x.status === "completed")
                    ? r.body.tasks
                    : null;
                },
                15_000,
                100,
              );
              assert.match(done[0].workerId, /^browser-[0-9a-f]{8}-[0-9a-f]{6}$/);
              await box.locator(`${testid("tasks-done")}[data-value="2"]`).waitFor();
              await box.locator("summary", { hasText: "Settings" }).click();
              await box.locator(testid("cpu-share")).waitFor();
              await page.screenshot({ path: `${ARTIFACTS}/volunteer-${name}-running.png` });
              assert.deepEqual(errors, []);
              await context.close();
            }
          } finally {
            await site.shutdown();
          }
        },
      );

      await t.step(
        "small fixes: CPU share is a radio group with arrow keys, the status card keeps its height, ids are cut at a boundary, secondary text is readable",
        async () => {
          await using c = await testCoordinator({ spotChecks: "off", ...PROJECT });
          const context = await newVolunteerContext(browser);
          const { page, errors } = await openPage(context, `${c.url}/`);
          await page.waitForSelector(testid("start-button"));

          // One tab stop, the chosen share; arrows move the choice (wrapping), Home and End too.
          const radios = page.locator('[role="radiogroup"][aria-label="CPU share"] [role="radio"]');
          assert.equal(await radios.count(), 4);
          const checked = () =>
            page.locator('[role="radio"][aria-checked="true"]').getAttribute("data-duty");
          const focused = () => page.evaluate("document.activeElement?.dataset?.duty ?? null");
          const tabStops = () =>
            radios.evaluateAll((rs) =>
              rs.filter((r) => (r as unknown as { tabIndex: number }).tabIndex === 0).length
            );
          assert.equal(await checked(), "100");
          assert.equal(await tabStops(), 1);
          await page.locator('[role="radio"][aria-checked="true"]').focus();
          for (
            const [key, want] of [
              ["ArrowRight", "25"],
              ["ArrowRight", "50"],
              ["ArrowLeft", "25"],
              ["ArrowUp", "100"],
              ["Home", "25"],
              ["End", "100"],
              ["ArrowDown", "25"],
            ]
          ) {
            await page.keyboard.press(key);
            assert.equal(await checked(), want, key);
            assert.equal(await focused(), want, `focus follows ${key}`);
            assert.equal(await tabStops(), 1);
          }
          const saved = await page.evaluate(`localStorage.getItem("tessera.donate.prefs")`);
          assert.equal(JSON.parse(saved as string).duty, 25, "the choice is kept");
          await page.keyboard.press("End");

          // The worker id, cut where it has a boundary; the whole id on hover.
          const id = page.locator(testid("worker-id"));
          const full = (await id.getAttribute("data-value"))!;
          assert.equal(await id.getAttribute("title"), full);
          assert.equal(await id.innerText(), `browser-…-${full.split("-").at(-1)}`);

          // The status card's height, in every state, at desktop and phone sizes.
          const height = () =>
            page.locator(testid("status")).evaluate((e) => e.getBoundingClientRect().height);
          const states: Record<string, number[]> = {};
          const measure = async (state: string) => {
            (states[state] ??= []).push(await height());
            const cut = await page.locator(testid("status-detail")).evaluate((e) =>
              e.scrollHeight > e.clientHeight
            );
            assert.ok(!cut, `the ${state} detail fits its card`);
          };
          await measure("idle");
          await page.setViewportSize(PHONE);
          await measure("idle");
          await page.setViewportSize(DESKTOP);
          await page.click(testid("start-button"));
          await page.locator('[role="status"]', { hasText: "waiting for work" }).waitFor();
          await measure("waiting");
          await page.setViewportSize(PHONE);
          await measure("waiting");
          await page.setViewportSize(DESKTOP);
          await c.call("POST", "/tasks", { tasks: sleepTasks(4, 10_000) });
          await page.locator(testid("status-title"), { hasText: /^Running$/ }).waitFor();
          await measure("running");
          await page.setViewportSize(PHONE);
          await measure("running");
          await page.setViewportSize(DESKTOP);
          await page.click(testid("pause-button"));
          await page.locator('[role="status"]', { hasText: "Paused by you" }).waitFor();
          assert.equal(await text(page, "cores"), "0 / 2", "paused: no core in use");
          await measure("paused");
          await page.setViewportSize(PHONE);
          await measure("paused");
          await page.screenshot({
            path: `${ARTIFACTS}/volunteer-phone-paused.png`,
            fullPage: true,
          });
          const desktop = Object.values(states).map((h) => h[0]);
          const phone = Object.values(states).map((h) => h[1]);
          assert.equal(new Set(desktop).size, 1, `desktop heights ${JSON.stringify(states)}`);
          assert.equal(new Set(phone).size, 1, `phone heights ${JSON.stringify(states)}`);

          // Secondary text: every muted or small text on the page, light and dark, ≥ 4.5:1
          // against what is really behind it.
          for (const scheme of ["light", "dark"] as const) {
            await page.emulateMedia({ colorScheme: scheme });
            await page.setViewportSize(DESKTOP);
            const worst = await page.evaluate(CONTRAST_SCAN) as {
              ratio: number;
              text: string;
              count: number;
            };
            assert.ok(worst.count >= 10, `${worst.count} secondary texts measured`);
            assert.ok(
              worst.ratio >= 4.5,
              `${scheme}: "${worst.text}" has contrast ${worst.ratio.toFixed(2)}:1`,
            );
          }
          await page.screenshot({ path: `${ARTIFACTS}/volunteer-dark.png`, fullPage: true });

          // Every symbol the page writes has a glyph in this Chromium's fonts (a missing one, like
          // the dashboard's old key, draws as a box: the same pixels as an unassigned codepoint).
          const boxes = await page.evaluate(`(${MISSING_GLYPHS})("◐☀☾")`) as string[];
          assert.deepEqual(boxes, [], `drawn as boxes: ${boxes.join(" ")}`);
          assert.deepEqual(errors, []);
          await context.close();
        },
      );
    });
  },
});

/** The non-ASCII characters of the page's text (and `extra`) that its fonts have no glyph for. */
const MISSING_GLYPHS = `(extra) => {
  const chars = new Set([...document.body.innerText + extra].filter((c) =>
    c.codePointAt(0) > 0x7e && !/\\s/.test(c)
  ));
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 40;
  const ctx = canvas.getContext("2d");
  const family = getComputedStyle(document.body).fontFamily;
  const draw = (c) => {
    ctx.clearRect(0, 0, 40, 40);
    ctx.font = "24px " + family;
    ctx.fillText(c, 4, 30);
    return ctx.getImageData(0, 0, 40, 40).data.join();
  };
  const box = draw("\\u{10FFFD}");
  return [...chars].filter((c) => draw(c) === box);
}`;

/**
 * The lowest contrast among the page's secondary texts (`.muted` and small print, and their
 * text-bearing descendants): the text colour, with its opacity and its ancestors', against the
 * first opaque background behind it, WCAG 2 relative luminance.
 */
const CONTRAST_SCAN = `(() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const over = (fg, bg) => ({
    r: fg.r * fg.a + bg.r * (1 - fg.a),
    g: fg.g * fg.a + bg.g * (1 - fg.a),
    b: fg.b * fg.a + bg.b * (1 - fg.a),
  });
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg && bg.a > 0) { layers.push(bg); if (bg.a >= 1) break; }
    }
    let color = { r: 255, g: 255, b: 255 };
    for (const l of layers.reverse()) color = over(l, color);
    return color;
  };
  const opacity = (el) => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o;
  };
  const els = [...document.querySelectorAll(".muted, small, .small, .muted *")].filter((e) =>
    [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()) &&
    e.getClientRects().length > 0 && !e.closest(":disabled, [aria-disabled=true]") &&
    !e.closest("label:has(input:disabled)")
  );
  let worst = { ratio: Infinity, text: "", count: els.length };
  for (const e of els) {
    const fg = parse(getComputedStyle(e).color);
    const bg = background(e);
    const shown = over({ ...fg, a: fg.a * opacity(e) }, bg);
    const [a, b] = [lum(shown), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < worst.ratio) worst = { ratio, text: e.textContent.trim().slice(0, 60), count: els.length };
  }
  return worst;
})()`;
