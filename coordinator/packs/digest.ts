/**
 * SHA-256 in hex with WebCrypto: the coordinator always has `crypto.subtle`, and it is ~50×
 * faster than the pure-JS one workers on plain-HTTP pages need (`shared/packs/signature.ts`),
 * which matters for half-megabyte bundles. Same output.
 *
 * @module
 */

export async function digestHex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}
