/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012), the keyed hash behind the ISNs of RFC 6528 (section 3, F()) and the
 * SYN cookies of this stack. A 128-bit key, a 64-bit result.
 *
 * JavaScript has no 64-bit integers short of BigInt, which allocates; each
 * 64-bit lane is kept here as two uint32 halves, and the result is left in
 * {@link SipHash.hi} and {@link SipHash.lo}. Nothing is allocated per hash.
 *
 * @example
 * ```ts
 * import { SipHash } from "./siphash.ts";
 * const key = new Uint8Array(16); // in use: crypto.getRandomValues
 * const h = new SipHash(key);
 * h.hashWords4(0xc612_0001, 0xc612_0002, (80 << 16) | 40000, 0);
 * const low32 = h.lo; // h.hi holds the upper half
 * ```
 *
 * @module
 */

/** Bytes of a SipHash key. */
export const sipHashKeyLen = 16;

// Initialisation constants, "somepseudorandomlygeneratedbytes" (paper, section 2).
const init0Hi = 0x736f6d65;
const init0Lo = 0x70736575;
const init1Hi = 0x646f7261;
const init1Lo = 0x6e646f6d;
const init2Hi = 0x6c796765;
const init2Lo = 0x6e657261;
const init3Hi = 0x74656462;
const init3Lo = 0x79746573;

/**
 * A SipHash-2-4 keyed hash. Reuse one instance: each `hash*` call writes its
 * 64-bit result to {@link hi} and {@link lo} and allocates nothing.
 */
export class SipHash {
  /** Upper 32 bits of the last result. */
  hi = 0;
  /** Lower 32 bits of the last result. */
  lo = 0;

  // The key as four little-endian uint32 words: k0 = (k0Hi, k0Lo), k1 likewise.
  private _k0Hi: number;
  private _k0Lo: number;
  private _k1Hi: number;
  private _k1Lo: number;
  // State v0..v3 as (hi, lo) pairs: v0h v0l v1h v1l v2h v2l v3h v3l.
  private _v = new Uint32Array(8);
  // SipRounds per message block (c) and at the end (d), for the word hashes.
  private _c: number;
  private _d: number;

  /**
   * A hasher keyed by the 16 bytes of `key` (read little-endian, as the
   * reference does). `c`/`d`: SipRounds per block and at the end of
   * {@link hashWords4} and {@link hashWords6} (default 2 and 4, SipHash-2-4;
   * 1 and 3 make SipHash-1-3, the faster variant Linux's hsiphash and Rust's
   * default hasher use). {@link hashBytes} is always SipHash-2-4.
   */
  constructor(key: Uint8Array, c = 2, d = 4) {
    if (key.length !== sipHashKeyLen) {
      throw new RangeError(`a SipHash key is ${sipHashKeyLen} bytes, got ${key.length}`);
    }
    if (!(Number.isInteger(c) && Number.isInteger(d) && c >= 1 && d >= 1 && c <= 8 && d <= 8)) {
      throw new RangeError(`SipHash rounds: c and d are integers 1..8, got ${c} and ${d}`);
    }
    this._c = c;
    this._d = d;
    this._k0Lo = le32(key, 0);
    this._k0Hi = le32(key, 4);
    this._k1Lo = le32(key, 8);
    this._k1Hi = le32(key, 12);
  }

  /** Hashes `bytes[offset, offset + length)`; the result is in {@link hi} and {@link lo}. */
  hashBytes(bytes: Uint8Array, offset = 0, length = bytes.length - offset): void {
    const v = this._begin();
    const end = offset + length;
    let p = offset;
    for (; p + 8 <= end; p += 8) compress(v, le32(bytes, p + 4), le32(bytes, p));
    // Last block: the remaining 0..7 bytes, and the length mod 256 in the top byte.
    let lo = 0;
    let hi = (length & 0xff) << 24;
    const rest = end - p;
    for (let i = 0; i < rest; i++) {
      if (i < 4) lo |= bytes[p + i] << (8 * i);
      else hi |= bytes[p + i] << (8 * (i - 4));
    }
    compress(v, hi >>> 0, lo >>> 0);
    this._finish(v);
  }

