// The SDK from outside the repository: /client.js imported over HTTP by `deno run` in a temp
// folder, and /client.tgz installed with npm into a temp Node project; both against a real
// coordinator with a real worker process.
import assert from "node:assert/strict";
import { clientBundle } from "../coordinator/http/client_assets.ts";
import { testCoordinator } from "./_helpers.ts";
import { spawnWorker } from "./_worker_helpers.ts";
import { hasChromium, withBrowser } from "./_browser.ts";

// The build is skipped when dist/client/ is fresh (deno task build made it).
await clientBundle.build();

async function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, cwd, env, stdin: "null" }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

const SCRIPT = (importFrom: string, api: string) => `
import { createClient } from ${JSON.stringify(importFrom)};
const tessera = createClient({ baseUrl: ${JSON.stringify(api)} });
const task = await tessera.submit("demo.echo", { hello: "outside" });
const echoed = await tessera.wait(task.id, { timeoutMs: 30000 });
const job = await tessera.createJob("primes.count", [{ from: 0, to: 100 }, { from: 100, to: 200 }]);
const counts = [];
for await (const line of job.results({ follow: true, order: "input" })) counts.push(line.result.count);
const mapped = await tessera.map("demo.echo", [1, 2, 3].map((n) => ({ n })));
console.log(JSON.stringify({ echoed, counts, mapped, status: (await job.status()).status }));
`;
const EXPECTED = {
  echoed: { hello: "outside" },
  counts: [25, 21],
  mapped: [{ n: 1 }, { n: 2 }, { n: 3 }],
  status: "completed",
};

Deno.test("GET /client.js answers with an ETag, 304 to If-None-Match, gzip when accepted", async () => {
  await using c = await testCoordinator();
  const first = await fetch(`${c.url}/client.js`);
  assert.equal(first.status, 200);
  assert.match(first.headers.get("content-type") ?? "", /javascript/);
  const etag = first.headers.get("etag");
  assert.ok(etag);
  assert.match(await first.text(), /createClient/);
  const again = await fetch(`${c.url}/client.js`, { headers: { "if-none-match": etag } });
  assert.equal(again.status, 304);
  await again.body?.cancel();
  // Gzipped to those who accept it (fetch does), as a representation with its own ETag.
  const plain = await fetch(`${c.url}/client.js`, { headers: { "accept-encoding": "identity" } });
  assert.equal(plain.headers.get("content-encoding"), null);
  assert.notEqual(plain.headers.get("etag"), etag);
  assert.equal(plain.headers.get("vary"), "accept-encoding");
  await plain.body?.cancel();
  const tgz = await fetch(`${c.url}/client.tgz`);
  assert.equal(tgz.headers.get("content-type"), "application/gzip");
  assert.ok((await tgz.bytes()).length > 1000);
});

// One coordinator and one worker process for both: a worker takes seconds to start.
Deno.test("the SDK from outside the repository, on a coordinator with a worker process", async (t) => {
  await using c = await testCoordinator();
  const w = spawnWorker(["--coordinator", c.url]);
  try {
    await t.step(
      "a Deno script in a temp folder imports /client.js and runs tasks and a job",
      async () => {
        const dir = await Deno.makeTempDir({ prefix: "tessera-deno-client-" });
        try {
          await Deno.writeTextFile(`${dir}/main.ts`, SCRIPT(`${c.url}/client.js`, c.api));
          const host = new URL(c.url).host;
          const out = await run(
            Deno.execPath(),
            [
              "run",
              "--no-config",
              `--allow-import=${host}`,
              `--allow-net=${host}`,
              "main.ts",
            ],
            dir,
            { DENO_DIR: `${dir}/.deno` },
          );
          assert.equal(out.code, 0, out.stderr);
          assert.deepEqual(JSON.parse(out.stdout), EXPECTED);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
    await t.step(
      "a Node project npm-installs /client.tgz and runs tasks and a job with it",
      async () => {
        const dir = await Deno.makeTempDir({ prefix: "tessera-node-client-" });
        try {
          await Deno.writeTextFile(
            `${dir}/package.json`,
            JSON.stringify({
              name: "uses-tessera",
              version: "1.0.0",
              private: true,
              type: "module",
            }),
          );
          const install = await run("npm", [
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            `${c.url}/client.tgz`,
          ], dir);
          assert.equal(install.code, 0, install.stderr);
          const pkg = JSON.parse(
            await Deno.readTextFile(`${dir}/node_modules/@tessera/client/package.json`),
          );
          assert.equal(pkg.types, "./client.d.ts");
          for (
            const f of [
              "client.d.ts",
              "protocol.d.ts",
              "client/errors.d.ts",
              "node_modules/zod/index.d.cts",
            ]
          ) {
            await Deno.stat(`${dir}/node_modules/@tessera/client/${f}`);
          }
          await Deno.writeTextFile(`${dir}/main.mjs`, SCRIPT("@tessera/client", c.api));
          const out = await run("node", ["main.mjs"], dir);
          assert.equal(out.code, 0, out.stderr);
          assert.deepEqual(JSON.parse(out.stdout), EXPECTED);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
    await t.step({
      name: "a page in Chromium imports /client.js and runs a job with it",
      ignore: !hasChromium(),
      fn: () =>
        withBrowser(async (browser) => {
          const page = await browser.newPage();
          await page.goto(`${c.url}/api/health`);
          const got = await page.evaluate(async (api) => {
            const { createClient } = await import("/client.js");
            const tessera = createClient({ baseUrl: api });
            const job = await tessera.createJob("demo.echo", [{ n: 1 }, { n: 2 }]);
            const lines = [];
            for await (const l of job.results({ follow: true, order: "input" })) {
              lines.push(l.result);
            }
            return { lines, mapped: await tessera.map("demo.echo", [{ n: 3 }]) };
          }, c.api);
          assert.deepEqual(got, { lines: [{ n: 1 }, { n: 2 }], mapped: [{ n: 3 }] });
        }),
    });
  } finally {
    w.kill();
    await w.status;
  }
});
