/**
 * Vite's dev server for the donate page, with hot reload, proxying `/api` (and its WebSocket) to
 * the coordinator (`TESSERA_URL`, default http://127.0.0.1:8787). Start the coordinator first
 * (`deno task start`), then run `deno run -A web-worker/dev.ts` and open the printed URL.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { createServer } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));
const server = await createServer({ root, configFile: `${root}vite.config.ts` });
await server.listen();
server.printUrls();
console.log(`  ➜  API:     proxied to ${Deno.env.get("TESSERA_URL") ?? "http://127.0.0.1:8787"}`);
