/**
 * Browser volunteer efficiency: the donate page in headless Chromium (2 Web Workers, 100 % CPU
 * share) against a coordinator in its own process, running ~10 s worth of 50 ms CPU tasks
 * (`demo.sleep` with `cpu: true`, verification none). Efficiency = useful compute / (workers ×
 * wall), useful compute being 50 ms × completed tasks and wall the time from submitting the
 * tasks to the last result. Aim: ≥ 95 %.
 *
 * The coordinator runs with its defaults, so the anonymous page also gets its known-answer spot
 * checks (tiny tasks): they count as overhead here. Standalone:
 * `deno run -A bench/browser_efficiency.ts [taskMs] [seconds]`.
 *
 * @module
 */
import { launchBrowser } from "../test/_browser.ts";
import { buildApps } from "../coordinator/build_apps.ts";
import { fmt, post, progress, spawnCoordinator } from "./_util.ts";

const WORKERS = 2;

export interface BrowserEfficiencyOptions {
  /** CPU time of one task, in ms. @default 50 */
  taskMs?: number;
  /** Roughly how long the tasks take on all workers. @default 10 */
  seconds?: number;
}

/** Runs the benchmark; resolves with its figures (efficiency as a fraction). */
export async function benchBrowserEfficiency(
  options: BrowserEfficiencyOptions = {},
): Promise<Record<string, number>> {
  const taskMs = options.taskMs ?? 50;
  const seconds = options.seconds ?? 10;
  const count = Math.round((seconds * 1000 * WORKERS) / taskMs);
  progress("building the donate page if missing or stale");
  await buildApps();
  const coordinator = await spawnCoordinator();
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext();
    // The volunteer's saved choices: 2 workers at 100 %, and no auto-pause, so neither the tab's
    // visibility nor the machine's power can stop the run.
    await context.addInitScript(
      `localStorage.setItem("tessera.donate.prefs", ${
        JSON.stringify(JSON.stringify({
          workers: WORKERS,
          duty: 100,
          pauseWhenHidden: false,
          pauseOnBattery: false,
        }))
      })`,
    );
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    progress("opening the donate page");
    await page.goto(`${coordinator.url}/`);
    await page.click('[data-testid="start-button"]');
    await page.waitForSelector('[data-testid="status"][data-link="open"]');
    // The threads start with the first tasks: warm them (and their handler import) up first.
    const warm = await post(coordinator.api, "/tasks", {
      tasks: Array.from({ length: WORKERS * 4 }, () => task(1)),
    });
    await waitAll(coordinator.api, warm.tasks.map((t: { id: string }) => t.id));

    progress(`${count} tasks of ${taskMs} ms on ${WORKERS} browser workers`);
    const ids: string[] = [];
    const started = Date.now();
    // A first small batch, so the workers start while the coordinator takes in the rest.
    for (let i = 0; i < count;) {
      const n = Math.min(i === 0 ? WORKERS * 8 : 1000, count - i);
      const res = await post(coordinator.api, "/tasks", {
        tasks: Array.from({ length: n }, () => task(taskMs)),
      });
      ids.push(...res.tasks.map((t: { id: string }) => t.id));
      i += n;
    }
    // Tasks are leased first in, first out, so the last ones end last: awaiting a handful keeps
    // the coordinator's work (and CPU, shared with the browser) out of the measurement. The wall
    // time ends with the latest completion the coordinator recorded.
    await waitAll(coordinator.api, ids.slice(-WORKERS * 2));
    await waitAll(coordinator.api, ids);
    const { tasks } = await post(coordinator.api, "/tasks/await", { ids, waitMs: 0 });
    let ended = 0;
    for (const t of tasks as { status: string; completedAt: number }[]) {
      if (t.status !== "completed") throw new Error(`a task ended ${t.status}`);
      ended = Math.max(ended, t.completedAt);
    }
    const wallMs = ended - started;
    const shown = Number(
      await page.locator('[data-testid="tasks-done"]').getAttribute("data-value"),
    );
    await context.close();
    const useful = count * taskMs;
    return {
      tasks: count,
      taskMs,
      workers: WORKERS,
      wallMs,
      tasksPerS: count / (wallMs / 1000),
      efficiency: useful / (WORKERS * wallMs),
      shownOnPage: shown,
    };
  } finally {
    await browser.close();
    await coordinator.stop();
  }
}

function task(ms: number) {
  return {
    type: "demo.sleep",
    params: { ms, cpu: true },
    verification: { mode: "none" },
  };
}

/** Long-polls until every task has ended; throws if one did not complete. */
async function waitAll(api: string, ids: string[]): Promise<void> {
  const left = new Set(ids);
  while (left.size > 0) {
    const res = await post(api, "/tasks/await", { ids: [...left], waitMs: 10_000 });
    for (const t of res.tasks as { id: string; status: string }[]) {
      if (t.status === "pending" || t.status === "processing") continue;
      if (t.status !== "completed") throw new Error(`task ${t.id} ended ${t.status}`);
      left.delete(t.id);
    }
  }
}

if (import.meta.main) {
  const taskMs = Number(Deno.args[0] ?? 50);
  const seconds = Number(Deno.args[1] ?? 10);
  console.log("# Browser volunteer efficiency (donate page, headless Chromium)");
  const r = await benchBrowserEfficiency({ taskMs, seconds });
  console.log(
    `${fmt(r.tasks!)} tasks of ${r.taskMs} ms on ${r.workers} Web Workers in ${
      fmt(r.wallMs! / 1000, 2)
    } s: ${fmt(r.tasksPerS!, 1)} tasks/s`,
  );
  console.log(
    `useful compute / (workers × wall): ${fmt(r.efficiency! * 100, 1)} % (aim ≥ 95 %)`,
  );
}
