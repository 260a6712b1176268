/**
 * The server worker as one file a volunteer runs without a clone:
 * `deno run -A http://HOST:8787/worker.js`. `worker.ts` is bundled with `deno bundle` (minified,
 * npm packages inside, `node:` built-ins left to the runtime), with the task thread's own bundle
 * carried as text (its first module sets `globalThis.__tesseraThreadSource`; the worker writes
 * it to its cache dir and runs it as the no-permission thread's main module). The bundle is
 * named by its SHA-256, so it can be cached for good; `/worker.js` stays a small stable loader
 * that asks which version is current.
 *
 * @module
 */
import { sha256Hex } from "../../shared/packs/signature.ts";
import { THREAD_SOURCE_GLOBAL } from "../../shared/worker/deno/thread_entry.ts";

const REPO = new URL("../../", import.meta.url);

/** The current worker bundle: its version (SHA-256 hex) and bytes. */
export interface WorkerBundle {
  version: string;
  bytes: Uint8Array;
}

async function bundle(entry: string, out: string): Promise<string> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--config",
      new URL("deno.json", REPO).pathname,
      "--platform",
      "deno",
      "--minify",
      "-o",
      out,
      entry,
    ],
    cwd: REPO.pathname,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new Error(`deno bundle ${entry}: ${new TextDecoder().decode(result.stderr).trim()}`);
  }
  return await Deno.readTextFile(out);
}

/** Bundles `worker.ts` and its task thread (a second or two). */
export async function buildWorkerBundle(): Promise<WorkerBundle> {
  const dir = await Deno.makeTempDir({ prefix: "tessera-worker-bundle-" });
  try {
    const thread = await bundle(
      new URL("shared/worker/deno/task_process.ts", REPO).pathname,
      `${dir}/thread.js`,
    );
    // Evaluated first (imports run in order), so the worker finds its thread's text.
    await Deno.writeTextFile(
      `${dir}/thread_source.js`,
      `globalThis[${JSON.stringify(THREAD_SOURCE_GLOBAL)}] = ${JSON.stringify(thread)};\n`,
    );
    await Deno.writeTextFile(
      `${dir}/entry.js`,
      `import "./thread_source.js";\nimport ${JSON.stringify(new URL("worker.ts", REPO).href)};\n`,
    );
    // deno bundle gives CommonJS packages a `require` from `createRequire(import.meta.url)`,
    // which takes file: URLs only; they require nothing but node built-ins, which any base finds.
    const text = (await bundle(`${dir}/entry.js`, `${dir}/worker.js`)).replaceAll(
      "__deno_internal_createRequire(import.meta.url)",
      '__deno_internal_createRequire(import.meta.url.startsWith("file:") ? import.meta.url : ' +
        '"file:///tessera-worker.js")',
    );
    const bytes = new TextEncoder().encode(text);
    return { version: sha256Hex(bytes), bytes };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * `GET /worker.js`: asks the coordinator it was loaded from for the current worker and imports
 * it. Deno caches a remote main module; this one never changes, the version it fetches does.
 */
export const WORKER_LOADER =
  `// Tessera server worker: deno run -A <coordinator>/worker.js [options] (--help lists them)
const res = await fetch(new URL("/api/worker", import.meta.url));
if (!res.ok) {
  console.error(\`tessera-worker: \${import.meta.url}: GET /api/worker: HTTP \${res.status}\`);
  Deno.exit(1);
}
const { url } = await res.json();
await import(new URL(url, import.meta.url).href);
`;
