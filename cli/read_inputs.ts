/**
 * A job's inputs from a file's text: a JSON array, or NDJSON (one input per line).
 *
 * @module
 */

/** The inputs file is neither a JSON array nor NDJSON; `line` is 1-based (0: the whole file). */
export class InputsError extends Error {
  override name = "InputsError";
  constructor(message: string, readonly line: number) {
    super(message);
  }
}

/**
 * Parses `text` as a JSON array when it starts with `[`, else as NDJSON (blank lines skipped).
 *
 * @example
 * ```ts
 * readInputs('{"n":1}\n{"n":2}\n'); // [{ n: 1 }, { n: 2 }]
 * readInputs('[{"n":1}]'); // [{ n: 1 }]
 * ```
 */
export function readInputs(text: string): unknown[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("[")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      throw new InputsError(`not a JSON array: ${(e as Error).message}`, 0);
    }
    if (!Array.isArray(value)) throw new InputsError("not a JSON array", 0);
    return value;
  }
  const inputs: unknown[] = [];
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line) continue;
    try {
      inputs.push(JSON.parse(line));
    } catch (e) {
      throw new InputsError(`line ${i + 1} is not JSON: ${(e as Error).message}`, i + 1);
    }
  }
  return inputs;
}
