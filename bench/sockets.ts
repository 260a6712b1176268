/**
 * Simulated socket workers (1 slot each) on one coordinator: its memory, how long a submitted
 * task takes to be pushed to an idle worker (lease latency), and the rate of a burst spread over
 * them. Run with 16 and with 10,000 sockets, the burst rates compare the cost of many sockets.
 *
 * @module
 */
import { fmt, percentile, post, progress, spawnCoordinator } from "./_util.ts";

const TASKS = 3000;
/** Sockets opened at once: a burst of 10,000 handshakes is not what this measures. */
const WAVE = 500;
const LATENCY_TASKS = 1000;

export async function benchSockets(SOCKETS = 1000): Promise<Record<string, number>> {
  // Many sockets from one address: lift the per-address limit meant for the open internet.
  const c = await spawnCoordinator([
    "--max-sockets-per-address",
    "0",
    "--socket-message-rate",
    "0",
  ]);
  try {
    const rssIdle = c.rssMiB();
    const wsUrl = c.url.replace(/^http/, "ws") + "/api/ws";
    const submittedAt = new Map<number, number>();
    const latencies: number[] = [];
    let completed = 0;
    let done: () => void;
    const allDone = new Promise<void>((r) => (done = r));
    const sockets: WebSocket[] = [];
    let welcomed = 0;
    const connect = (i: number) =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(wsUrl);
        sockets.push(ws);
        let ref = 0;
        ws.onopen = () =>
          ws.send(
            JSON.stringify({ type: "hello", workerId: `sim-${i}`, kind: "other", slots: 1 }),
          );
        ws.onerror = () => reject(new Error(`socket ${i} failed`));
        ws.onmessage = (e) => {
          const m = JSON.parse(e.data);
          if (m.type === "welcome") {
            welcomed++;
            resolve();
          } else if (m.type === "lease") {
            const sent = submittedAt.get(m.lease.task.params.n);
            if (sent !== undefined) latencies.push(performance.now() - sent);
            ws.send(JSON.stringify({
              type: "complete",
              ref: ++ref,
              taskId: m.lease.taskId,
              leaseId: m.lease.leaseId,
              result: null,
            }));
          } else if (m.type === "ack" && m.ok) {
            if (++completed === TASKS) done();
          }
        };
      });
    for (let w = 0; w < SOCKETS; w += WAVE) {
      await Promise.all(
        Array.from({ length: Math.min(WAVE, SOCKETS - w) }, (_, i) => connect(w + i)),
      );
    }
    progress(`${welcomed} sockets connected`);
    await new Promise((r) => setTimeout(r, 1000));
    const rssConnected = c.rssMiB();

    // Latency: one task every 5 ms, so each finds idle workers: this measures the push itself.
    for (let n = 0; n < LATENCY_TASKS; n++) {
      submittedAt.set(n, performance.now());
      post(c.api, "/tasks", { type: "demo.echo", params: { n } });
      await new Promise((r) => setTimeout(r, 5));
    }
    while (completed < LATENCY_TASKS) await new Promise((r) => setTimeout(r, 20));
    progress(`latency phase done: ${latencies.length} leases pushed`);

    // Throughput: a burst of batches spread over the 1,000 workers.
    const t0 = performance.now();
    for (let b = LATENCY_TASKS; b < TASKS; b += 100) {
      await post(c.api, "/tasks", {
        tasks: Array.from(
          { length: 100 },
          (_, i) => ({ type: "demo.echo", params: { n: -(b + i) } }),
        ),
      });
    }
    await allDone;
    const seconds = (performance.now() - t0) / 1000;
    const rssBusy = c.rssMiB();
    for (const ws of sockets) ws.close();
    latencies.sort((a, b) => a - b);
    return {
      sockets: SOCKETS,
      rssIdleMiB: rssIdle,
      rssConnectedMiB: rssConnected,
      rssBusyMiB: rssBusy,
      kibPerSocket: ((rssConnected - rssIdle) * 1024) / SOCKETS,
      leaseLatencyP50Ms: percentile(latencies, 50),
      leaseLatencyP99Ms: percentile(latencies, 99),
      burstTasksPerS: (TASKS - LATENCY_TASKS) / seconds,
    };
  } finally {
    await c.stop();
  }
}

if (import.meta.main) {
  const r = await benchSockets();
  for (const [k, v] of Object.entries(r)) console.log(`${k}: ${fmt(v, 2)}`);
}
