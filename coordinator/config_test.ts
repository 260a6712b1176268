import assert from "node:assert/strict";
import { coordinatorHelp, loadCoordinatorConfig } from "./config.ts";

Deno.test("loadCoordinatorConfig() reads who runs the grid from flags over environment, and refuses a link that is not http(s)", () => {
  const config = loadCoordinatorConfig(
    ["--project-name", "Primes for Science", "--project-url", "https://example.org/grid"],
    { TESSERA_PROJECT_NAME: "ignored", TESSERA_PROJECT_OWNER: "The Maths Club" },
  );
  assert.ok(!("help" in config));
  assert.equal(config.projectName, "Primes for Science");
  assert.equal(config.projectOwner, "The Maths Club");
  assert.equal(config.projectUrl, "https://example.org/grid");
  assert.equal(config.projectDescription, undefined);
  assert.throws(
    () => loadCoordinatorConfig(["--project-url", "javascript:alert(1)"], {}),
    /invalid option projectUrl/,
  );
  assert.match(coordinatorHelp(), /--project-description\s+TESSERA_PROJECT_DESCRIPTION/);
});
