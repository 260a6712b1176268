/**
 * A pack file the coordinator cannot load, and why: one line naming the file and the problem.
 * At start it stops the coordinator (exit 2); on a reload the old registry stays.
 *
 * @module
 */

export class PackError extends Error {
  override name = "PackError";
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
  }
}
