/**
 * An extra entry point of every bundle run, never served: with it, zod and the contract are
 * always shared by two entries or more, so they always land in the shared chunk, and adding or
 * removing a pack file does not move them into (or out of) the other handlers' entries, which
 * would change those handlers' versions.
 *
 * @module
 */
export { z } from "zod";
export * from "../../handlers/contract.ts";
