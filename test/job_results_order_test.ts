/**
 * Completion-order streams tolerate commits that land out of order: an entry stamped before the
 * newest line sent, committed after it, still comes, once. Entries are written straight into the
 * KV of a real coordinator (as a late commit of another process would land).
 */
import assert from "node:assert/strict";
import type { JobResultLine } from "../shared/protocol.ts";
import { eventually, testCoordinator } from "./_helpers.ts";
import { jobCountKey, jobDoneKey, jobKey, jobTaskId } from "../coordinator/store/keys.ts";
import type { JobRecord } from "../coordinator/jobs/job_record.ts";

Deno.test("a following completion-order stream sends a late-landing entry once, and ends when the job finishes", async () => {
  await using c = await testCoordinator();
  const kv = c.ctx.kv;
  const { body } = await c.call("POST", "/jobs", { type: "demo.echo", inputs: [], open: true });
  const id: string = body.id;
  const entry = (i: number) =>
    new TextEncoder().encode(
      JSON.stringify({ index: i, id: jobTaskId(id, i), status: "completed", result: i }).slice(
        0,
        -1,
      ),
    );
  const put = (i: number, at: number) => kv.set(jobDoneKey(id, at, jobTaskId(id, i)), entry(i));

  const lines: JobResultLine[] = [];
  const res = await fetch(`${c.api}/jobs/${id}/results?follow=1`);
  const reading = (async () => {
    let buf = "";
    for await (const s of res.body!.pipeThrough(new TextDecoderStream())) {
      buf += s;
      for (let nl; (nl = buf.indexOf("\n")) >= 0; buf = buf.slice(nl + 1)) {
        lines.push(JSON.parse(buf.slice(0, nl)));
      }
    }
  })();
  const now = Date.now();
  await put(0, now - 3000);
  await put(2, now - 1500);
  await eventually(() => lines.length === 2, 10_000).catch((e) => {
    throw new Error(`${e.message}: ${JSON.stringify(lines)}`);
  });
  // Stamped before the newest line sent, landing after it (a slow commit elsewhere).
  await put(1, now - 2000);
  await eventually(() => lines.length === 3, 10_000).catch((e) => {
    throw new Error(`3: ${e.message}: ${JSON.stringify(lines)}`);
  });
  assert.deepEqual(lines.map((l) => l.index), [0, 2, 1]);

  // Closed with every task counted as ended: the stream ends, with nothing sent twice.
  const job = (await kv.get<JobRecord>(jobKey(id))).value!;
  await kv.atomic()
    .set(jobKey(id), { ...job, open: false, closedAt: Date.now(), nextIndex: 3 })
    .sum(jobCountKey(id, "completed"), 3n)
    .commit();
  await reading;
  assert.deepEqual(lines.map((l) => l.index), [0, 2, 1]);
  // Resuming after the second line sends only what came after it in that stream's order.
  const after = await fetch(
    `${c.api}/jobs/${id}/results?after=${encodeURIComponent(lines[0].cursor)}`,
  );
  const rest = (await after.text()).trim().split("\n").map((l) => JSON.parse(l).index);
  assert.deepEqual(rest, [1, 2], "key order after the cursor: the late entry sorts by its time");
});
