// BullMQ baseline: bulk enqueue throughput, drain throughput (1 Worker process,
// concurrency C), and add->completed latency (paced open loop + serial).
// Usage: node bullmq-bench.mjs [N=20000] [C=50] [LAT_N=2000] [LAT_RATE=500]
// Env: REDIS_HOST (127.0.0.1), REDIS_PORT (6379), BULK=1000 (addBulk chunk),
//      REMOVE_ON_COMPLETE=1 (default 0 = BullMQ default: keep completed jobs)
import { Queue, Worker } from "bullmq";
import { performance } from "node:perf_hooks";

const N = Number(process.argv[2] ?? 20000);
const C = Number(process.argv[3] ?? 50);
const LAT_N = Number(process.argv[4] ?? 2000);
const LAT_RATE = Number(process.argv[5] ?? 500); // jobs/s offered in paced run
const BULK = Number(process.env.BULK ?? 1000);
const REMOVE = process.env.REMOVE_ON_COMPLETE === "1";
const connection = {
  host: process.env.REDIS_HOST ?? "127.0.0.1",
  port: Number(process.env.REDIS_PORT ?? 6379),
  maxRetriesPerRequest: null,
};
const jobOpts = REMOVE ? { removeOnComplete: true } : {};
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];
const fmt = (x) => Math.round(x).toLocaleString("en-US");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function throughput() {
  const name = `tp-${Date.now()}`;
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  // ---- enqueue with addBulk in chunks (no worker running) ----
  const t0 = performance.now();
  for (let i = 0; i < N; i += BULK) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + BULK); j++) {
      batch.push({ name: "noop", data: { i: j }, opts: jobOpts });
    }
    await queue.addBulk(batch);
  }
  const tEnq = performance.now() - t0;
  const waiting = await queue.getWaitingCount();
  // ---- drain with one Worker (this process), concurrency C ----
  let done = 0;
  let resolveDone;
  const allDone = new Promise((r) => (resolveDone = r));
  const worker = new Worker(name, async () => {}, {
    connection,
    concurrency: C,
    autorun: false,
  });
  worker.on("completed", () => {
    if (++done === N) resolveDone();
  });
  worker.on("failed", (_j, e) => console.error("failed", e));
  await worker.waitUntilReady();
  const t1 = performance.now();
  worker.run();
  await allDone;
  const tProc = performance.now() - t1;
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  return { waiting, tEnq, tProc };
}

async function latency() {
  const name = `lat-${Date.now()}`;
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  const lat = [];
  const serial = [];
  let waiter = null;
  const worker = new Worker(name, async () => {}, { connection, concurrency: C });
  worker.on("completed", (job) => {
    const d = performance.now() - job.data.t;
    (job.data.serial ? serial : lat).push(d);
    if (waiter) {
      const w = waiter;
      waiter = null;
      w();
    }
  });
  await worker.waitUntilReady();
  await sleep(200);
  // warm-up
  for (let i = 0; i < 50; i++) {
    await queue.add("warm", { t: performance.now(), serial: true }, jobOpts);
  }
  await sleep(300);
  serial.length = 0;
  // paced open loop: LAT_N single queue.add() calls at LAT_RATE jobs/s
  const interval = 1000 / LAT_RATE;
  const start = performance.now();
  const adds = [];
  for (let i = 0; i < LAT_N; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    adds.push(queue.add("lat", { t: performance.now() }, jobOpts));
  }
  await Promise.all(adds);
  while (lat.length < LAT_N) await sleep(20);
  const offeredSecs = (performance.now() - start) / 1000;
  // serial: add one, wait for its completion, repeat (unloaded latency)
  const SERIAL_N = Math.min(500, LAT_N);
  for (let i = 0; i < SERIAL_N; i++) {
    const p = new Promise((r) => (waiter = r));
    await queue.add("ser", { t: performance.now(), serial: true }, jobOpts);
    await p;
  }
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  lat.sort((a, b) => a - b);
  serial.sort((a, b) => a - b);
  return { lat, serial, offeredSecs, SERIAL_N };
}

console.log(
  `bullmq ${
    (await import("bullmq/package.json", { with: { type: "json" } }).catch(() => ({ default: {} })))
      .default.version ?? ""
  } node ${process.version} N=${N} concurrency=${C} addBulk chunk=${BULK} removeOnComplete=${REMOVE}`,
);
if (N > 0) {
  const tp = await throughput();
  console.log(
    `enqueue (addBulk): ${N} jobs in ${tp.tEnq.toFixed(0)} ms => ${
      fmt(N / (tp.tEnq / 1000))
    } jobs/s (waiting=${tp.waiting})`,
  );
  console.log(
    `process (1 worker, c=${C}): ${N} jobs in ${tp.tProc.toFixed(0)} ms => ${
      fmt(N / (tp.tProc / 1000))
    } jobs/s`,
  );
}
if (LAT_N > 0) {
  const l = await latency();
  console.log(
    `latency paced ${LAT_N} x queue.add at ${LAT_RATE}/s (took ${
      l.offeredSecs.toFixed(1)
    } s): p50=${pct(l.lat, 50).toFixed(2)} ms p90=${pct(l.lat, 90).toFixed(2)} ms p99=${
      pct(l.lat, 99).toFixed(2)
    } ms max=${l.lat.at(-1).toFixed(2)} ms`,
  );
  console.log(
    `latency serial ${l.SERIAL_N} (add->completed, 1 in flight): p50=${
      pct(l.serial, 50).toFixed(2)
    } ms p99=${pct(l.serial, 99).toFixed(2)} ms`,
  );
}
process.exit(0);
