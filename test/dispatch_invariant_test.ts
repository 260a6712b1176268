/**
 * The dispatcher's liveness invariant under seeded random interleavings: whenever a claimable
 * task matches an idle claim, that claim gets work within 100 ms. Two coordinators share one KV
 * file; workers with and without filters, plain and replicated tasks, more than one buffer's
 * worth (256 entries) of a (queue, type), and every transition: submit, claim, complete, fail,
 * release, cancel, retry, lease expiry.
 *
 * The truth is read from the KV file itself: a ready entry whose task this worker may take.
 */
import assert from "node:assert/strict";
import { loadHandler } from "../handlers/mod.ts";
import { mulberry32 } from "../handlers/montecarlo_pi.ts";
import { decodeReadyKey, readyPrefix, taskKey } from "../coordinator/store/keys.ts";
import { holds } from "../coordinator/tasks/claim.ts";
import type { StoredTask } from "../coordinator/store/task_view.ts";
import { callJson, sleep, testCoordinator } from "./_helpers.ts";

/** A seeded PRNG in [0, 1), so a failing run can be replayed from its seed. */
function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

interface Worker {
  id: string;
  kind: "deno" | "browser";
  queues?: string[];
  types?: string[];
  /** Index of the coordinator it talks to. */
  via: number;
}

interface Held {
  leaseId: string;
  taskId: string;
  type: string;
  params: unknown;
  attempt: number;
  expiresAt: number;
}

const QUEUES = ["default", "qa", "qb"];
const TYPES = ["demo.echo", "text.wordcount"];

const WORKERS: Worker[] = [
  { id: "w-any-deno", kind: "deno", via: 0 },
  { id: "w-any-browser", kind: "browser", via: 1 },
  { id: "w-qa", kind: "browser", queues: ["qa"], via: 0 },
  { id: "w-words", kind: "browser", types: ["text.wordcount"], via: 1 },
  { id: "w-qb-echo", kind: "deno", queues: ["qb"], types: ["demo.echo"], via: 1 },
  { id: "w-default", kind: "browser", queues: ["default"], via: 0 },
];

async function claimableFor(kv: Deno.Kv, w: Worker): Promise<number> {
  let n = 0;
  for (const q of w.queues ?? QUEUES) {
    for (const t of w.types ?? TYPES) {
      for await (const e of kv.list({ prefix: readyPrefix(q, t) })) {
        const { id } = decodeReadyKey(e.key);
        const task = (await kv.get<StoredTask>(taskKey(id))).value;
        if (!task) continue;
        if (task.verification.mode === "quorum") {
          if (task.status !== "pending" && task.status !== "processing") continue;
          if (holds(task, { workerId: w.id })) continue;
        } else if (task.status !== "pending") continue;
        n++;
        if (n > 0) return n;
      }
    }
  }
  return n;
}

