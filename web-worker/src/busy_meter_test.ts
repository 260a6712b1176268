import assert from "node:assert/strict";
import { createBusyMeter } from "./busy_meter.ts";

Deno.test("createBusyMeter() averages short busy bursts that an instant count would miss", () => {
  const t0 = performance.now();
  const meter = createBusyMeter(5_000, 250);
  // Two threads, each busy 30 ms of every 40 ms (27 short tasks a second between them), for 5 s.
  for (let t = 0; t < 5_000; t += 40) {
    meter.set(2, t0 + t);
    meter.set(0, t0 + t + 30);
  }
  const avg = meter.average(t0 + 5_000);
  assert.ok(Math.abs(avg - 1.5) < 0.05, `average ${avg}, want 1.5`);
});

Deno.test("createBusyMeter() forgets what is older than its window", () => {
  const t0 = performance.now();
  const meter = createBusyMeter(2_000, 250);
  meter.set(2, t0);
  meter.set(0, t0 + 2_000);
  assert.ok(Math.abs(meter.average(t0 + 2_000) - 2) < 0.01);
  assert.ok(meter.average(t0 + 3_000) <= 1.01);
  assert.equal(meter.average(t0 + 10_000), 0);
  meter.set(1, t0 + 10_000);
  assert.ok(Math.abs(meter.average(t0 + 12_000) - 1) < 0.01);
});

Deno.test("createBusyMeter() reset() starts the mean again, so idle time before a start is not counted", () => {
  const t0 = performance.now();
  const meter = createBusyMeter(5_000, 250);
  meter.reset(t0 + 3_000);
  meter.set(2, t0 + 3_000);
  assert.ok(Math.abs(meter.average(t0 + 4_000) - 2) < 0.01);
});
