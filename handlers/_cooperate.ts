/**
 * Cooperative checkpoints for long synchronous loops in handlers.
 *
 * A loop that never yields cannot observe an abort that arrives as an event (a timer, a message
 * from the parent of a Web Worker): the signal only flips when the event loop runs. A checkpoint
 * therefore checks the signal, reports progress and, at most every `sliceMs` of wall time, yields
 * to the event loop with a zero-delay timer so pending aborts can be delivered. Timing only
 * decides when to yield; it never reaches a result, so results stay deterministic.
 *
 * Portable: uses only `setTimeout` and `performance.now`, available in browser Web Workers and
 * Deno alike.
 *
 * @module
 */
import type { HandlerContext } from "./contract.ts";

/** Default wall-time budget between two yields to the event loop, in ms. */
export const YIELD_EVERY_MS = 50;

/**
 * Resolves on a later macrotask, letting timers and messages (for example an abort) run. A
 * message to itself, not `setTimeout(0)`: browsers hold a timer set from a timer's callback five
 * deep to 4 ms, and a thread that starts its next task as the last one ends (staging) chains
 * every yield of every task into one such nest, so each yield slept 4 ms doing nothing.
 */
export function yieldToEventLoop(): Promise<void> {
  if (typeof MessageChannel !== "function") {
    return new Promise((resolve) => setTimeout(resolve, 0));
  }
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
    port2.close();
  });
}

/**
 * Returns a checkpoint function for `ctx`: each call throws the signal's reason if it has been
 * aborted, reports `fraction` as progress, and yields to the event loop when `sliceMs` have passed
 * since the last yield (then checks the signal again).
 */
export function checkpointer(
  ctx: HandlerContext,
  sliceMs: number = YIELD_EVERY_MS,
): (fraction: number) => Promise<void> {
  let lastYield = performance.now();
  return async (fraction: number): Promise<void> => {
    ctx.signal.throwIfAborted();
    ctx.progress(fraction);
    if (performance.now() - lastYield >= sliceMs) {
      await yieldToEventLoop();
      lastYield = performance.now();
      ctx.signal.throwIfAborted();
    }
  };
}
