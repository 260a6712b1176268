/**
 * A loaded handler as `GET /api/handlers` lists it: its version and chunks, its params and
 * result as JSON Schema (zod 4's `z.toJSONSchema`), its verification and timeouts.
 *
 * @module
 */
import { z } from "zod";
import { DEFAULT_MAX_TIMEOUT_MS } from "../../handlers/contract.ts";
import type { UnsignedHandlerEntry } from "../../shared/protocol.ts";
import type { LoadedHandler } from "./load_packs.ts";

/** What a type's tasks time out after when neither the handler nor the client says. */
export const DEFAULT_TIMEOUT_MS = 60_000;

export function unsignedEntry(loaded: LoadedHandler): UnsignedHandlerEntry {
  const { handler } = loaded;
  return {
    type: handler.type,
    description: handler.description ?? "",
    version: loaded.version,
    bundle: `/handlers/${loaded.version}.js`,
    chunks: loaded.chunks,
    params: jsonSchema(handler.params),
    result: jsonSchema(handler.result),
    verification: verificationOf(handler),
    timeoutMs: handler.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxTimeoutMs: handler.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS,
    pack: loaded.pack,
  };
}

/** The type's default verification as tasks get it (quorum is adaptive unless it says so). */
function verificationOf(handler: LoadedHandler["handler"]): UnsignedHandlerEntry["verification"] {
  const v = handler.verification;
  return v?.mode === "quorum" ? { adaptive: true, ...v } : { mode: "none" };
}

/**
 * JSON Schema of a zod schema (from the bundle's own copy of zod: the conversion reads only the
 * schema's definition). What JSON Schema cannot say (a refinement, a transform) is left open.
 */
function jsonSchema(schema: z.ZodType): unknown {
  try {
    return z.toJSONSchema(schema, { unrepresentable: "any", io: "input" });
  } catch {
    return {};
  }
}
