/**
 * Worker profiles (seed 003): the options layer and real `worker.ts` processes reading a
 * profiles file.
 */
import assert from "node:assert/strict";
import { parseWorkerOptions } from "../shared/worker/deno/worker_options.ts";
import { parseProfiles } from "../shared/worker/deno/worker_profiles.ts";
import { spawnWorker, startTestCoordinator } from "./_worker_helpers.ts";

const PROFILES_YAML = `
# worker-profiles.yaml, in the seed's shape
profiles:
  lightweight:
    tasks: [demo.echo, text.wordcount]   # the seed's spelling of types
    queues: [api, notifications]
    concurrency: 2
    nice: 5
    resources: { memory: 512Mi, cpu: 500m }
  cpu-heavy:
    exclude-tasks: [demo.sleep]
    concurrency: 4
`;

function options(
  args: string[],
  env: Record<string, string> = {},
  file: string | null = null,
  profiles: string | null = PROFILES_YAML,
) {
  const parsed = parseWorkerOptions(args, env, file, profiles);
  if (parsed.kind !== "options") throw new Error(`expected options, got ${JSON.stringify(parsed)}`);
  return parsed.options;
}

function error(args: string[], env: Record<string, string> = {}, profiles = PROFILES_YAML) {
  const parsed = parseWorkerOptions(args, env, null, profiles);
  if (parsed.kind !== "error") throw new Error(`expected an error, got ${JSON.stringify(parsed)}`);
  return parsed.message;
}

Deno.test("parseWorkerOptions() --profile sets types, queues, concurrency and nice from the profiles file", () => {
  const o = options(["--profile", "lightweight"]);
  assert.deepEqual(o.types, ["demo.echo", "text.wordcount"]);
  assert.deepEqual(o.queues, ["api", "notifications"]);
  assert.equal(o.concurrency, 2);
  assert.equal(o.nice, 5);
  assert.equal(o.profile, "lightweight");
  const heavy = options(["--profile", "cpu-heavy"]);
  assert.equal(heavy.types, null, "every type the grid runs, but:");
  assert.deepEqual(heavy.excludeTypes, ["demo.sleep"]);
});

Deno.test("parseWorkerOptions() precedence: flags > env > profile > config file > defaults", () => {
  const file =
    "TESSERA_CONCURRENCY=9\nNICE=1\nQUEUES=from-file\nMAX_TASKS=7\nPROFILE=lightweight\n";
  const o = options(["--concurrency", "3"], { TESSERA_NICE: "12" }, file);
  assert.equal(o.concurrency, 3, "flag beats profile and file");
  assert.equal(o.nice, 12, "env beats profile");
  assert.deepEqual(o.queues, ["api", "notifications"], "profile beats file");
  assert.equal(o.maxTasks, 7, "file still sets what the profile does not");
  assert.equal(o.profile, "lightweight", "the profile can be named in the config file");
  assert.equal(options([], { TESSERA_PROFILE: "cpu-heavy" }).concurrency, 4);
  assert.equal(options(["--profile", "cpu-heavy"], { TESSERA_PROFILE: "lightweight" }).nice, 10);
});

Deno.test("parseWorkerOptions() an unknown profile names the known ones; a bad profile value names the profile", () => {
  assert.equal(
    error(["--profile", "gpu"]),
    'unknown profile "gpu"; known profiles: lightweight, cpu-heavy',
  );
  assert.match(error(["--profile", "gpu"], {}, null as unknown as string), /no profiles file/);
  const bad = "profiles:\n  broken:\n    concurrency: 0\n";
  assert.match(error(["--profile", "broken"], {}, bad), /--concurrency \(from profile "broken"\)/);
  const typo = "profiles:\n  typo:\n    concurrence: 2\n";
  assert.match(error(["--profile", "typo"], {}, typo), /unknown option "concurrence"/);
});

Deno.test("parseProfiles() reads JSON as well as YAML, and refuses a file without profiles", () => {
  const json = JSON.stringify({ profiles: { small: { types: "demo.echo", excludeTypes: [] } } });
  const r = parseProfiles(json);
  assert.ok(r.ok);
  assert.deepEqual(r.profiles.get("small"), { types: "demo.echo", "exclude-types": [] });
  const none = parseProfiles("workers: {}\n");
  assert.ok(!none.ok && /"profiles:" map/.test(none.message));
  const broken = parseProfiles("profiles: [\n");
  assert.ok(!broken.ok && /not valid YAML/.test(broken.message));
});

Deno.test("worker.ts --profile with an unknown name exits 2 naming the known profiles", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/profiles.yaml`, PROFILES_YAML);
    const w = spawnWorker(["--profile", "gpu", "--profiles-file", `${dir}/profiles.yaml`]);
    const status = await w.status;
    assert.equal(status.code, 2);
    assert.match(w.stderr(), /unknown profile "gpu"; known profiles: lightweight, cpu-heavy/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker.ts --profile (profiles file from TESSERA_PROFILES_FILE) runs with the profile's options, a flag overriding one", async () => {
  const dir = await Deno.makeTempDir();
  const c = await startTestCoordinator();
  await Deno.writeTextFile(`${dir}/profiles.yaml`, PROFILES_YAML);
  const w = spawnWorker(
    [
      "--coordinator",
      c.url,
      "--profile",
      "lightweight",
      "--concurrency",
      "3",
      "--worker-id",
      "light-1",
      "--log-format",
      "json",
    ],
    { TESSERA_PROFILES_FILE: `${dir}/profiles.yaml` },
  );
  try {
    const started = JSON.parse(await w.waitFor(/worker started/));
    assert.equal(started.profile, "lightweight");
    assert.equal(started.types, "demo.echo,text.wordcount");
    assert.equal(started.queues, "api,notifications");
    assert.equal(started.nice, 5);
    assert.equal(started.concurrency, 3, "--concurrency beats the profile's 2");
    // The coordinator sees the same: the profile's types, the flag's concurrency.
    const info = await (async () => {
      for (let i = 0; i < 100; i++) {
        const r = await c.api("GET", "/workers/light-1/stats");
        if (r.status === 200 && r.body.concurrency === 3) return r.body;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("worker light-1 never registered");
    })();
    assert.deepEqual(info.types, ["demo.echo", "text.wordcount"]);
    // It runs work from the profile's queues only.
    const api = await c.api("POST", "/tasks", {
      type: "demo.echo",
      params: { q: "api" },
      queue: "api",
      verification: { mode: "none" },
    });
    const done = await c.api("GET", `/tasks/${api.body.id}?wait=10000`);
    assert.equal(done.body.status, "completed");
  } finally {
    w.kill("SIGKILL");
    await w.status;
    await c.close();
    await Deno.remove(dir, { recursive: true });
  }
});
