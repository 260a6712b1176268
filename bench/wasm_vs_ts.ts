/**
 * WebAssembly vs plain TypeScript in a pack (`examples/hashchain`): the same SHA-512 chain as
 * AssemblyScript compiled to WebAssembly and as TypeScript (and noble-hashes' SHA-512 as a
 * reference), in Deno and in a Chromium Web Worker; and what loading the pack costs the first
 * time: each handler bundled as one minified ES module (`deno bundle --minify`, zod included),
 * its size raw, gzip and brotli, and in a fresh thread the import, the first run (decode,
 * compile, instantiate) and a second run.
 *
 * Standalone: `deno run -A bench/wasm_vs_ts.ts [steps] [rounds]`, or `deno task bench wasm`.
 *
 * @module
 */
import { brotliCompressSync, gzipSync } from "node:zlib";
import { launchBrowser } from "../test/_browser.ts";
import { fmt, progress, REPO_ROOT } from "./_util.ts";
import type { LoadCost, Throughput } from "./_wasm_vs_ts_probe.ts";
import { wasmBytes } from "../examples/hashchain/_wasm_engine.ts";
import { SHA512_WASM_BASE64 } from "../examples/hashchain/_sha512_wasm.ts";

const PACK = "examples/hashchain";

interface Side {
  load: LoadCost;
  throughput: Throughput;
}

async function bundle(entry: string, out: string, extra: string[] = []): Promise<Uint8Array> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--minify", "--platform", "browser", ...extra, "-o", out, entry],
    cwd: REPO_ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`deno bundle ${entry}: ${new TextDecoder().decode(stderr)}`);
  return await Deno.readFile(out);
}

async function denoSide(bundleUrl: string, steps: number, rounds: number): Promise<Side> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "bench/_wasm_vs_ts_deno.ts",
      bundleUrl,
      String(steps),
      String(rounds),
    ],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

