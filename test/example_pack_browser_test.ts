/**
 * The example WebAssembly pack runs in a browser: each `examples/hashchain` handler, bundled into
 * one ES module as a coordinator serves it (`deno bundle`, zod included), is imported by a module
 * Web Worker in real Chromium and gives every known answer. Proves the WebAssembly bytes travel
 * inside the bundle and instantiate without `Deno.*` or the DOM.
 *
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";
import { hasChromium, withBrowser } from "./_browser.ts";
import { knownAnswers } from "../examples/hashchain/_chain.ts";

const REPO = new URL("..", import.meta.url).pathname;

/** The task thread's part: import the bundle, run each params, check the result schema. */
const WORKER_JS = `
onmessage = async ({ data }) => {
  try {
    const handler = (await import(data.url)).default;
    const ctx = {
      signal: new AbortController().signal,
      progress() {},
      log: { debug() {}, info() {}, warn() {}, error() {} },
      taskId: "t",
      attempt: 1,
    };
    const results = [];
    for (const p of data.params) results.push(handler.result.parse(await handler.run(handler.params.parse(p), ctx)));
    postMessage({ type: handler.type, results });
  } catch (e) {
    postMessage({ error: String(e && e.stack || e) });
  }
};
`;

/** Bundles each entry into `outdir/<name>.js` in one `deno bundle` run. */
async function bundle(entries: string[], outdir: string): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--minify",
      "--platform",
      "browser",
      "--outdir",
      outdir,
      ...entries,
    ],
    cwd: REPO,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
}

Deno.test({
  name: "the hashchain pack's bundles give every known answer in a Chromium Web Worker",
  ignore: !hasChromium(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tessera-pack-browser-" });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const name = new URL(req.url).pathname.slice(1);
      if (name === "") {
        return new Response("<!doctype html>", { headers: { "content-type": "text/html" } });
      }
      if (!/^[a-z0-9_]+\.js$/.test(name)) return new Response("no", { status: 404 });
      return new Response(await Deno.readFile(`${dir}/${name}`), {
        headers: { "content-type": "text/javascript" },
      });
    });
    try {
      await bundle(
        ["examples/hashchain/sha512_chain.ts", "examples/hashchain/sha512_chain_ts.ts"],
        dir,
      );
      await Deno.writeTextFile(`${dir}/worker.js`, WORKER_JS);
      const origin = `http://127.0.0.1:${server.addr.port}`;
      await withBrowser(async (browser) => {
        const page = await browser.newPage();
        await page.goto(`${origin}/`);
        for (
          const [file, type] of [
            ["sha512_chain.js", "hashchain.sha512"],
            ["sha512_chain_ts.js", "hashchain.sha512_ts"],
          ]
        ) {
          const answer = await page.evaluate(
            ({ url, params }) =>
              new Promise((resolve) => {
                const worker = new Worker("/worker.js", { type: "module" });
                worker.onmessage = (e) => resolve(e.data);
                worker.onerror = (e) => resolve({ error: e.message });
                // A worker that never answers fails the test instead of hanging the suite.
                setTimeout(() => resolve({ error: "no answer from the worker in 60 s" }), 60_000);
                worker.postMessage({ url, params });
              }),
            { url: `${origin}/${file}`, params: knownAnswers.map((s) => s.params) },
          );
          deepStrictEqual(answer, { type, results: knownAnswers.map((s) => s.result) });
        }
      });
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
