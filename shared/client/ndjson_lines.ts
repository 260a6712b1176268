/**
 * Reads an NDJSON body one parsed line at a time, without holding more than one line in memory.
 *
 * @module
 */

/** A line of the stream was not JSON: the stream is broken, not merely cut off. */
export class NdjsonLineError extends Error {
  override name = "NdjsonLineError";
  constructor(readonly line: string, options?: ErrorOptions) {
    super(`not a JSON line: ${line.slice(0, 200)}`, options);
  }
}

/**
 * Yields each non-empty line of `body` parsed as JSON. A read that fails (the connection
 * dropped) rejects with the fetch error as it is; a last line without its newline is yielded
 * only if the body ended cleanly, since a cut-off line would not parse.
 *
 * @example
 * ```ts
 * for await (const line of ndjsonLines((await fetch(url)).body!)) console.log(line);
 * ```
 */
export async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const lines = (rest + value).split("\n");
      rest = lines.pop()!;
      for (const line of lines) if (line.trim()) yield parseLine(line.trim());
    }
    if (rest.trim()) yield parseLine(rest.trim());
  } finally {
    reader.cancel().catch(() => {});
  }
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (e) {
    throw new NdjsonLineError(line, { cause: e });
  }
}
