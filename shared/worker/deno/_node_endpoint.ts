/**
 * A comlink endpoint over a `node:worker_threads` port (a `Worker` in the parent, `parentPort`
 * in the thread), whose messages arrive as `on("message", data)` instead of DOM events.
 *
 * @module
 */
import type * as Comlink from "comlink";

/** What of a node port this needs. */
export interface NodePort {
  // node's Transferable is its own MessagePort type, not the DOM's; the same objects at run time.
  // deno-lint-ignore no-explicit-any
  postMessage(value: unknown, transfer?: any): void;
  on(event: "message", listener: (data: unknown) => void): unknown;
  off(event: "message", listener: (data: unknown) => void): unknown;
}

export function nodeEndpoint(port: NodePort): Comlink.Endpoint {
  const listeners = new WeakMap<EventListenerOrEventListenerObject, (data: unknown) => void>();
  return {
    postMessage: (message, transfer) => port.postMessage(message, transfer),
    addEventListener(_type, handler) {
      const listener = (data: unknown) => {
        const event = { data } as MessageEvent;
        if ("handleEvent" in handler) handler.handleEvent(event);
        else handler(event);
      };
      port.on("message", listener);
      listeners.set(handler, listener);
    },
    removeEventListener(_type, handler) {
      const listener = listeners.get(handler);
      if (listener) port.off("message", listener);
      listeners.delete(handler);
    },
  };
}
