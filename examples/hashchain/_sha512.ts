/**
 * SHA-512 (FIPS 180-4) in plain TypeScript: the same chain engine as the WebAssembly one.
 * JavaScript has no 64-bit integers (BigInt allocates and is far slower), so every 64-bit word
 * is a pair of 32-bit halves, the way fast JavaScript SHA-512s (noble-hashes, for one) do it:
 * rotations combine both halves, and sums of low halves are added as doubles (exact below
 * 2^53) whose overflow above 2^32 is the carry into the high half.
 *
 * @module
 */
import type { ChainEngine } from "./_chain.ts";

/** The 80 round constants, high half then low half. */
const K = new Int32Array([
  0x428a2f98,
  0xd728ae22,
  0x71374491,
  0x23ef65cd,
  0xb5c0fbcf,
  0xec4d3b2f,
  0xe9b5dba5,
  0x8189dbbc,
  0x3956c25b,
  0xf348b538,
  0x59f111f1,
  0xb605d019,
  0x923f82a4,
  0xaf194f9b,
  0xab1c5ed5,
  0xda6d8118,
  0xd807aa98,
  0xa3030242,
  0x12835b01,
  0x45706fbe,
  0x243185be,
  0x4ee4b28c,
  0x550c7dc3,
  0xd5ffb4e2,
  0x72be5d74,
  0xf27b896f,
  0x80deb1fe,
  0x3b1696b1,
  0x9bdc06a7,
  0x25c71235,
  0xc19bf174,
  0xcf692694,
  0xe49b69c1,
  0x9ef14ad2,
  0xefbe4786,
  0x384f25e3,
  0x0fc19dc6,
  0x8b8cd5b5,
  0x240ca1cc,
  0x77ac9c65,
  0x2de92c6f,
  0x592b0275,
  0x4a7484aa,
  0x6ea6e483,
  0x5cb0a9dc,
  0xbd41fbd4,
  0x76f988da,
  0x831153b5,
  0x983e5152,
  0xee66dfab,
  0xa831c66d,
  0x2db43210,
  0xb00327c8,
  0x98fb213f,
  0xbf597fc7,
  0xbeef0ee4,
  0xc6e00bf3,
  0x3da88fc2,
  0xd5a79147,
  0x930aa725,
  0x06ca6351,
  0xe003826f,
  0x14292967,
  0x0a0e6e70,
  0x27b70a85,
  0x46d22ffc,
  0x2e1b2138,
  0x5c26c926,
  0x4d2c6dfc,
  0x5ac42aed,
  0x53380d13,
  0x9d95b3df,
  0x650a7354,
  0x8baf63de,
  0x766a0abb,
  0x3c77b2a8,
  0x81c2c92e,
  0x47edaee6,
  0x92722c85,
  0x1482353b,
  0xa2bfe8a1,
  0x4cf10364,
  0xa81a664b,
  0xbc423001,
  0xc24b8b70,
  0xd0f89791,
  0xc76c51a3,
  0x0654be30,
  0xd192e819,
  0xd6ef5218,
  0xd6990624,
  0x5565a910,
  0xf40e3585,
  0x5771202a,
  0x106aa070,
  0x32bbd1b8,
  0x19a4c116,
  0xb8d2d0c8,
  0x1e376c08,
  0x5141ab53,
  0x2748774c,
  0xdf8eeb99,
  0x34b0bcb5,
  0xe19b48a8,
  0x391c0cb3,
  0xc5c95a63,
  0x4ed8aa4a,
  0xe3418acb,
  0x5b9cca4f,
  0x7763e373,
  0x682e6ff3,
  0xd6b2b8a3,
  0x748f82ee,
  0x5defb2fc,
  0x78a5636f,
  0x43172f60,
  0x84c87814,
  0xa1f0ab72,
  0x8cc70208,
  0x1a6439ec,
  0x90befffa,
  0x23631e28,
  0xa4506ceb,
  0xde82bde9,
  0xbef9a3f7,
  0xb2c67915,
  0xc67178f2,
  0xe372532b,
  0xca273ece,
  0xea26619c,
  0xd186b8c7,
  0x21c0c207,
  0xeada7dd6,
  0xcde0eb1e,
  0xf57d4f7f,
  0xee6ed178,
  0x06f067aa,
  0x72176fba,
  0x0a637dc5,
  0xa2c898a6,
  0x113f9804,
  0xbef90dae,
  0x1b710b35,
  0x131c471b,
  0x28db77f5,
  0x23047d84,
  0x32caab7b,
  0x40c72493,
  0x3c9ebe0a,
  0x15c9bebc,
  0x431d67c4,
  0x9c100d4c,
  0x4cc5d4be,
  0xcb3e42b6,
  0x597f299c,
  0xfc657e2a,
  0x5fcb6fab,
  0x3ad6faec,
  0x6c44198c,
  0x4a475817,
]);

const IV = new Int32Array([
  0x6a09e667,
  0xf3bcc908,
  0xbb67ae85,
  0x84caa73b,
  0x3c6ef372,
  0xfe94f82b,
  0xa54ff53a,
  0x5f1d36f1,
  0x510e527f,
  0xade682d1,
  0x9b05688c,
  0x2b3e6c1f,
  0x1f83d9ab,
  0xfb41bd6b,
  0x5be0cd19,
  0x137e2179,
]);

const TWO_32 = 0x100000000;

/**
 * Compresses the 16 words in `w[0..32)` (high, low, high, low, …; big-endian words) into `h`
 * (16 halves), `w` being the 160-half message schedule.
 */
