/**
 * How a worker knows that handler code really comes from its grid's operator: every manifest
 * entry is signed with the coordinator's ed25519 key, and names its code by SHA-256. Both
 * primitives come from @noble (audited, pure JS), because a browser on a plain-HTTP origin has no
 * `crypto.subtle`. Universal: Deno and browsers.
 *
 * The signed bytes are the canonical JSON (keys sorted at every depth) of the entry without its
 * `signature` member, so any coordinator on the store, or a worker, recomputes them exactly.
 *
 * @example
 * ```ts
 * const key = generateSigningKey();
 * const signed = signEntry(entry, key.secretKey);
 * verifyEntry(signed, key.publicKey); // true
 * ```
 *
 * @module
 */
import * as ed from "@noble/ed25519";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { canonicalJson } from "../canonical_hash.ts";
import type { HandlerEntry, UnsignedHandlerEntry } from "../protocol.ts";

// Synchronous signing and checking without WebCrypto.
ed.hashes.sha512 = sha512;

/** SHA-256 of bytes (or of a string's UTF-8), lower-case hex: a handler bundle's name. */
export function sha256Hex(data: Uint8Array | string): string {
  return bytesToHex(sha256(typeof data === "string" ? new TextEncoder().encode(data) : data));
}

/** A fresh ed25519 key pair, both halves base64. */
export function generateSigningKey(): { publicKey: string; secretKey: string } {
  const secret = ed.utils.randomSecretKey();
  return { publicKey: toBase64(ed.getPublicKey(secret)), secretKey: toBase64(secret) };
}

/** The public half of a base64 secret key, base64. */
export function publicKeyOf(secretKey: string): string {
  return toBase64(ed.getPublicKey(fromBase64(secretKey)));
}

/** The exact bytes a signature covers. */
export function signedBytes(entry: UnsignedHandlerEntry | HandlerEntry): Uint8Array {
  const { signature: _, ...rest } = entry as HandlerEntry;
  return new TextEncoder().encode(canonicalJson(rest));
}

/** `entry` with its `signature` (base64) set. */
export function signEntry(entry: UnsignedHandlerEntry, secretKey: string): HandlerEntry {
  const signature = toBase64(ed.sign(signedBytes(entry), fromBase64(secretKey)));
  return { ...entry, signature };
}

/** True when `entry.signature` is the signature of `publicKey` (base64) over the entry. */
export function verifyEntry(entry: HandlerEntry, publicKey: string): boolean {
  try {
    return ed.verify(fromBase64(entry.signature), signedBytes(entry), fromBase64(publicKey));
  } catch {
    return false; // malformed key or signature
  }
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