async function runSeed(seed: number, steps: number): Promise<{ checks: number; waits: number[] }> {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  await using a = await testCoordinator({ spotChecks: "off", wakePollMs: 25 });
  await using b = await testCoordinator({ db: a.db, spotChecks: "off", wakePollMs: 25 });
  const kv = await Deno.openKv(a.db);
  const apis = [a.api, b.api];
  const held = new Map<string, Held[]>(WORKERS.map((w) => [w.id, []]));
  const taskIds: string[] = [];
  const waits: number[] = [];
  let checks = 0;
  let n = 0;

  const submit = async (count: number) => {
    const queue = count > 100 ? pick(QUEUES) : null;
    const type = count > 100 ? pick(TYPES) : null;
    const tasks = [...Array(count)].map(() => {
      const ty = type ?? pick(TYPES);
      const replicated = ty === "text.wordcount" || rand() < 0.3;
      const i = n++;
      return {
        type: ty,
        queue: queue ?? pick(QUEUES),
        priority: rand() < 0.1 ? 5 : 0,
        leaseMs: rand() < 0.05 ? 1000 : 30_000,
        backoffMs: 0,
        maxAttempts: 3,
        params: ty === "demo.echo" ? { i } : { text: `word${i % 7} other${i % 3} word${i % 5}` },
        ...(ty === "demo.echo" && replicated
          ? {
            verification: { mode: "quorum", replicas: 2, agree: 2, maxReplicas: 3, adaptive: true },
          }
          : {}),
        ...(ty === "text.wordcount" && !replicated ? { verification: { mode: "none" } } : {}),
      };
    });
    const res = await callJson(pick(apis), "POST", "/tasks", { tasks });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    for (const t of res.body.tasks) taskIds.push(t.id);
  };

  const claim = async (w: Worker, max: number, waitMs: number) => {
    const res = await callJson(apis[w.via], "POST", "/leases", {
      workerId: w.id,
      kind: w.kind,
      max,
      waitMs,
      ...(w.queues ? { queues: w.queues } : {}),
      ...(w.types ? { types: w.types } : {}),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const l of res.body.leases) {
      held.get(w.id)!.push({
        leaseId: l.leaseId,
        taskId: l.taskId,
        type: l.task.type,
        params: l.task.params,
        attempt: l.attempt,
        expiresAt: l.expiresAt,
      });
    }
    return res.body.leases.length as number;
  };

  const takeHeld = (): [Worker, Held] | null => {
    const ws = WORKERS.filter((w) => held.get(w.id)!.length > 0);
    if (ws.length === 0) return null;
    const w = pick(ws);
    const list = held.get(w.id)!;
    const h = list.splice(Math.floor(rand() * list.length), 1)[0];
    return [w, h];
  };

  const report = async (what: "complete" | "fail" | "release") => {
    const got = takeHeld();
    if (!got) return;
    const [, h] = got;
    const api = pick(apis);
    if (what === "complete") {
      const handler = await loadHandler(h.type);
      const result = await handler.run(handler.params.parse(h.params), {
        signal: new AbortController().signal,
        progress: () => {},
        log: console,
        taskId: h.taskId,
        attempt: h.attempt,
      });
      await callJson(api, "POST", `/tasks/${h.taskId}/complete`, { leaseId: h.leaseId, result });
    } else if (what === "fail") {
      await callJson(api, "POST", `/tasks/${h.taskId}/fail`, {
        leaseId: h.leaseId,
        error: { code: "handler", message: "random failure", retryable: rand() < 0.7 },
      });
    } else {
      await callJson(api, "POST", `/tasks/${h.taskId}/release`, { leaseId: h.leaseId });
    }
  };

  /** The invariant, for a claim made now. */
  const checkNow = async (w: Worker) => {
    if ((await claimableFor(kv, w)) === 0) return;
    checks++;
    const t0 = performance.now();
    const got = await claim(w, 1 + Math.floor(rand() * 3), 100);
    waits.push(performance.now() - t0);
    assert.ok(got > 0, `seed ${seed}: ${w.id} got nothing although work was claimable`);
  };

  /** The invariant, for a claim already waiting when work becomes ready. */
  const checkWaiting = async (w: Worker, op: () => Promise<void>) => {
    if ((await claimableFor(kv, w)) > 0) return checkNow(w);
    const pending = claim(w, 1, 1500).then((got) => ({ got, at: performance.now() }));
    await sleep(40);
    await op();
    const ready = (await claimableFor(kv, w)) > 0;
    const opEnd = performance.now();
    const { got, at } = await pending;
    if (!ready) return;
    checks++;
    // Another worker's claim cannot race it here: the test runs one step at a time.
    waits.push(at - opEnd);
    assert.ok(got > 0, `seed ${seed}: waiting ${w.id} got nothing after work became ready`);
    assert.ok(at - opEnd <= 100, `seed ${seed}: waiting ${w.id} woke ${at - opEnd} ms late`);
  };

  await submit(300);
  for (let step = 0; step < steps; step++) {
    const r = rand();
    const w = pick(WORKERS);
    if (r < 0.08) await submit(rand() < 0.3 ? 300 : 1 + Math.floor(rand() * 5));
    else if (r < 0.3) await claim(w, 1 + Math.floor(rand() * 10), 0);
    else if (r < 0.45) await report("complete");
    else if (r < 0.52) await report("fail");
    else if (r < 0.58) await report("release");
    else if (r < 0.62 && taskIds.length > 0) {
      await callJson(pick(apis), "POST", `/tasks/${pick(taskIds)}/cancel`);
    } else if (r < 0.65 && taskIds.length > 0) {
      await callJson(pick(apis), "POST", `/tasks/${pick(taskIds)}/retry`);
    } else if (r < 0.67) {
      // Let short leases lapse: the reaper requeues them.
      const now = Date.now();
      for (const list of held.values()) {
        for (let i = list.length - 1; i >= 0; i--) {
          if (list[i].expiresAt < now + 1200) list.splice(i, 1);
        }
      }
      await sleep(1100);
    } else if (r < 0.8) {
      await checkWaiting(
        w,
        () => pick([() => submit(1 + Math.floor(rand() * 3)), () => report("release")])(),
      );
    } else await checkNow(w);
  }
  kv.close();
  return { checks, waits };
}

Deno.test("dispatch invariant: a claimable task matching an idle claim is handed out within 100 ms, across two coordinators (seeded)", async () => {
  const all: number[] = [];
  let checks = 0;
  for (const seed of [11, 29]) {
    const r = await runSeed(seed, 220);
    checks += r.checks;
    all.push(...r.waits);
  }
  all.sort((x, y) => x - y);
  const p99 = all[Math.floor(all.length * 0.99)] ?? 0;
  console.log(
    `  ${checks} invariant checks, claim wait p50 ${all[all.length >> 1]?.toFixed(1)} ms, p99 ${
      p99.toFixed(1)
    } ms`,
  );
  assert.ok(checks > 50, `only ${checks} checks ran`);
});
