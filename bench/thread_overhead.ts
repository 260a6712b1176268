/**
 * Per-task overhead of one Deno task thread: `demo.echo` tasks run back to back through an
 * executor of size 1 (the code loaded once, then only the task crosses the pipe).
 * `deno run -A bench/thread_overhead.ts [N]`.
 *
 * @module
 */
import { createDenoExecutor } from "../shared/worker/deno/deno_executor.ts";
import { createHandlerSource } from "../shared/worker/handler_source.ts";
import type { Lease } from "../shared/protocol.ts";
import { buildPack, servePack } from "../test/_pack_server.ts";

const n = Number(Deno.args[0] ?? 3000);
await using server = servePack(
  await buildPack([new URL("../handlers/demo_echo.ts", import.meta.url).pathname]),
);
const executor = createDenoExecutor({
  size: 1,
  logLevel: "error",
  source: createHandlerSource({ origin: server.url }),
});
const lease = (i: number) =>
  ({
    leaseId: `l${i}`,
    taskId: `t${i}`,
    attempt: 1,
    expiresAt: 0,
    task: { id: `t${i}`, type: "demo.echo", params: { i }, timeoutMs: 10_000, leaseMs: 30_000 },
  }) as unknown as Lease;
const signal = new AbortController().signal;
for (let i = 0; i < 200; i++) await executor.run(lease(i), { signal, onProgress() {} });
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const o = await executor.run(lease(i), { signal, onProgress() {} });
  if (!o.ok) throw new Error(JSON.stringify(o));
}
const s = (performance.now() - t0) / 1000;
console.log(
  `${n} demo.echo through one thread: ${(n / s).toFixed(0)} tasks/s, ` +
    `${(s * 1e6 / n).toFixed(0)} µs/task`,
);
await executor.close();
