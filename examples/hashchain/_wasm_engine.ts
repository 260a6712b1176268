/**
 * The WebAssembly chain engine: the module compiled from `assembly/sha512.ts` (AssemblyScript),
 * whose bytes ship inside this pack as base64 (`_sha512_wasm.ts`), so the handler's bundle is one
 * self-contained file. Only `WebAssembly.*`, `atob` and typed arrays: runs in Deno and browsers.
 *
 * @module
 */
import type { ChainEngine } from "./_chain.ts";
import { SHA512_WASM_BASE64 } from "./_sha512_wasm.ts";

/** What the AssemblyScript module exports (see `assembly/sha512.ts`). */
interface Sha256Exports {
  memory: WebAssembly.Memory;
  inputPtr(): number;
  statePtr(): number;
  maxInput(): number;
  start(len: number): void;
  step(n: number): void;
}

/** The module's bytes, decoded from the base64 the build wrote. */
export function wasmBytes(): Uint8Array<ArrayBuffer> {
  const binary = atob(SHA512_WASM_BASE64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

let compiled: Promise<WebAssembly.Module> | undefined;

/** Compiles the module once per thread; a failed compile may be retried. */
export function wasmModule(): Promise<WebAssembly.Module> {
  if (!compiled) {
    compiled = WebAssembly.compile(wasmBytes());
    compiled.catch(() => (compiled = undefined));
  }
  return compiled;
}

/**
 * A new WebAssembly chain engine. Each engine is its own instance (its own memory), so two tasks
 * interleaved in one thread never share a chain state.
 */
export async function wasmEngine(): Promise<ChainEngine> {
  const instance = await WebAssembly.instantiate(await wasmModule(), {});
  const wasm = instance.exports as unknown as Sha256Exports;
  const memory = () => new Uint8Array(wasm.memory.buffer);
  return {
    start(seed) {
      if (seed.length > wasm.maxInput()) throw new RangeError("seed too long for the module");
      memory().set(seed, wasm.inputPtr());
      wasm.start(seed.length);
    },
    step(n) {
      wasm.step(n);
    },
    digest() {
      const at = wasm.statePtr();
      return memory().slice(at, at + 64);
    },
  };
}
