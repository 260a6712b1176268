/**
 * Worker profiles (seed 003): named sets of worker options in one YAML or JSON file, so a
 * deployment says `worker.ts --profile high-memory` instead of repeating types, queues and
 * concurrency in every unit or manifest.
 *
 * ```yaml
 * profiles:
 *   lightweight:
 *     types: [demo.echo, text.wordcount]
 *     queues: [api]
 *     concurrency: 8
 *     nice: 5
 *     resources: { memory: 512Mi, cpu: 500m } # for deployment tools; the worker ignores it
 * ```
 *
 * A profile may set `types` (or the seed's `tasks`), `exclude-types` (or `exclude-tasks`),
 * `queues`, `concurrency` and `nice`, spelled as the flag, in camelCase or snake_case.
 * `resources` and `description` are accepted and ignored; anything else is an error, so a typo
 * never silently runs a worker with defaults. Pure (no `Deno.*`), like `worker_options.ts`.
 *
 * @module
 */
import { parse as parseYaml } from "yaml";

/** The options a profile may set, by their flag names. */
export const PROFILE_FLAGS = ["types", "exclude-types", "queues", "concurrency", "nice"] as const;
export type ProfileFlag = typeof PROFILE_FLAGS[number];
export type ProfileLayer = Partial<Record<ProfileFlag, unknown>>;

const ALIASES: Record<string, ProfileFlag> = { "tasks": "types", "exclude-tasks": "exclude-types" };
const IGNORED = new Set(["resources", "description"]);

export type ProfilesResult =
  | { ok: true; profiles: ReadonlyMap<string, ProfileLayer> }
  | { ok: false; message: string };

/** `excludeTypes`, `exclude_types`, `EXCLUDE_TYPES` → `exclude-types`. */
function flagOf(key: string): string {
  return key.trim().replace(/([a-z0-9])([A-Z])/g, "$1-$2").replace(/_/g, "-").toLowerCase();
}

/**
 * Reads a profiles file (YAML, or JSON, which is YAML too).
 *
 * @example
 * ```ts
 * const r = parseProfiles("profiles:\n  small: { concurrency: 1 }\n");
 * if (r.ok) console.log(r.profiles.get("small")); // { concurrency: 1 }
 * ```
 */
export function parseProfiles(text: string): ProfilesResult {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    const first = String((e as Error).message).split("\n")[0];
    return { ok: false, message: `profiles file: not valid YAML or JSON: ${first}` };
  }
  const isMap = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isMap(doc) || !isMap(doc.profiles)) {
    return { ok: false, message: 'profiles file: expected a "profiles:" map of named profiles' };
  }
  const profiles = new Map<string, ProfileLayer>();
  for (const [name, body] of Object.entries(doc.profiles)) {
    if (!isMap(body)) {
      return { ok: false, message: `profiles file: profile "${name}" must be a map of options` };
    }
    const layer: ProfileLayer = {};
    for (const [key, value] of Object.entries(body)) {
      const flag = ALIASES[flagOf(key)] ?? flagOf(key);
      if (IGNORED.has(flag)) continue;
      if (!(PROFILE_FLAGS as readonly string[]).includes(flag)) {
        return {
          ok: false,
          message: `profiles file: profile "${name}": unknown option "${key}"; a profile sets ` +
            `${PROFILE_FLAGS.join(", ")} (and resources, description, which the worker ignores)`,
        };
      }
      // YAML reads `concurrency: 4` as a number and `types: a,b` as a string; both are fine.
      layer[flag as ProfileFlag] = value;
    }
    profiles.set(name, layer);
  }
  return { ok: true, profiles };
}

/**
 * The options of one named profile, or the refusal that names the known ones.
 *
 * @example
 * ```ts
 * const layer = profileLayer(fileText, "lightweight");
 * ```
 */
export function profileLayer(
  text: string | null,
  name: string,
): { ok: true; layer: ProfileLayer } | { ok: false; message: string } {
  if (text === null) {
    return {
      ok: false,
      message: `--profile ${name}: no profiles file; set --profiles-file FILE ` +
        "(or TESSERA_PROFILES_FILE, or profiles-file in the config file)",
    };
  }
  const parsed = parseProfiles(text);
  if (!parsed.ok) return parsed;
  const layer = parsed.profiles.get(name);
  if (layer) return { ok: true, layer };
  const known = [...parsed.profiles.keys()];
  return {
    ok: false,
    message: `unknown profile "${name}"; known profiles: ${
      known.length ? known.join(", ") : "none"
    }`,
  };
}
