import assert from "node:assert/strict";
import { apiBases, parseJobsArgs } from "./jobs_args.ts";

Deno.test("parseJobsArgs() takes the coordinator and token from the environment unless given", () => {
  const env = { TESSERA_COORDINATOR: "http://a:8787,http://b:8787/api/", TESSERA_TOKEN: "k1" };
  const fromEnv = parseJobsArgs(["status", "J1"], env);
  assert.equal(fromEnv.kind, "args");
  if (fromEnv.kind !== "args") return;
  assert.deepEqual(fromEnv.args.coordinators, ["http://a:8787/api", "http://b:8787/api"]);
  assert.equal(fromEnv.args.token, "k1");
  const given = parseJobsArgs(["status", "J1", "--coordinator", "http://c", "--token", "k2"], env);
  assert.ok(given.kind === "args" && given.args.token === "k2");
  assert.deepEqual(given.args.coordinators, ["http://c/api"]);
});

Deno.test("parseJobsArgs() names the option at fault", () => {
  const usage = (argv: string[]) => {
    const p = parseJobsArgs(argv, {});
    assert.equal(p.kind, "usage", JSON.stringify(p));
    return p.kind === "usage" ? p.message : "";
  };
  assert.match(usage(["submit", "demo.echo"]), /--inputs/);
  assert.match(usage(["results", "J", "--order", "random"]), /--order must be input or completion/);
  assert.match(usage(["status", "J", "--follow"]), /--follow does not apply to status/);
  assert.match(usage(["list", "--limit", "ten"]), /--limit must be an integer/);
  assert.match(usage(["status", "J", "--log-format", "xml"]), /--log-format/);
  assert.match(usage(["status", "J", "--nope"]), /Unknown option '--nope'/);
  assert.match(usage(["frobnicate"]), /unknown command "frobnicate"/);
  assert.match(usage(["status", "J", "--coordinator", "ftp://x"]), /--coordinator must be/);
});

Deno.test("apiBases() appends /api where it is missing", () => {
  assert.deepEqual(apiBases(" http://a:1/ , http://b:2/api"), ["http://a:1/api", "http://b:2/api"]);
});
