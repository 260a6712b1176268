/**
 * `hashchain.sha512`: the last link of a SHA-512 hash chain, computed by WebAssembly.
 *
 * `h0 = SHA-512(UTF-8 seed)`, `h(k+1) = SHA-512(h(k))`; the result is `h(iterations)` in hex.
 * The hot loop is AssemblyScript (`assembly/sha512.ts`) compiled to a 2.2 KB WebAssembly
 * module whose bytes are inside this pack (`_sha512_wasm.ts`), so the bundle the coordinator
 * serves is one self-contained file.
 *
 * @module
 */
import { defineHandler } from "tessera/handler";
import { params, result, runChain, spotCheck } from "./_chain.ts";
import { wasmEngine } from "./_wasm_engine.ts";

export default defineHandler({
  type: "hashchain.sha512",
  description: "Last link of a SHA-512 hash chain (WebAssembly, compiled from AssemblyScript)",
  params,
  result,
  // Deterministic, so two volunteers must agree before a result is accepted.
  verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 4 },
  timeoutMs: 120_000,
  maxTimeoutMs: 600_000,
  samples: spotCheck,
  async run(p, ctx) {
    return await runChain(await wasmEngine(), p, ctx);
  },
});
