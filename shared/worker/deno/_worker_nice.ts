/**
 * Lowers the CPU priority of this process's Web Worker threads (Linux only; a no-op elsewhere or
 * without the permissions). Handler threads are CPU-bound; at the same priority as the main
 * thread they delay its claims and heartbeats, and on a volunteer's machine they should yield to
 * whatever the owner is doing, as volunteer-computing clients customarily do.
 *
 * @module
 */
import { getPriority, setPriority } from "node:os";

/** Sets `niceness` on every Web Worker thread of this process that runs at a higher priority. */
export function niceWorkerThreads(niceness: number): void {
  if (Deno.build.os !== "linux" || niceness <= 0) return;
  try {
    for (const entry of Deno.readDirSync("/proc/self/task")) {
      const tid = Number(entry.name);
      // Deno names each Web Worker's thread "worker-<n>".
      const name = Deno.readTextFileSync(`/proc/self/task/${tid}/comm`).trim();
      if (!/^worker-\d+$/.test(name)) continue;
      if (getPriority(tid) < niceness) setPriority(tid, niceness);
    }
  } catch {
    // Best effort: a thread may end meanwhile, /proc may be missing or reading it denied.
  }
}
