/**
 * The coordinator's ed25519 key, which signs every manifest entry: `handlers-key.json` in the
 * data folder, beside the KV file, created on first start (mode 0600). Every coordinator of a
 * store should use the same key (same data folder, or a copy of the file), since workers pin it.
 * A store with no folder (`:memory:`) gets a key for this process only.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { generateSigningKey, publicKeyOf } from "../../shared/packs/signature.ts";

const KeyFile = z.object({ publicKey: z.string(), secretKey: z.string() });
export type SigningKey = z.infer<typeof KeyFile>;

export const KEY_FILE = "handlers-key.json";

export async function loadSigningKey(folder: string | null): Promise<SigningKey> {
  if (folder === null) return generateSigningKey();
  const path = join(folder, KEY_FILE);
  const fresh = generateSigningKey();
  try {
    // createNew: two coordinators starting together on one folder end up with one key.
    await Deno.writeTextFile(path, JSON.stringify(fresh, null, 2) + "\n", {
      createNew: true,
      mode: 0o600,
    });
    return fresh;
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  const key = KeyFile.parse(JSON.parse(await Deno.readTextFile(path)));
  if (publicKeyOf(key.secretKey) !== key.publicKey) {
    throw new Error(`${path}: the public key does not match the secret key`);
  }
  return key;
}