function compress(h: Int32Array, w: Int32Array): void {
  for (let t = 32; t < 160; t += 2) {
    // σ0(w[t-15]) = rotr 1 ^ rotr 8 ^ shr 7
    const xh = w[t - 30], xl = w[t - 29];
    const s0h = ((xh >>> 1) | (xl << 31)) ^ ((xh >>> 8) | (xl << 24)) ^ (xh >>> 7);
    const s0l = ((xl >>> 1) | (xh << 31)) ^ ((xl >>> 8) | (xh << 24)) ^
      ((xl >>> 7) | (xh << 25));
    // σ1(w[t-2]) = rotr 19 ^ rotr 61 ^ shr 6
    const yh = w[t - 4], yl = w[t - 3];
    const s1h = ((yh >>> 19) | (yl << 13)) ^ ((yl >>> 29) | (yh << 3)) ^ (yh >>> 6);
    const s1l = ((yl >>> 19) | (yh << 13)) ^ ((yh >>> 29) | (yl << 3)) ^
      ((yl >>> 6) | (yh << 26));
    const l = (w[t - 31] >>> 0) + (s0l >>> 0) + (w[t - 13] >>> 0) + (s1l >>> 0);
    w[t] = (w[t - 32] + s0h + w[t - 14] + s1h + ((l / TWO_32) | 0)) | 0;
    w[t + 1] = l | 0;
  }
  let ah = h[0], al = h[1], bh = h[2], bl = h[3], ch = h[4], cl = h[5], dh = h[6], dl = h[7];
  let eh = h[8], el = h[9], fh = h[10], fl = h[11], gh = h[12], gl = h[13], hh = h[14], hl = h[15];
  for (let t = 0; t < 160; t += 2) {
    // Σ1(e) = rotr 14 ^ rotr 18 ^ rotr 41
    const S1h = ((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^
      ((el >>> 9) | (eh << 23));
    const S1l = ((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^
      ((eh >>> 9) | (el << 23));
    const chh = (eh & fh) ^ (~eh & gh);
    const chl = (el & fl) ^ (~el & gl);
    const t1l = (hl >>> 0) + (S1l >>> 0) + (chl >>> 0) + (K[t + 1] >>> 0) + (w[t + 1] >>> 0);
    const t1h = (hh + S1h + chh + K[t] + w[t] + ((t1l / TWO_32) | 0)) | 0;
    // Σ0(a) = rotr 28 ^ rotr 34 ^ rotr 39
    const S0h = ((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^
      ((al >>> 7) | (ah << 25));
    const S0l = ((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^
      ((ah >>> 7) | (al << 25));
    const majh = (ah & bh) ^ (ah & ch) ^ (bh & ch);
    const majl = (al & bl) ^ (al & cl) ^ (bl & cl);
    hh = gh, hl = gl;
    gh = fh, gl = fl;
    fh = eh, fl = el;
    const el2 = (dl >>> 0) + (t1l >>> 0);
    eh = (dh + t1h + ((el2 / TWO_32) | 0)) | 0;
    el = el2 | 0;
    dh = ch, dl = cl;
    ch = bh, cl = bl;
    bh = ah, bl = al;
    const al2 = (t1l >>> 0) + (S0l >>> 0) + (majl >>> 0);
    ah = (t1h + S0h + majh + ((al2 / TWO_32) | 0)) | 0;
    al = al2 | 0;
  }
  add(h, 0, ah, al);
  add(h, 2, bh, bl);
  add(h, 4, ch, cl);
  add(h, 6, dh, dl);
  add(h, 8, eh, el);
  add(h, 10, fh, fl);
  add(h, 12, gh, gl);
  add(h, 14, hh, hl);
}

/** h[i..i+2) += (xh, xl), modulo 2^64. */
function add(h: Int32Array, i: number, xh: number, xl: number): void {
  const l = (h[i + 1] >>> 0) + (xl >>> 0);
  h[i] = (h[i] + xh + ((l / TWO_32) | 0)) | 0;
  h[i + 1] = l | 0;
}

/** A new TypeScript chain engine (its own state). */
export function tsEngine(): ChainEngine {
  const h = new Int32Array(16);
  const w = new Int32Array(160);
  return {
    start(seed) {
      h.set(IV);
      // The message, the 0x80 marker, zeros and the 128-bit bit length, in 128-byte blocks.
      const blocks = Math.floor((seed.length + 16) / 128) + 1;
      const padded = new Uint8Array(blocks * 128);
      padded.set(seed);
      padded[seed.length] = 0x80;
      const view = new DataView(padded.buffer);
      view.setUint32(padded.length - 8, Math.floor(seed.length / 0x20000000));
      view.setUint32(padded.length - 4, (seed.length << 3) >>> 0);
      for (let block = 0; block < blocks; block++) {
        for (let t = 0; t < 32; t++) w[t] = view.getInt32(block * 128 + t * 4);
        compress(h, w);
      }
    },
    step(n) {
      for (let k = 0; k < n; k++) {
        // A 64-byte message is one block: the digest, 0x80, zeros, and the length 512 bits.
        for (let t = 0; t < 16; t++) w[t] = h[t];
        w[16] = 0x80000000 | 0;
        for (let t = 17; t < 31; t++) w[t] = 0;
        w[31] = 512;
        h.set(IV);
        compress(h, w);
      }
    },
    digest() {
      const out = new Uint8Array(64);
      const view = new DataView(out.buffer);
      for (let t = 0; t < 16; t++) view.setInt32(t * 4, h[t]);
      return out;
    },
  };
}
