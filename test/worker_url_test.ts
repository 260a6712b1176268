/**
 * `deno run -A http://HOST:PORT/worker.js`: the worker from a coordinator, in a folder that holds
 * no copy of the repository.
 */
import { match, ok, strictEqual } from "node:assert/strict";
import { WorkerRelease } from "../shared/protocol.ts";
import { withCoordinator } from "./_worker_helpers.ts";

async function run(args: string[], env: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "tessera-no-repo-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", ...args],
      cwd: dir,
      env: { TESSERA_CACHE_DIR: `${dir}/cache`, ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("GET /worker.js loads the current versioned bundle, which runs tasks in its sandboxed threads with --coordinator defaulting to that origin", async () => {
  await withCoordinator(async (c) => {
    const release = WorkerRelease.parse((await c.api("GET", "/worker")).body);
    match(release.url, /^\/worker\/[0-9a-f]{64}\.js$/);
    const bundle = await fetch(`${c.url}${release.url}`);
    strictEqual(bundle.headers.get("cache-control"), "public, max-age=31536000, immutable");
    await bundle.body?.cancel();
    const loader = await fetch(`${c.url}/worker.js`);
    match(loader.headers.get("content-type")!, /javascript/);
    await loader.body?.cancel();

    const help = await run([`${c.url}/worker.js`, "--help"], {});
    strictEqual(help.code, 0, help.stderr);
    match(help.stdout, /--coordinator-key/);

    const [id] = await c.submit([{ type: "demo.echo", params: { from: "a url" } }]);
    // No --coordinator: the origin /worker.js came from.
    const worker = await run([`${c.url}/worker.js`, "--max-tasks", "1", "--concurrency", "1"], {});
    strictEqual(worker.code, 0, worker.stderr);
    ok(worker.stderr.includes(`coordinator=${c.url}`), worker.stderr);
    const [t] = await c.settle([id!]);
    strictEqual(t!.status, "completed");
    strictEqual((t!.result as { from: string }).from, "a url");
  });
});
