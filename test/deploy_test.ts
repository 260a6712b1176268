/**
 * The deployment files in deploy/: they parse, they say what a container needs (0.0.0.0, a
 * worker token on both sides, a volume for the KV, graceful stop), and their commands run here,
 * outside a container, as written. Docker's engine and a Kubernetes API server are not on this
 * machine, so images are not built and manifests are not applied (see README "Deploy").
 */
import assert from "node:assert/strict";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { parseWorkerOptions } from "../shared/worker/deno/worker_options.ts";
import { parseProfiles } from "../shared/worker/deno/worker_profiles.ts";
import { eventually, REPO_ROOT } from "./_helpers.ts";

const DEPLOY = `${REPO_ROOT}deploy/`;
const GRACE_S = 30; // worker.ts's default --grace-ms, in seconds

// deno-lint-ignore no-explicit-any
type Any = any;
const read = (path: string) => Deno.readTextFileSync(`${DEPLOY}${path}`);
const profilesText = read("worker-profiles.yaml");
const profileNames = (() => {
  const r = parseProfiles(profilesText);
  if (!r.ok) throw new Error(r.message);
  return [...r.profiles.keys()];
})();
const seconds = (s: string) => Number(/^(\d+)s$/.exec(s)?.[1] ?? NaN);
const envOf = (list: Array<{ name: string; value?: string; valueFrom?: Any }>) =>
  Object.fromEntries(list.map((e) => [e.name, e.value ?? e.valueFrom]));

Deno.test("deploy/worker-profiles.yaml: every profile gives valid worker options", () => {
  assert.ok(profileNames.length >= 2);
  for (const name of profileNames) {
    const parsed = parseWorkerOptions(["--profile", name], {}, null, profilesText);
    assert.equal(parsed.kind, "options", `${name}: ${JSON.stringify(parsed)}`);
  }
});

Deno.test("deploy/compose.yaml: coordinator on 0.0.0.0 with the KV on a volume, workers with the same token, graceful stops", () => {
  const doc = parseYaml(read("compose.yaml"), { merge: true }) as Any;
  const { coordinator, worker } = doc.services;
  assert.equal(coordinator.environment.TESSERA_HOSTNAME, "0.0.0.0");
  const [volume, mount] = coordinator.volumes[0].split(":");
  assert.ok(volume in doc.volumes, "a named volume holds the KV");
  assert.ok(coordinator.environment.TESSERA_DB.startsWith(`${mount}/`), "the KV file is on it");
  const token = coordinator.environment.TESSERA_WORKER_TOKEN;
  assert.match(token, /^\$\{TESSERA_WORKER_TOKEN:\?/, "compose refuses to start without a token");
  assert.equal(worker.environment.TESSERA_TOKEN, token, "workers present the same token");
  assert.equal(worker.environment.TESSERA_COORDINATOR, "http://coordinator:8787");
  assert.ok(profileNames.includes(/:-([^}]+)\}/.exec(worker.environment.TESSERA_PROFILE)![1]));
  assert.equal(worker.environment.TESSERA_PROFILES_FILE, "/app/deploy/worker-profiles.yaml");
  assert.match(String(worker.deploy.replicas), /TESSERA_WORKERS:-\d+/);
  assert.ok(seconds(worker.stop_grace_period) > GRACE_S, "the worker's grace fits the stop");
  for (const s of [coordinator, worker]) {
    assert.equal(s.restart, "always");
    assert.equal(s.stop_signal, "SIGTERM");
  }
  assert.equal(coordinator.build.dockerfile, "deploy/Dockerfile");
});

