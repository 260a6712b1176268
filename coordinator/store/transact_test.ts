import assert from "node:assert/strict";
import { testCoordinator } from "../../test/_helpers.ts";
import { ApiFailure } from "../http/errors.ts";
import { taskKey } from "./keys.ts";
import { transact } from "./transact.ts";

Deno.test("transact() reads again after a lost race, then commits and runs after", async () => {
  await using c = await testCoordinator();
  const key = taskKey("transact-probe");
  await c.ctx.kv.set(key, 0);
  let rounds = 0;
  const out = await transact(c.ctx, "probe", async () => {
    rounds++;
    const e = await c.ctx.kv.get<number>(key);
    // Someone else writes between our read and our commit, once.
    if (rounds === 1) await c.ctx.kv.set(key, 10);
    return {
      intent: {
        checks: [{ key, versionstamp: e.versionstamp }],
        mutations: [{ type: "set", key, value: e.value! + 1 }],
      },
      after: () => e.value! + 1,
    };
  });
  assert.equal(rounds, 2);
  assert.equal(out, 11);
  assert.equal((await c.ctx.kv.get(key)).value, 11);
});

Deno.test("transact() answers a value without committing, and gives up with 409 after 8 lost races", async () => {
  await using c = await testCoordinator();
  assert.equal(await transact(c.ctx, "probe", () => Promise.resolve({ value: 7 })), 7);
  let rounds = 0;
  await assert.rejects(
    () =>
      transact(c.ctx, "probe", () => {
        rounds++;
        return Promise.resolve(null);
      }),
    (e) => e instanceof ApiFailure && e.code === "conflict",
  );
  assert.equal(rounds, 8);
});
