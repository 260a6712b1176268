/**
 * The thread that compresses bundle files (see compress.ts): gzip first (fast), then brotli at
 * its best quality (seconds for the shared chunk), each posted back as soon as it is made.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { brotliCompressSync, gzipSync } from "node:zlib";

self.onmessage = (e: MessageEvent<{ id: number; bytes: Uint8Array }>) => {
  const { id, bytes } = e.data;
  const gzip = new Uint8Array(gzipSync(bytes, { level: 9 }));
  self.postMessage({ id, encoding: "gzip", bytes: gzip }, [gzip.buffer]);
  const br = new Uint8Array(brotliCompressSync(bytes));
  self.postMessage({ id, encoding: "br", bytes: br }, [br.buffer]);
};