  /**
   * Hashes four uint32 words as the 16 bytes of their little-endian encoding
   * (same result as {@link hashBytes} over those bytes): a 4-tuple packed in
   * three words plus a counter, without a byte buffer.
   */
  hashWords4(w0: number, w1: number, w2: number, w3: number): void {
    this._words(2, w0, w1, w2, w3, 0, 0);
  }

  /** Hashes six uint32 words as the 24 bytes of their little-endian encoding. */
  hashWords6(w0: number, w1: number, w2: number, w3: number, w4: number, w5: number): void {
    this._words(3, w0, w1, w2, w3, w4, w5);
  }

  /**
   * SipHash-c-d over `blocks` 8-byte blocks of words (w0, w1), (w2, w3), (w4,
   * w5), the state kept in 32-bit locals and int32 arithmetic throughout (a
   * `>>> 0` result above 2^31 is a double to the JIT): about a fifth of the
   * time of the state-array form that {@link hashBytes} uses.
   */
  private _words(
    blocks: number,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    w4: number,
    w5: number,
  ): void {
    let v0h = this._k0Hi ^ init0Hi, v0l = this._k0Lo ^ init0Lo;
    let v1h = this._k1Hi ^ init1Hi, v1l = this._k1Lo ^ init1Lo;
    let v2h = this._k0Hi ^ init2Hi, v2l = this._k0Lo ^ init2Lo;
    let v3h = this._k1Hi ^ init3Hi, v3l = this._k1Lo ^ init3Lo;
    let t = 0, mh = 0, ml = 0;
    const c = this._c;
    // The message blocks, then the length block; after it v2 ^= 0xff and d rounds.
    for (let b = 0; b <= blocks + 1; b++) {
      let n = c;
      if (b === blocks + 1) {
        v2l ^= 0xff;
        n = this._d;
      } else {
        if (b === blocks) {
          mh = (blocks * 8) << 24;
          ml = 0;
        } else if (b === 0) {
          mh = w1 | 0;
          ml = w0 | 0;
        } else if (b === 1) {
          mh = w3 | 0;
          ml = w2 | 0;
        } else {
          mh = w5 | 0;
          ml = w4 | 0;
        }
        v3h ^= mh;
        v3l ^= ml;
      }
      for (let r = 0; r < n; r++) {
        // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
        t = (v0l + v1l) | 0;
        v0h = (v0h + v1h + ((t >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
        v0l = t;
        t = (v1h << 13) | (v1l >>> 19);
        v1l = ((v1l << 13) | (v1h >>> 19)) ^ v0l;
        v1h = t ^ v0h;
        t = v0h;
        v0h = v0l;
        v0l = t;
        // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
        t = (v2l + v3l) | 0;
        v2h = (v2h + v3h + ((t >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
        v2l = t;
        t = (v3h << 16) | (v3l >>> 16);
        v3l = ((v3l << 16) | (v3h >>> 16)) ^ v2l;
        v3h = t ^ v2h;
        // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
        t = (v0l + v3l) | 0;
        v0h = (v0h + v3h + ((t >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
        v0l = t;
        t = (v3h << 21) | (v3l >>> 11);
        v3l = ((v3l << 21) | (v3h >>> 11)) ^ v0l;
        v3h = t ^ v0h;
        // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
        t = (v2l + v1l) | 0;
        v2h = (v2h + v1h + ((t >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
        v2l = t;
        t = (v1h << 17) | (v1l >>> 15);
        v1l = ((v1l << 17) | (v1h >>> 15)) ^ v2l;
        v1h = t ^ v2h;
        t = v2h;
        v2h = v2l;
        v2l = t;
      }
      if (b < blocks + 1) {
        v0h ^= mh;
        v0l ^= ml;
      }
    }
    this.hi = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
    this.lo = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  }

  private _begin(): Uint32Array {
    const v = this._v;
    v[0] = this._k0Hi ^ init0Hi;
    v[1] = this._k0Lo ^ init0Lo;
    v[2] = this._k1Hi ^ init1Hi;
    v[3] = this._k1Lo ^ init1Lo;
    v[4] = this._k0Hi ^ init2Hi;
    v[5] = this._k0Lo ^ init2Lo;
    v[6] = this._k1Hi ^ init3Hi;
    v[7] = this._k1Lo ^ init3Lo;
    return v;
  }

  // v2 ^= 0xff, d = 4 rounds, result v0 ^ v1 ^ v2 ^ v3.
  private _finish(v: Uint32Array): void {
    v[5] ^= 0xff;
    rounds(v, 4);
    this.hi = (v[0] ^ v[2] ^ v[4] ^ v[6]) >>> 0;
    this.lo = (v[1] ^ v[3] ^ v[5] ^ v[7]) >>> 0;
  }
}

// One message block m = (mHi, mLo): v3 ^= m, c = 2 rounds, v0 ^= m.
function compress(v: Uint32Array, mHi: number, mLo: number): void {
  v[6] ^= mHi;
  v[7] ^= mLo;
  rounds(v, 2);
  v[0] ^= mHi;
  v[1] ^= mLo;
}

// `n` SipRounds (paper, section 2) on the state, in 32-bit halves kept in locals.
function rounds(v: Uint32Array, n: number): void {
  let v0h = v[0], v0l = v[1], v1h = v[2], v1l = v[3];
  let v2h = v[4], v2l = v[5], v3h = v[6], v3l = v[7];
  let t: number;
  for (let r = 0; r < n; r++) {
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    t = (v0l + v1l) >>> 0;
    v0h = (v0h + v1h + (t < v0l ? 1 : 0)) >>> 0;
    v0l = t;
    t = (v1h << 13) | (v1l >>> 19);
    v1l = (v1l << 13) | (v1h >>> 19);
    v1h = (t ^ v0h) >>> 0;
    v1l = (v1l ^ v0l) >>> 0;
    t = v0h;
    v0h = v0l;
    v0l = t;
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    t = (v2l + v3l) >>> 0;
    v2h = (v2h + v3h + (t < v2l ? 1 : 0)) >>> 0;
    v2l = t;
    t = (v3h << 16) | (v3l >>> 16);
    v3l = (v3l << 16) | (v3h >>> 16);
    v3h = (t ^ v2h) >>> 0;
    v3l = (v3l ^ v2l) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    t = (v0l + v3l) >>> 0;
    v0h = (v0h + v3h + (t < v0l ? 1 : 0)) >>> 0;
    v0l = t;
    t = (v3h << 21) | (v3l >>> 11);
    v3l = (v3l << 21) | (v3h >>> 11);
    v3h = (t ^ v0h) >>> 0;
    v3l = (v3l ^ v0l) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    t = (v2l + v1l) >>> 0;
    v2h = (v2h + v1h + (t < v2l ? 1 : 0)) >>> 0;
    v2l = t;
    t = (v1h << 17) | (v1l >>> 15);
    v1l = (v1l << 17) | (v1h >>> 15);
    v1h = (t ^ v2h) >>> 0;
    v1l = (v1l ^ v2l) >>> 0;
    t = v2h;
    v2h = v2l;
    v2l = t;
  }
  v[0] = v0h;
  v[1] = v0l;
  v[2] = v1h;
  v[3] = v1l;
  v[4] = v2h;
  v[5] = v2l;
  v[6] = v3h;
  v[7] = v3l;
}

/** A fresh random SipHash key from the platform's CSPRNG. */
export function randomSipHashKey(): Uint8Array {
  const key = new Uint8Array(sipHashKeyLen);
  crypto.getRandomValues(key);
  return key;
}

function le32(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}
