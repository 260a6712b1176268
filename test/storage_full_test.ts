/**
 * The KV file on a 16 MiB tmpfs, filled up: needs root (mount). Without it every test here is
 * skipped with a loud message.
 */
import assert from "node:assert/strict";
import { batchPrefix, idempotencyKey, taskPrefix } from "../coordinator/store/keys.ts";
import { eventually, testCoordinator } from "./_helpers.ts";

async function run(cmd: string, ...args: string[]): Promise<boolean> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
  return out.success;
}

/** A small tmpfs with a coordinator on it, and a filler file that leaves `free` bytes. */
async function fullDisk(t: Deno.TestContext) {
  const mnt = await Deno.makeTempDir({ prefix: "tessera-full-" });
  if (!await run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt)) {
    await Deno.remove(mnt);
    console.error(
      `\n!!! ${t.name}: SKIPPED: cannot mount a tmpfs here (needs root); disk-full untested !!!\n`,
    );
    return null;
  }
  const c = await testCoordinator({ db: `${mnt}/tessera.sqlite` });
  const filler = `${mnt}/filler`;
  return {
    c,
    /** Fills the disk, then frees `free` bytes of it. */
    async fill(free: number) {
      const f = await Deno.open(filler, { write: true, create: true, truncate: true });
      const block = new Uint8Array(16 * 1024);
      let size = 0;
      try {
        while (true) size += await f.write(block);
      } catch { /* ENOSPC: full */ }
      await f.truncate(Math.max(0, size - free));
      f.close();
    },
    async free() {
      await Deno.remove(filler).catch(() => {});
    },
    async [Symbol.asyncDispose]() {
      await c.close();
      await run("umount", mnt);
      await Deno.remove(mnt, { recursive: true }).catch(() => {});
    },
  };
}

const keyed = (n: number, tag: string) => ({
  tasks: Array.from({ length: n }, (_, i) => ({
    type: "demo.echo",
    params: { i, pad: "x".repeat(1200) },
    idempotencyKey: `${tag}-${i}`,
  })),
});

Deno.test("a batch that fills the disk part way is refused with 507 storage_full, invisible, and undone as soon as the disk lets it", async (t) => {
  const disk = await fullDisk(t);
  if (!disk) return;
  await using _ = disk;
  const { c } = disk;
  await disk.fill(1200 * 1024);
  const res = await c.call("POST", "/tasks", keyed(1000, "k"));
  assert.equal(res.status, 507, JSON.stringify(res.body));
  assert.equal(res.body.error.code, "storage_full");
  // Nothing of it is visible: no task listed or counted. Its undo is itself a write, which a
  // disk this full may refuse too; then it is retried until the disk has room again.
  assert.equal((await c.call("GET", "/tasks?limit=100")).body.tasks.length, 0);
  assert.equal((await c.call("GET", "/stats")).body.status.pending ?? 0, 0);
  const left = async (prefix: Deno.KvKey) =>
    (await Array.fromAsync(c.ctx.kv.list({ prefix }))).length;
  await disk.free();
  // Undone: no records, no keys, no journal.
  await eventually(async () => (await left(taskPrefix())) === 0, 15_000, 100);
  assert.equal(await left(["idem"]), 0, "idempotency keys left behind");
  assert.equal(await left(batchPrefix()), 0, "batch journal left behind");
  assert.equal((await c.ctx.kv.get(idempotencyKey("k-0"))).value, null);

  // With room again, the same keys make the whole batch, and all of it is claimable.
  const again = await c.call("POST", "/tasks", keyed(1000, "k"));
  assert.equal(again.status, 201, JSON.stringify(again.body).slice(0, 300));
  assert.equal(again.body.tasks.length, 1000);
  assert.equal(await left(["ready"]), 1000, "every task has its ready entry");
  assert.equal((await c.call("GET", "/stats")).body.status.pending, 1000);
  const claimed = await c.call("POST", "/leases", { workerId: "w", max: 100 });
  assert.equal(claimed.body.leases.length, 100);
});

Deno.test("a submit on a full disk is 507 storage_full, not 500, and reads still answer", async (t) => {
  const disk = await fullDisk(t);
  if (!disk) return;
  await using _ = disk;
  const { c } = disk;
  const before = await c.call("POST", "/tasks", { type: "demo.echo", params: {} });
  assert.equal(before.status, 201);
  await disk.fill(0);
  let res;
  // SQLite may still fit a few small commits into pages it holds; keep going until it is full.
  for (let i = 0; i < 200; i++) {
    res = await c.call("POST", "/tasks", keyed(20, `s${i}`));
    if (res.status !== 201) break;
  }
  assert.equal(res!.status, 507, JSON.stringify(res!.body));
  assert.equal(res!.body.error.code, "storage_full");
  assert.equal((await c.call("GET", `/tasks/${before.body.id}`)).status, 200);
  await disk.free();
});
