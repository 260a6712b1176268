/**
 * What makes a submission "the same request again" for an idempotency key: its type, params
 * (compared canonically: key order does not matter), queue, priority and attempt settings.
 * Reusing a key for a different request is refused with 409 `idempotency_conflict`, as Stripe
 * does, rather than silently answering with the first task.
 *
 * @module
 */
import { canonicalJson } from "../../shared/canonical_hash.ts";
import type { SubmitTaskParsed, Task } from "../../shared/protocol.ts";
import { ApiFailure } from "../http/errors.ts";

type Fields = Pick<
  Task,
  "type" | "params" | "queue" | "priority" | "maxAttempts" | "leaseMs" | "backoffMs" | "timeoutMs"
>;

/** `timeoutMs` counts only when the new request sets it (the task has the handler's default). */
function fingerprint(f: Fields, input: SubmitTaskParsed): string {
  const { type, params, queue, priority, maxAttempts, leaseMs, backoffMs } = f;
  const timeoutMs = input.timeoutMs === undefined ? null : f.timeoutMs;
  return canonicalJson([type, params, queue, priority, maxAttempts, leaseMs, backoffMs, timeoutMs]);
}

/**
 * Throws `idempotency_conflict` (409) on `field` when `input` asks for something other than
 * `earlier`: the task its key made, or an earlier submission with that key in the same request.
 *
 * @example
 * ```ts
 * refuseOtherRequest(input, existingTask, "tasks.3.idempotencyKey");
 * ```
 */
export function refuseOtherRequest(
  input: SubmitTaskParsed,
  earlier: Task | SubmitTaskParsed,
  field: string,
): void {
  const other = { timeoutMs: null, ...earlier } as Fields;
  if (fingerprint(other, input) === fingerprint(input as Fields, input)) return;
  throw new ApiFailure(
    "idempotency_conflict",
    `idempotency key ${JSON.stringify(input.idempotencyKey)} was used for a different request ` +
      "(type, params, queue, priority or attempt settings); use a new key",
    field,
  );
}
