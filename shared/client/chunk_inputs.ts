/**
 * Splits a job's inputs into request-sized pieces.
 *
 * @module
 */
import { JOB_LIMITS } from "../protocol.ts";

/**
 * JSON bytes per create or append request. The coordinator's body limit is 4 MiB by default
 * (`--max-body-bytes`); a quarter of it keeps each request quick to parse and commit.
 */
export const REQUEST_BYTES = 1024 * 1024;

/**
 * Cuts `inputs` into consecutive chunks of at most `JOB_LIMITS.inputsPerRequest` inputs and
 * about `maxBytes` of JSON each (an input larger than that gets a chunk of its own). Always at
 * least one chunk, possibly empty.
 *
 * @example
 * ```ts
 * chunkInputs([{ n: 1 }, { n: 2 }], 10); // [[{ n: 1 }], [{ n: 2 }]]
 * ```
 */
export function chunkInputs(
  inputs: readonly unknown[],
  maxBytes = REQUEST_BYTES,
  maxCount: number = JOB_LIMITS.inputsPerRequest,
): unknown[][] {
  const chunks: unknown[][] = [[]];
  let bytes = 0;
  for (const input of inputs) {
    // UTF-16 length bounds UTF-8 bytes well enough here: the limit has headroom.
    const size = (JSON.stringify(input) ?? "null").length + 1;
    const last = chunks[chunks.length - 1]!;
    if (last.length > 0 && (last.length >= maxCount || bytes + size > maxBytes)) {
      chunks.push([input]);
      bytes = size;
    } else {
      last.push(input);
      bytes += size;
    }
  }
  return chunks;
}
