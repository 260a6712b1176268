/**
 * `deno task start`: runs the coordinator until SIGINT or SIGTERM.
 *
 * @module
 */
import { loadCoordinatorConfig } from "./config.ts";
import { startCoordinator } from "./server.ts";
import { LayoutTooNewError } from "./store/migrate.ts";
import { PackError } from "./packs/pack_error.ts";

const loaded = (() => {
  try {
    return loadCoordinatorConfig(Deno.args, Deno.env.toObject());
  } catch (e) {
    console.error(`tessera: ${(e as Error).message}`);
    Deno.exit(2);
  }
})();
if ("help" in loaded) {
  console.log(loaded.help);
  Deno.exit(0);
}
const coordinator = await startCoordinator(loaded).catch((e) => {
  if (!(e instanceof LayoutTooNewError) && !(e instanceof PackError)) throw e;
  console.error(`tessera: ${e.message}`);
  Deno.exit(2);
});
let stopping = false;
const stop = async () => {
  if (stopping) Deno.exit(1);
  stopping = true;
  coordinator.ctx.log.info("shutting down");
  await coordinator.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