Deno.test("deploy/Dockerfile: one image, the coordinator by default, on 0.0.0.0 with the KV in a volume", () => {
  const text = read("Dockerfile");
  assert.match(text, /^FROM denoland\/deno:/m);
  assert.match(text, /^\s*TESSERA_HOSTNAME=0\.0\.0\.0/m);
  assert.match(text, /^\s*TESSERA_DB=\/data\//m);
  assert.match(text, /^\s*TESSERA_AUTH=on/m);
  assert.match(text, /^VOLUME \/data$/m);
  assert.match(text, /^CMD \["deno", "run", "-A", "--unstable-kv", "coordinator\/main\.ts"\]$/m);
  assert.match(text, /deno install --frozen/);
});

Deno.test("deploy/kustomization.yaml + k8s/: a worker Deployment per profile, each with the coordinator's token secret", () => {
  const kustomization = parseYaml(read("kustomization.yaml")) as Any;
  assert.deepEqual(kustomization.configMapGenerator[0].files, ["worker-profiles.yaml"]);
  const docs = kustomization.resources.flatMap((path: string) =>
    parseAllDocuments(read(path)).map((d) => {
      assert.deepEqual(d.errors, [], path);
      return d.toJS();
    })
  );
  const coordinator = docs.find((d: Any) => d.kind === "StatefulSet");
  const c = coordinator.spec.template.spec.containers[0];
  const cEnv = envOf(c.env);
  assert.equal(cEnv.TESSERA_HOSTNAME, "0.0.0.0");
  assert.ok(cEnv.TESSERA_WORKER_TOKEN.secretKeyRef, "the coordinator's token is a secret");
  const kvMount = c.volumeMounts.find((m: Any) => m.name === "kv");
  assert.ok(cEnv.TESSERA_DB.startsWith(`${kvMount.mountPath}/`));
  assert.equal(coordinator.spec.volumeClaimTemplates[0].metadata.name, "kv");
  assert.ok(docs.some((d: Any) => d.kind === "Service" && d.spec.ports[0].port === 8787));

  const workers = docs.filter((d: Any) => d.kind === "Deployment");
  assert.deepEqual(
    workers.map((w: Any) => envOf(w.spec.template.spec.containers[0].env).TESSERA_PROFILE).sort(),
    [...profileNames].sort(),
    "one Deployment per profile",
  );
  for (const w of workers) {
    const spec = w.spec.template.spec;
    const env = envOf(spec.containers[0].env);
    assert.deepEqual(env.TESSERA_TOKEN, cEnv.TESSERA_WORKER_TOKEN, `${w.metadata.name}: token`);
    assert.equal(env.TESSERA_COORDINATOR, "http://tessera-coordinator:8787");
    const mount = spec.containers[0].volumeMounts[0];
    assert.equal(env.TESSERA_PROFILES_FILE, `${mount.mountPath}/worker-profiles.yaml`);
    assert.equal(
      spec.volumes.find((v: Any) => v.name === mount.name).configMap.name,
      kustomization.configMapGenerator[0].name,
    );
    assert.ok(spec.terminationGracePeriodSeconds > GRACE_S);
  }
});

/** `[Service]` keys of a unit file (last one wins, as systemd reads a repeated key). */
function unit(path: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of read(path).split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

Deno.test("deploy/systemd: Restart=always, SIGTERM with room for the grace period, workers per profile", () => {
  const c = unit("systemd/tessera.service");
  const w = unit("systemd/tessera-worker@.service");
  for (const u of [c, w]) {
    assert.deepEqual(u.get("Restart"), ["always"]);
    assert.deepEqual(u.get("KillSignal"), ["SIGTERM"]);
    assert.deepEqual(u.get("RestartPreventExitStatus"), ["2"], "a bad option is not retried");
  }
  assert.ok(Number(w.get("TimeoutStopSec")![0]) > GRACE_S);
  assert.match(w.get("ExecStart")![0], / worker\.ts --profile %i /);
  assert.ok(c.get("Environment")!.includes("TESSERA_HOSTNAME=0.0.0.0"));
});

const systemdAnalyze = (() => {
  try {
    return Deno.statSync("/usr/bin/systemd-analyze").isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "deploy/systemd: systemd-analyze verify accepts both units",
  ignore: !systemdAnalyze,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // An instance name, as `systemctl start tessera-worker@general` would give it.
      await Deno.copyFile(`${DEPLOY}systemd/tessera.service`, `${dir}/tessera.service`);
      await Deno.copyFile(
        `${DEPLOY}systemd/tessera-worker@.service`,
        `${dir}/tessera-worker@general.service`,
      );
      const out = await new Deno.Command("systemd-analyze", {
        args: ["verify", `${dir}/tessera.service`, `${dir}/tessera-worker@general.service`],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      // ExecStart's /usr/bin/deno is checked to exist; elsewhere deno may live somewhere else.
      const onlyMissingDeno = text.trim().split("\n").every((l) =>
        l === "" || /\/usr\/bin\/deno is not executable/.test(l)
      );
      assert.ok(out.code === 0 || onlyMissingDeno, text);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Compose's `${VAR:-default}` and `${VAR:?message}`, against `vars`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, name, op, arg) => {
    if (vars[name] !== undefined) return vars[name];
    if (op === "?") throw new Error(`compose would refuse: ${arg}`);
    return op === "-" ? arg : "";
  });
}

async function output(cmd: string[], env: Record<string, string>) {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: REPO_ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deploy/compose.yaml and systemd: their commands run here as written — coordinator on 0.0.0.0, keys CLI, token-bearing workers, health check, graceful stop", async () => {
  const compose = parseYaml(read("compose.yaml"), { merge: true }) as Any;
  const dir = await Deno.makeTempDir();
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  // What the container has at /app and /data, and where "coordinator" resolves to.
  const local = (v: string) =>
    v.replace(/^\/app\//, REPO_ROOT).replace(/^\/data\//, `${dir}/`)
      .replace("http://coordinator:8787", `http://127.0.0.1:${port}`)
      .replace("127.0.0.1:8787", `127.0.0.1:${port}`);
  const vars = { TESSERA_WORKER_TOKEN: "s3cret-worker-token" };
  const envOfService = (s: Any): Record<string, string> =>
    Object.fromEntries(
      Object.entries(s.environment as Record<string, string>).map((
        [k, v],
      ) => [k, local(interpolate(String(v), vars))]),
    );
  const deno = (cmd: string[]) => cmd.map((a) => (a === "deno" ? Deno.execPath() : local(a)));
  const cEnv: Record<string, string> = {
    ...envOfService(compose.services.coordinator),
    TESSERA_PORT: String(port),
  };
  assert.equal(cEnv.TESSERA_AUTH, "on");

  const coordinator = new Deno.Command(Deno.execPath(), {
    args: deno(compose.services.coordinator.command).slice(1),
    cwd: REPO_ROOT,
    env: cEnv,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const workers: Deno.ChildProcess[] = [];
  try {
    // The logger writes to stderr.
    const logs = coordinator.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!/coordinator listening/.test(seen)) {
      const { value, done } = await logs.read();
      if (done) throw new Error(`coordinator exited: ${seen}`);
      seen += value;
    }
    assert.match(seen, /"level":"info"/, "TESSERA_LOG_FORMAT=json");
    (async () => {
      while (!(await logs.read()).done) { /* drain */ }
    })();
    coordinator.stdout.cancel();

    // The health check of the compose file and the Dockerfile.
    const health = compose.services.coordinator.healthcheck.test.slice(1);
    assert.equal((await output(deno(health), {})).code, 0, "health check passes");

    // The admin key command from compose's comment, on the coordinator's KV file.
    const key = await output(
      [Deno.execPath(), "run", "-A", "--unstable-kv", "coordinator/keys_cli.ts", "create"].concat(
        ["--name", "ops", "--role", "admin", "--json"],
      ),
      { TESSERA_DB: cEnv.TESSERA_DB! },
    );
    assert.equal(key.code, 0, key.stderr);
    const admin = JSON.parse(key.stdout).key as string;

    // A worker as compose runs it, and one as systemd's tessera-worker@lightweight runs it.
    // Handlers come from the coordinator; a cache dir of their own (keys are pinned per origin).
    const cacheDir = await Deno.makeTempDir({ prefix: "tessera-deploy-cache-" });
    const interim = { TESSERA_CACHE_DIR: cacheDir };
    const wEnv = { ...envOfService(compose.services.worker), ...interim };
    workers.push(
      new Deno.Command(Deno.execPath(), {
        args: deno(compose.services.worker.command).slice(1),
        cwd: REPO_ROOT,
        env: wEnv,
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
    const exec = unit("systemd/tessera-worker@.service").get("ExecStart")![0]
      .replaceAll("%i", "lightweight").replaceAll("%H", Deno.hostname()).split(" ");
    assert.equal(exec[0], "/usr/bin/deno");
    workers.push(
      new Deno.Command(Deno.execPath(), {
        args: exec.slice(1),
        cwd: REPO_ROOT,
        env: {
          TESSERA_PROFILES_FILE: `${DEPLOY}worker-profiles.yaml`,
          TESSERA_COORDINATOR: `http://127.0.0.1:${port}`,
          TESSERA_TOKEN: vars.TESSERA_WORKER_TOKEN,
          ...interim,
        },
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );

    const api = `http://127.0.0.1:${port}/api`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${api}${path}`, {
        method,
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const sub = await call("POST", "/tasks", {
      tasks: [
        { type: "primes.count", params: { from: 0, to: 1000 }, verification: { mode: "none" } },
        { type: "text.wordcount", params: { text: "a b a" }, verification: { mode: "none" } },
      ],
    });
    assert.equal(sub.status, 201, JSON.stringify(sub.body));
    for (const t of sub.body.tasks) {
      const done = await call("GET", `/tasks/${t.id}?wait=20000`);
      assert.equal(done.body.status, "completed", JSON.stringify(done.body));
    }
    // The systemd-style worker says hello under the name its unit gives it.
    await eventually(async () => {
      const list = (await call("GET", "/workers")).body.workers as Array<{ id: string }>;
      return list.some((w) => w.id === `${Deno.hostname()}-lightweight`);
    }, 15_000);

    // Without the token a worker is refused at start (exit 1), so the token really is needed.
    const anonymous = await output(
      deno(compose.services.worker.command),
      { ...wEnv, TESSERA_TOKEN: "wrong-token" },
    );
    assert.equal(anonymous.code, 1, anonymous.stderr);

    // The stop signal of every file: SIGTERM stops each of them cleanly (exit 0).
    for (const w of workers) w.kill("SIGTERM");
    for (const w of workers) assert.equal((await w.status).code, 0, "worker stops on SIGTERM");
    workers.length = 0;
    coordinator.kill("SIGTERM");
    assert.equal((await coordinator.status).code, 0, "coordinator stops on SIGTERM");
  } finally {
    for (const w of workers) {
      try {
        w.kill("SIGKILL");
      } catch { /* gone */ }
      await w.status;
    }
    try {
      coordinator.kill("SIGKILL");
    } catch { /* gone */ }
    await coordinator.status;
    await Deno.remove(dir, { recursive: true });
  }
});

const composeCli = (() => {
  for (const path of ["/usr/bin/docker-compose", "/usr/local/bin/docker-compose"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return null;
})();

Deno.test({
  name: "deploy/compose.yaml: docker-compose config accepts it, and refuses to run without a token",
  ignore: composeCli === null,
  async fn() {
    const config = (env: Record<string, string>) =>
      output([composeCli!, "-f", `${DEPLOY}compose.yaml`, "config"], env);
    const ok = await config({ TESSERA_WORKER_TOKEN: "t0k" });
    assert.equal(ok.code, 0, ok.stderr);
    const resolved = parseYaml(ok.stdout) as Any;
    assert.equal(resolved.services.worker.environment.TESSERA_TOKEN, "t0k");
    assert.equal(resolved.services.coordinator.environment.TESSERA_WORKER_TOKEN, "t0k");
    const refused = await config({});
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /set TESSERA_WORKER_TOKEN/);
  },
});

const kubectl = (() => {
  try {
    return Deno.statSync("/usr/bin/kubectl").isFile ? "/usr/bin/kubectl" : null;
  } catch {
    return null;
  }
})();

Deno.test({
  name:
    "deploy/: kubectl kustomize renders it, the workers mounting the generated profiles ConfigMap",
  ignore: kubectl === null,
  async fn() {
    const out = await output([kubectl!, "kustomize", DEPLOY], {});
    assert.equal(out.code, 0, out.stderr);
    const docs = parseAllDocuments(out.stdout).map((d) => d.toJS()) as Any[];
    const cm = docs.find((d) => d.kind === "ConfigMap");
    assert.match(cm.metadata.name, /^tessera-worker-profiles-[a-z0-9]+$/, "hashed name");
    assert.equal(cm.data["worker-profiles.yaml"], profilesText);
    for (const d of docs) assert.equal(d.metadata.namespace, "tessera");
    for (const d of docs.filter((d) => d.kind === "Deployment")) {
      assert.equal(d.spec.template.spec.volumes[0].configMap.name, cm.metadata.name);
      assert.equal(d.spec.template.spec.containers[0].image, "tessera:latest");
    }
  },
});
