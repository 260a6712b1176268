/**
 * A task pack as an operator brings it, end to end: a handler file in a folder outside the
 * repository, loaded with `--handlers`; listed in the manifest; its params checked at submit;
 * run by a Deno worker started from `http://127.0.0.1:PORT/worker.js` in a folder that holds no
 * copy of the repository, and by the donate page in Chromium; changed and reloaded while tasks
 * of the first version still wait, each task running the version it was submitted against.
 */
import assert from "node:assert/strict";
import { buildApps } from "../coordinator/build_apps.ts";
import { HandlerManifest, type Task } from "../shared/protocol.ts";
import { verifyEntry } from "../shared/packs/signature.ts";
import { hasChromium, withBrowser } from "./_browser.ts";
import { eventually, testCoordinator } from "./_helpers.ts";

if (!hasChromium()) {
  console.warn(
    "\n*** Chromium is missing (apt-get install -y chromium): the donate-page half " +
      "of the pack test is skipped ***\n",
  );
}
await buildApps();

const handlerFile = (version: number) => `
import { z } from "zod";
import { defineHandler, TaskFailure } from "tessera/handler";

export default defineHandler({
  type: "acme.square",
  description: "Squares a whole number (version ${version})",
  params: z.object({ n: z.number().int().min(0).max(1_000_000) }),
  result: z.object({ square: z.number(), version: z.number() }),
  run({ n }) {
    if (n === 13) throw new TaskFailure("handler", "unlucky", { retryable: false });
    return { square: n * n, version: ${version} };
  },
});
`;

async function manifest(api: string): Promise<HandlerManifest> {
  return HandlerManifest.parse(await (await fetch(`${api}/handlers`)).json());
}

Deno.test("a pack outside the repo runs on a worker from /worker.js and on the donate page, each task on the version it was submitted with", async () => {
  const packDir = await Deno.makeTempDir({ prefix: "tessera-acme-pack-" });
  const workDir = await Deno.makeTempDir({ prefix: "tessera-no-repo-" });
  await Deno.writeTextFile(`${packDir}/square.ts`, handlerFile(1));
  await using c = await testCoordinator({ handlers: [packDir], spotChecks: "off" });
  try {
    // Listed, signed, and its params checked at submit.
    const first = await manifest(c.api);
    const v1 = first.handlers.find((h) => h.type === "acme.square")!;
    assert.ok(v1, "acme.square is in the manifest");
    assert.ok(verifyEntry(v1, first.publicKey));
    assert.equal(v1.pack, packDir.split("/").at(-1));
    const bad = await c.call("POST", "/tasks", { type: "acme.square", params: { n: -1 } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, "params.n");

    const submit = async (queue: string, ns: number[]) => {
      const res = await c.call("POST", "/tasks", {
        tasks: ns.map((n) => ({ type: "acme.square", queue, params: { n } })),
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.tasks as Task[];
    };
    const old = [...await submit("deno", [2, 3]), ...await submit("web", [4, 5])];

    // Version 2, reloaded while the version-1 tasks still wait.
    await Deno.writeTextFile(`${packDir}/square.ts`, handlerFile(2));
    const reload = await c.call("POST", "/handlers/reload");
    assert.equal(reload.status, 200, JSON.stringify(reload.body));
    const v2 = (await manifest(c.api)).handlers.find((h) => h.type === "acme.square")!;
    assert.notEqual(v2.version, v1.version);
    const fresh = [...await submit("deno", [6, 7]), ...await submit("web", [8, 9])];
    for (const t of old) assert.equal(t.handler, v1.version);
    for (const t of fresh) assert.equal(t.handler, v2.version);

    // A server worker that joins with one command, from a folder with no repository in it.
    const worker = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", `${c.url}/worker.js`, "--queues", "deno", "--max-tasks", "4"],
      cwd: workDir,
      env: { TESSERA_CACHE_DIR: `${workDir}/cache`, DENO_DIR: `${workDir}/deno` },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(worker.stderr);
    assert.equal(worker.code, 0, stderr);

    const expect = async (tasks: Task[], version: number) => {
      for (const t of tasks) {
        const done = await eventually(
          async () => {
            const { body } = await c.call("GET", `/tasks/${t.id}`);
            return body.status === "completed" ? body as Task : null;
          },
          60_000,
          100,
        );
        const n = (t.params as { n: number }).n;
        assert.deepEqual(done!.result, { square: n * n, version }, `task n=${n}`);
      }
    };
    const inQueue = (tasks: Task[], q: string) => tasks.filter((t) => t.queue === q);
    await expect(inQueue(old, "deno"), 1);
    await expect(inQueue(fresh, "deno"), 2);

    if (!hasChromium()) return;
    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      await page.goto(`${c.url}/`);
      await page.click('[data-testid="start-button"]');
      await expect(inQueue(old, "web"), 1);
      await expect(inQueue(fresh, "web"), 2);
      const done = await c.call("GET", `/tasks/${inQueue(fresh, "web")[0].id}`);
      assert.match(done.body.workerId, /^browser-/);
      // The page lists the pack's type with its handler's own words.
      await page.getByText("Squares a whole number (version 2)").first().waitFor();
      await page.close();
    });
  } finally {
    await Deno.remove(packDir, { recursive: true });
    await Deno.remove(workDir, { recursive: true });
  }
});
