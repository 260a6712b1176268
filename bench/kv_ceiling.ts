/**
 * The ceiling: raw Deno KV on a file on this machine, with no HTTP and no coordinator logic.
 * A claim-shaped atomic operation is 1 check and 2 mutations (delete the ready entry, set the
 * lease; 3 until leases lost their expiry index).
 * - single: one claim per commit, 64 commits in flight
 * - batched: 100 claims per commit (the 100-check limit), one after another
 *
 * @module
 */

export async function benchKvCeiling(): Promise<Record<string, number>> {
  const dir = await Deno.makeTempDir({ prefix: "tessera-kv-" });
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  const N = 10_000;
  for (let b = 0; b < N / 500; b++) {
    const op = kv.atomic();
    for (let i = 0; i < 500; i++) op.set(["ready", b * 500 + i], 1);
    await op.commit();
  }
  const entries = await Array.fromAsync(kv.list<number>({ prefix: ["ready"] }));
  const vs = new Map(entries.map((e) => [e.key[1] as number, e.versionstamp]));
  const claim = (op: Deno.AtomicOperation, i: number) =>
    op.check({ key: ["ready", i], versionstamp: vs.get(i)! })
      .delete(["ready", i])
      .set(["lease", i], {
        leaseId: crypto.randomUUID(),
        taskId: String(i),
        expiresAt: Date.now(),
      });

  const half = N / 2;
  let t = performance.now();
  let next = 0;
  let failed = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < half) {
      const i = next++;
      if (!(await claim(kv.atomic(), i).commit()).ok) failed++;
    }
  }));
  const singleCommitsPerS = half / ((performance.now() - t) / 1000);

  t = performance.now();
  for (let start = half; start < N; start += 100) {
    const op = kv.atomic();
    for (let i = start; i < start + 100; i++) claim(op, i);
    if (!(await op.commit()).ok) failed++;
  }
  const batchedClaimsPerS = half / ((performance.now() - t) / 1000);
  kv.close();
  await Deno.remove(dir, { recursive: true });
  if (failed > 0) throw new Error(`${failed} ceiling commits failed their checks`);
  return {
    singleCommitsPerS,
    batchedClaimsPerS,
    batchedMutationsPerS: batchedClaimsPerS * 2,
  };
}
