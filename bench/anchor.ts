/**
 * The per-task speed anchor: BullMQ 6.7 on Redis with `appendfsync always` (durable), 20,000
 * no-op jobs, one Worker process with concurrency 50 (`bench/bullmq/run.sh`, the script handed
 * to us). Absolute figures drift on this machine; ratios measured in one run do not, so the
 * bench runs it before and after the sections it compares and divides by the mean.
 *
 * Needs `redis-server` (apt-get install -y redis-server), `node` and `npm`; returns null (and
 * says why) when they are missing.
 *
 * @module
 */
import { progress } from "./_util.ts";

const SCRIPT = new URL("./bullmq/run.sh", import.meta.url).pathname;

/** Completed jobs per second of one anchor run, or null if it cannot run here. */
export async function runBullmqAnchor(): Promise<number | null> {
  let out;
  try {
    out = await new Deno.Command("bash", { args: [SCRIPT], stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    progress(`BullMQ anchor skipped: ${(e as Error).message}`);
    return null;
  }
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const m = /process \(.*?=>\s*([\d,]+) jobs\/s/.exec(text);
  if (!out.success || !m) {
    progress(`BullMQ anchor skipped: ${text.trim().split("\n").at(-1) ?? "no output"}`);
    return null;
  }
  const perS = Number(m[1].replaceAll(",", ""));
  progress(`BullMQ durable (1 worker, c=50): ${perS.toLocaleString("en-US")} jobs/s`);
  return perS;
}
