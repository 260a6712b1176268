import assert from "node:assert/strict";
import type { Task } from "../../shared/protocol.ts";
import { ReadyTasks } from "./ready_tasks.ts";

const task = (id: string, mode = "none") => ({ id, verification: { mode } }) as unknown as Task;

Deno.test("ReadyTasks.take() hands a record back only for the versionstamp it was committed with, once", () => {
  const cache = new ReadyTasks();
  cache.add([task("a"), task("b")], "v1");
  assert.equal(cache.take("a", "v2"), undefined, "another versionstamp: the record changed");
  assert.equal(cache.take("a", "v1"), undefined, "a mismatch forgets it");
  assert.equal(cache.take("b", "v1")?.id, "b");
  assert.equal(cache.take("b", "v1"), undefined);
});

Deno.test("ReadyTasks keeps a replicated task's record with the versionstamp it was last written at, for every slot's claim", () => {
  const cache = new ReadyTasks();
  cache.add([task("q", "quorum"), task("p")], "v1");
  assert.equal(cache.take("q", "v1"), undefined, "not handed out as an ordinary record");
  assert.equal(cache.replica("q")?.versionstamp, "v1");
  cache.wrote({ ...task("q", "quorum"), live: 1 } as unknown as Task, "v2");
  assert.equal(cache.replica("q")?.versionstamp, "v2", "a claim's commit replaces it");
  assert.equal(cache.replica("q")?.versionstamp, "v2", "and reading it does not take it");
  cache.forget("q");
  assert.equal(cache.replica("q"), undefined);
  assert.equal(cache.take("p", "v1")?.id, "p");
});

Deno.test("ReadyTasks when full keeps the head of the queue, and makes room only from records a minute old", () => {
  let now = 0;
  const cache = new ReadyTasks(2, () => now);
  cache.add([task("a"), task("b"), task("c")], "v1");
  assert.equal(cache.size, 2);
  assert.equal(cache.take("c", "v1"), undefined, "no room for the newest");
  now = 61_000;
  cache.add([task("d")], "v2");
  assert.equal(cache.take("a", "v1"), undefined, "the stale oldest made room");
  assert.equal(cache.take("b", "v1")?.id, "b");
  assert.equal(cache.take("d", "v2")?.id, "d");
});

Deno.test("ReadyTasks.forget() drops an ended task's record", () => {
  const cache = new ReadyTasks();
  cache.add([task("a")], "v1");
  cache.forget("a");
  assert.equal(cache.take("a", "v1"), undefined);
});
