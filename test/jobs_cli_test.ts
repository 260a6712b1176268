// `deno task jobs` as a process, against a real coordinator with a real worker process.
import assert from "node:assert/strict";
import { REPO_ROOT, testCoordinator } from "./_helpers.ts";
import { spawnWorker } from "./_worker_helpers.ts";

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function jobsCli(args: string[], stdin?: string, env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "--allow-env", "cli/jobs.ts", ...args],
    cwd: REPO_ROOT,
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) } satisfies Ran;
}

const lines = (s: string) => s.split("\n").filter(Boolean);

// One coordinator and one worker process for these steps: a worker takes seconds to start.
Deno.test("deno task jobs on a coordinator with a worker process", async (t) => {
  await using c = await testCoordinator();
  const w = spawnWorker(["--coordinator", c.url, "--concurrency", "4"]);
  try {
    await t.step(
      "jobs submit waits with progress lines and exits 0; results, status and list read the job",
      async () => {
        const dir = await Deno.makeTempDir({ prefix: "tessera-cli-" });
        try {
          const inputs = Array.from(
            { length: 30 },
            (_, i) => ({ from: i * 100, to: i * 100 + 100 }),
          );
          await Deno.writeTextFile(
            `${dir}/in.ndjson`,
            inputs.map((i) => JSON.stringify(i)).join("\n"),
          );
          const submit = await jobsCli([
            "submit",
            "primes.count",
            "--inputs",
            `${dir}/in.ndjson`,
            "--name",
            "cli primes",
            "--coordinator",
            c.url,
          ]);
          assert.equal(submit.code, 0, submit.stderr);
          const [id] = lines(submit.stdout);
          assert.ok(id);
          const progress = lines(submit.stderr);
          assert.match(
            progress.at(-1)!,
            new RegExp(`^job ${id} completed 30/30 .*failed 0 \\(100\\.0%\\)$`),
          );
          assert.ok(!submit.stderr.includes("\r"), "a pipe gets plain lines, no bar");

          // The coordinator from the environment this time.
          const env = { TESSERA_COORDINATOR: c.url };
          const results = await jobsCli(["results", id, "--order", "input"], undefined, env);
          assert.equal(results.code, 0, results.stderr);
          const got = lines(results.stdout).map((l) => JSON.parse(l));
          assert.deepEqual(got.map((l) => l.index), inputs.map((_, i) => i));
          assert.equal(got.reduce((a, l) => a + l.result.count, 0), 430, "pi(3000) = 430");

          const status = await jobsCli(["status", id], undefined, env);
          assert.equal(status.code, 0);
          assert.equal(JSON.parse(status.stdout).counts.completed, 30);

          const list = await jobsCli(["list"], undefined, env);
          assert.equal(list.code, 0);
          assert.deepEqual(lines(list.stdout), [
            `${id}\tcompleted\t30/30\tprimes.count\tcli primes`,
          ]);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
    await t.step(
      "jobs submit from stdin exits 1 when a task fails; --log-format json progress",
      async () => {
        const submit = await jobsCli(
          [
            "submit",
            "demo.sleep",
            "--inputs",
            "-",
            "--max-attempts",
            "1",
            "--log-format",
            "json",
            "--coordinator",
            c.url,
          ],
          JSON.stringify([{ ms: 1 }, { ms: 1, fail: "permanent" }, { ms: 1 }]),
        );
        assert.equal(submit.code, 1, submit.stderr);
        const last = JSON.parse(lines(submit.stderr).at(-1)!);
        assert.equal(last.status, "failed");
        assert.deepEqual([last.completed, last.failed, last.total], [2, 1, 3]);
        const results = await jobsCli([
          "results",
          lines(submit.stdout)[0]!,
          "--coordinator",
          c.url,
        ]);
        assert.equal(results.code, 1, "a failed line makes results exit 1");
        assert.equal(lines(results.stdout).length, 3);
      },
    );
    await t.step(
      "jobs cancel stops a detached job; following its results ends, exit 1",
      async () => {
        const inputs = Array.from({ length: 5 }, () => JSON.stringify({ ms: 60_000 })).join("\n");
        const env = { TESSERA_COORDINATOR: c.url };
        const submit = await jobsCli(
          ["submit", "demo.sleep", "--inputs", "-", "--detach"],
          inputs,
          env,
        );
        assert.equal(submit.code, 0, submit.stderr);
        const id = lines(submit.stdout)[0]!;
        const follow = jobsCli(["results", id, "--follow"], undefined, env);
        const cancel = await jobsCli(["cancel", id], undefined, env);
        assert.equal(cancel.code, 0, cancel.stderr);
        assert.equal(JSON.parse(cancel.stdout).affected, 5);
        const followed = await follow;
        assert.equal(followed.code, 1);
        assert.ok(lines(followed.stdout).every((l) => JSON.parse(l).status === "cancelled"));
        assert.match(lines(followed.stderr).at(-1)!, /^job \S+ cancelled 5\/5 /);
      },
    );
  } finally {
    w.kill();
    await w.status;
  }
});

Deno.test("jobs answers a usage error with exit 2 naming the option, a refusal with exit 3", async () => {
  const missing = await jobsCli(["submit", "demo.echo"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--inputs FILE is required/);
  await using c = await testCoordinator();
  const unknown = await jobsCli(["status", "nope", "--coordinator", c.url]);
  assert.equal(unknown.code, 3);
  assert.match(unknown.stderr, /refused: not_found/);
});
