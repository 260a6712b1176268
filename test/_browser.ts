/**
 * Browser tests' one way to start Chromium: Debian's `/usr/bin/chromium` (never a downloaded
 * browser) driven by playwright-core, headless, with a fresh temporary profile that Playwright
 * deletes on close. Override the binary with `TESSERA_CHROMIUM`.
 *
 * @module
 */
import { type Browser, chromium, type LaunchOptions } from "playwright-core";

export const CHROMIUM_PATH = Deno.env.get("TESSERA_CHROMIUM") ?? "/usr/bin/chromium";

/** Quiet, offline, reproducible: no sandbox (containers), no GPU, no background traffic. */
export const CHROMIUM_ARGS: readonly string[] = Object.freeze([
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic",
]);

/** Whether the Chromium binary exists (to skip browser tests cleanly where it does not). */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

/**
 * Launches Chromium. Playwright gives it a new temporary `--user-data-dir` and removes it on
 * `close()`. Extra `args` are added to {@link CHROMIUM_ARGS}.
 *
 * @example
 * ```ts
 * const browser = await launchBrowser();
 * try { ... } finally { await browser.close(); }
 * ```
 */
export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  return await chromium.launch({
    timeout: 30_000,
    ...options,
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  });
}

/**
 * Runs `fn` with a fresh browser and always closes it.
 *
 * @example
 * ```ts
 * await withBrowser(async (browser) => {
 *   const page = await browser.newPage();
 *   await page.goto(url);
 * });
 * ```
 */
export async function withBrowser<T>(
  fn: (browser: Browser) => Promise<T>,
  options: LaunchOptions = {},
): Promise<T> {
  const browser = await launchBrowser(options);
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}
