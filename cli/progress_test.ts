import assert from "node:assert/strict";
import type { Job } from "../shared/protocol.ts";
import { formatDuration, progressBar, progressLine, progressReporter } from "./progress.ts";

const job = (finished: number, total: number, over: Partial<Job> = {}): Job => ({
  id: "J1",
  name: null,
  type: "demo.echo",
  queue: "default",
  priority: 0,
  maxAttempts: 3,
  timeoutMs: null,
  verification: null,
  status: "running",
  open: false,
  counts: {
    total,
    pending: total - finished,
    processing: 0,
    completed: finished - 1,
    failed: 1,
    cancelled: 0,
  },
  progress: { finished, total, fraction: finished / total, running: [] },
  throughput: 12.5,
  etaMs: 65_000,
  createdAt: 0,
  closedAt: 0,
  finishedAt: null,
  cancelledAt: null,
  idempotencyKey: null,
  owner: null,
  callbackUrl: null,
  webhook: null,
  ...over,
});

Deno.test("progressBar() fills by the fraction and shows done/total, rate, ETA and failures", () => {
  const bar = progressBar(job(50, 200), 120);
  assert.ok(progressBar(job(50, 200), 60).length < 60, "fits a narrow terminal");
  assert.equal(bar, `[${"█".repeat(10)}${"░".repeat(30)}]  25% 50/200 12.5/s eta 1m05s failed 1`);
});

Deno.test("progressLine() is one plain line; a finished job shows no ETA", () => {
  assert.equal(
    progressLine(job(200, 200, { status: "failed", etaMs: null })),
    "job J1 failed 200/200 12.5/s failed 1 (100.0%)",
  );
  assert.equal(formatDuration(3_725_000), "1h02m");
});

Deno.test("progressReporter() on a pipe writes a line only when the job moved", () => {
  const out: string[] = [];
  const p = progressReporter({ tty: false, write: (t) => out.push(t), plainEveryMs: 0 });
  p.update(job(1, 4));
  p.update(job(1, 4));
  p.update(job(2, 4));
  p.done(job(4, 4, { status: "completed" }));
  assert.equal(out.length, 3);
  assert.ok(out.every((l) => l.endsWith("\n") && !l.includes("\r")));
});

Deno.test("progressReporter() on a terminal redraws one line in place", () => {
  const out: string[] = [];
  const p = progressReporter({ tty: true, write: (t) => out.push(t), columns: () => 60 });
  p.update(job(1, 4));
  p.update(job(2, 4));
  assert.ok(out.every((l) => l.startsWith("\r\x1b[2K[") && !l.includes("\n")));
});
