import assert from "node:assert/strict";
import { createLogger } from "../shared/logger.ts";
import { repeat } from "./repeat.ts";

const log = createLogger({ format: "text", level: "error" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("repeat() never runs a job twice at once, and keeps going after a failure", async () => {
  let running = 0, most = 0, runs = 0;
  const job = repeat(log, "probe", 5, async () => {
    running++;
    most = Math.max(most, running);
    runs++;
    await sleep(20);
    running--;
    if (runs === 1) throw new Error("once");
  });
  await sleep(120);
  await job.stop();
  assert.equal(most, 1);
  assert.ok(runs >= 3, `${runs} runs`);
});

Deno.test("repeat().stop() waits for the run in progress, and no run starts after it", async () => {
  let done = false, after = 0, stopped = false;
  const job = repeat(log, "probe", 5, async () => {
    if (stopped) after++;
    await sleep(30);
    done = true;
  });
  await job.now();
  done = false;
  const inFlight = job.now();
  await job.stop();
  stopped = true;
  assert.equal(done, true);
  await inFlight;
  await sleep(30);
  assert.equal(after, 0);
});
