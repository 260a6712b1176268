import { deepStrictEqual } from "node:assert/strict";
import handler from "./demo_echo.ts";
import { refusedPaths, runHandler } from "./_test_context.ts";

Deno.test("demo.echo returns its params unchanged", async () => {
  const params = { message: "hello", n: 3, nested: { list: [1, "two", null] }, flag: false };
  deepStrictEqual(await runHandler(handler, params), params);
  deepStrictEqual(await runHandler(handler, {}), {});
});

Deno.test("demo.echo refuses params that are not an object", () => {
  deepStrictEqual(refusedPaths(handler.params, "hello"), [""]);
  deepStrictEqual(refusedPaths(handler.params, [1, 2]), [""]);
  deepStrictEqual(refusedPaths(handler.params, null), [""]);
});
