/**
 * The coordinator's ed25519 key, which signs every manifest entry: `handlers-key.json` in the
 * data folder, beside the KV file, created on first start (mode 0600). Every coordinator of a
 * store should use the same key (same data folder, or a copy of the file), since workers pin it.
 * A store with no folder: `:memory:` gets a key for this process only; a KV Connect URL keeps
 * the key in the store itself (`["meta", "handlers_key"]`), since its coordinators share no
 * folder.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { generateSigningKey, publicKeyOf } from "../../shared/packs/signature.ts";
import { handlerSigningKeyKey } from "../store/keys.ts";

const KeyFile = z.object({ publicKey: z.string(), secretKey: z.string() });
export type SigningKey = z.infer<typeof KeyFile>;

export const KEY_FILE = "handlers-key.json";

export async function loadSigningKey(
  where: { folder: string } | { kv: Deno.Kv } | null,
): Promise<SigningKey> {
  if (where === null) return generateSigningKey();
  if ("kv" in where) return await keyInStore(where.kv);
  const { folder } = where;
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
  // The winner of a creation race may still be writing: a few tries.
  let key: SigningKey;
  for (let attempt = 0;; attempt++) {
    try {
      key = KeyFile.parse(JSON.parse(await Deno.readTextFile(path)));
      break;
    } catch (e) {
      if (attempt >= 20) throw new Error(`${path}: not a signing key (${(e as Error).message})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (publicKeyOf(key.secretKey) !== key.publicKey) {
    throw new Error(`${path}: the public key does not match the secret key`);
  }
  return key;
}

async function keyInStore(kv: Deno.Kv): Promise<SigningKey> {
  const fresh = generateSigningKey();
  await kv.atomic().check({ key: handlerSigningKeyKey(), versionstamp: null })
    .set(handlerSigningKeyKey(), fresh).commit();
  return KeyFile.parse((await kv.get(handlerSigningKeyKey())).value);
}
