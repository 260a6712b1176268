/**
 * The Deno executor's thread entry: `task_thread.ts` served over a `node:worker_threads` port.
 * Node threads, unlike Web Workers, take a heap limit (`resourceLimits`), so a handler that
 * allocates without bound ends its own thread instead of the whole worker process.
 *
 * @module
 */
import * as Comlink from "comlink";
import { parentPort } from "node:worker_threads";
import { nodeEndpoint } from "./_node_endpoint.ts";
import { taskThreadApi } from "../task_thread.ts";

export { taskThreadApi };

if (parentPort) Comlink.expose(taskThreadApi, nodeEndpoint(parentPort));
