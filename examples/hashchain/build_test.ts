import { strictEqual } from "node:assert/strict";
import { compileWasm, GENERATED, renderModule } from "./_build.ts";

Deno.test("the committed _sha512_wasm.ts is what `deno task pack:build` makes of the AssemblyScript source", async () => {
  const expected = renderModule(await compileWasm());
  const committed = await Deno.readTextFile(GENERATED);
  strictEqual(
    committed,
    expected,
    "_sha512_wasm.ts is stale: run `deno task pack:build` and commit the result",
  );
});
