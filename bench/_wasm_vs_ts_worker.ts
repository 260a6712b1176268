/**
 * The Chromium side of `wasm_vs_ts.ts`: a module Web Worker (where the donate page runs tasks)
 * that answers one message `{bundleUrl, steps, rounds}` with `{load, throughput}` or `{error}`.
 *
 * @module
 */
import { measureLoad, measureThroughput } from "./_wasm_vs_ts_probe.ts";

interface Request {
  bundleUrl: string;
  steps: number;
  rounds: number;
}

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = async ({ data }) => {
  try {
    const load = await measureLoad(data.bundleUrl);
    const throughput = await measureThroughput(data.steps, data.rounds);
    scope.postMessage({ load, throughput });
  } catch (e) {
    scope.postMessage({ error: String((e as Error)?.stack ?? e) });
  }
};
