/**
 * Schema helpers shared by handlers.
 *
 * @module
 */
import type { z } from "zod";

/**
 * Refinement option: run a cross-field check only when the fields it reads passed their own
 * checks, so a bad field yields one issue naming that field rather than a cascade.
 *
 * @example
 * ```ts
 * schema.refine((p) => p.from <= p.to, { message: "...", path: ["from"], ...whenValid("from", "to") });
 * ```
 */
export function whenValid(
  ...fields: string[]
): { when: (payload: z.core.ParsePayload) => boolean } {
  return {
    when: (payload) =>
      !payload.issues.some((issue) => fields.includes(String(issue.path?.[0] ?? ""))),
  };
}
