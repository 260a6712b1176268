/**
 * Compresses bundle files off the coordinator's event loop: node:zlib in Deno compresses on the
 * calling thread even through its callback API, and brotli at quality 11 takes seconds for the
 * 454 KB shared chunk, so one Web Worker does it (started when there is work, ended when there is none).
 *
 * @module
 */

export interface Compressed {
  gzip: Promise<Uint8Array<ArrayBuffer>>;
  /** Null until made; gzip is served meanwhile. */
  br: Uint8Array<ArrayBuffer> | null;
}

let thread: Worker | null = null;
let nextId = 0;
const waiting = new Map<number, { gzip: (b: Uint8Array<ArrayBuffer>) => void; c: Compressed }>();

export function compress(bytes: Uint8Array): Compressed {
  if (!thread) {
    thread = new Worker(new URL("./compress_thread.ts", import.meta.url), { type: "module" });
    thread.onmessage = (
      e: MessageEvent<{ id: number; encoding: string; bytes: Uint8Array<ArrayBuffer> }>,
    ) => {
      const w = waiting.get(e.data.id);
      if (!w) return;
      if (e.data.encoding === "gzip") w.gzip(e.data.bytes);
      else {
        w.c.br = e.data.bytes;
        waiting.delete(e.data.id);
        // Idle threads are not kept: files are compressed once per process anyway.
        if (waiting.size === 0) {
          thread?.terminate();
          thread = null;
        }
      }
    };
  }
  const id = nextId++;
  let resolve!: (b: Uint8Array<ArrayBuffer>) => void;
  const c: Compressed = { gzip: new Promise((r) => (resolve = r)), br: null };
  waiting.set(id, { gzip: resolve, c });
  thread.postMessage({ id, bytes });
  return c;
}