async function chromiumSide(dir: string, steps: number, rounds: number): Promise<Side> {
  const types: Record<string, string> = { js: "text/javascript", html: "text/html" };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const name = new URL(req.url).pathname.slice(1) || "index.html";
    if (!/^[a-z0-9_.]+$/.test(name)) return new Response("not found", { status: 404 });
    try {
      const body = await Deno.readFile(`${dir}/${name}`);
      return new Response(body, {
        headers: { "content-type": types[name.split(".").pop()!] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    const answer = await page.evaluate(
      ({ steps, rounds }) =>
        new Promise<Side | { error: string }>((resolve) => {
          const worker = new Worker("/worker.js", { type: "module" });
          worker.onmessage = (e) => resolve(e.data);
          worker.onerror = (e) => resolve({ error: e.message });
          worker.postMessage({ bundleUrl: `${location.origin}/sha512.js`, steps, rounds });
        }),
      { steps, rounds },
    );
    if ("error" in answer) throw new Error(answer.error);
    return answer;
  } finally {
    await browser.close();
    await server.shutdown();
  }
}

/** Runs the benchmark; resolves with its figures (rates in steps/s, times in ms, sizes in bytes). */
export async function benchWasmVsTs(steps = 50_000, rounds = 15): Promise<Record<string, number>> {
  const dir = await Deno.makeTempDir({ prefix: "tessera-wasm-bench-" });
  try {
    progress("bundling the pack's handlers and the browser probe (deno bundle --minify)");
    const wasmBundle = await bundle(`${PACK}/sha512_chain.ts`, `${dir}/sha512.js`);
    const tsBundle = await bundle(`${PACK}/sha512_chain_ts.ts`, `${dir}/sha512_ts.js`);
    // What each handler adds once zod is a chunk shared by the grid's handlers.
    const noZod = ["--external", "zod"];
    const wasmOwn = await bundle(`${PACK}/sha512_chain.ts`, `${dir}/own_wasm.js`, noZod);
    const tsOwn = await bundle(`${PACK}/sha512_chain_ts.ts`, `${dir}/own_ts.js`, noZod);
    await bundle("bench/_wasm_vs_ts_worker.ts", `${dir}/worker.js`);
    await Deno.writeTextFile(`${dir}/index.html`, "<!doctype html><title>wasm vs ts</title>");
    progress(`Deno: a fresh process, ${rounds} × ${steps} steps per engine`);
    const deno = await denoSide(`file://${dir}/sha512.js`, steps, rounds);
    progress(`Chromium: a module Web Worker, ${rounds} × ${steps} steps per engine`);
    const chromium = await chromiumSide(dir, steps, rounds);
    const sizes = (b: Uint8Array) => ({
      raw: b.length,
      gzip: gzipSync(b, { level: 9 }).length,
      br: brotliCompressSync(b).length,
    });
    const wasmSize = sizes(wasmBundle);
    const tsSize = sizes(tsBundle);
    return {
      denoWasmPerS: deno.throughput.wasmPerS,
      denoTsPerS: deno.throughput.tsPerS,
      denoNoblePerS: deno.throughput.noblePerS,
      denoWasmOverTs: deno.throughput.wasmOverTs,
      denoWasmOverNoble: deno.throughput.wasmOverNoble,
      chromiumWasmPerS: chromium.throughput.wasmPerS,
      chromiumTsPerS: chromium.throughput.tsPerS,
      chromiumNoblePerS: chromium.throughput.noblePerS,
      chromiumWasmOverTs: chromium.throughput.wasmOverTs,
      chromiumWasmOverNoble: chromium.throughput.wasmOverNoble,
      wasmBundleBytes: wasmSize.raw,
      wasmBundleGzipBytes: wasmSize.gzip,
      wasmBundleBrBytes: wasmSize.br,
      tsBundleBytes: tsSize.raw,
      tsBundleGzipBytes: tsSize.gzip,
      tsBundleBrBytes: tsSize.br,
      wasmModuleBytes: wasmBytes().length,
      wasmModuleBase64Bytes: SHA512_WASM_BASE64.length,
      wasmOwnBytes: wasmOwn.length,
      wasmOwnGzipBytes: sizes(wasmOwn).gzip,
      tsOwnBytes: tsOwn.length,
      tsOwnGzipBytes: sizes(tsOwn).gzip,
      ...Object.fromEntries(
        Object.entries(deno.load).map(([k, v]) => [`deno${k[0].toUpperCase()}${k.slice(1)}`, v]),
      ),
      ...Object.fromEntries(
        Object.entries(chromium.load).map((
          [k, v],
        ) => [`chromium${k[0].toUpperCase()}${k.slice(1)}`, v]),
      ),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Prints the figures of {@link benchWasmVsTs} as `deno task bench` does. */
export function printWasmVsTs(r: Record<string, number>): void {
  const rate = (x: number) => `${fmt(x / 1000)} k steps/s`;
  for (const side of ["deno", "chromium"] as const) {
    const name = side === "deno" ? "Deno" : "Chromium";
    const wasm = r[`${side}WasmPerS`], ts = r[`${side}TsPerS`], noble = r[`${side}NoblePerS`];
    console.log(
      `${name.padEnd(8)} SHA-512 chain, best round: WebAssembly ${rate(wasm)}, TypeScript ${
        rate(ts)
      }, noble-hashes ${rate(noble)}; median ratio per round: WebAssembly / TypeScript ${
        fmt(r[`${side}WasmOverTs`], 2)
      }×, / noble ${fmt(r[`${side}WasmOverNoble`], 2)}×`,
    );
  }
  const kb = (x: number) => `${fmt(x / 1024, 1)} KB`;
  console.log(
    `bundle, minified, zod included: hashchain.sha512 ${kb(r.wasmBundleBytes)} (gzip ${
      kb(r.wasmBundleGzipBytes)
    }, br ${kb(r.wasmBundleBrBytes)}); hashchain.sha512_ts ${kb(r.tsBundleBytes)} (gzip ${
      kb(r.tsBundleGzipBytes)
    }, br ${kb(r.tsBundleBrBytes)})`,
  );
  console.log(
    `the handler alone, zod external (a shared chunk): hashchain.sha512 ${
      kb(r.wasmOwnBytes)
    } (gzip ${kb(r.wasmOwnGzipBytes)}; the module is ${kb(r.wasmModuleBytes)}, ${
      kb(r.wasmModuleBase64Bytes)
    } as base64); ` +
      `hashchain.sha512_ts ${kb(r.tsOwnBytes)} (gzip ${kb(r.tsOwnGzipBytes)})`,
  );
  for (const side of ["deno", "chromium"] as const) {
    const ms = (k: string) => `${fmt(r[`${side}${k}`], 2)} ms`;
    console.log(
      `first load, ${side === "deno" ? "Deno (file)" : "Chromium (127.0.0.1)"}: import ${
        ms("ImportMs")
      }, first run ${ms("FirstRunMs")}, second run ${ms("SecondRunMs")}; decode ${
        ms("DecodeMs")
      }, compile ${ms("CompileMs")}, instantiate ${ms("InstantiateMs")}`,
    );
  }
}

if (import.meta.main) {
  const [steps, rounds] = Deno.args.map(Number);
  printWasmVsTs(await benchWasmVsTs(steps || undefined, rounds || undefined));
}
