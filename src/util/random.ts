/**
 * A small, fast, seeded pseudo-random generator: xoshiro128** (Blackman and
 * Vigna, 2018) over four 32-bit words, seeded through splitmix32. Only 32-bit
 * integer arithmetic is used (`Math.imul`, shifts), so a seed gives the same
 * sequence under Bun, Deno and any other JavaScript engine: this is what makes
 * a simulated run replayable from its seed.
 *
 * Not for cryptography.
 *
 * @example
 * ```ts
 * import { Random } from "./random.ts";
 * const rng = new Random(42);
 * const coin = rng.float() < 0.5;
 * const die = 1 + rng.int(6);
 * ```
 *
 * @module
 */

const two32 = 4294967296;

/** A seeded xoshiro128** generator; see the module documentation. */
export class Random {
  /** The seed it was created with, to print when a run fails. */
  readonly seed: number;
  /** The stream it was created with. */
  readonly stream: number;
  private readonly _s = new Int32Array(4);

  /**
   * Seeds the generator from any finite number (its integer part, up to 2^53
   * in magnitude, all counts). Generators with the same seed and different
   * `stream` numbers give unrelated sequences.
   */
  constructor(seed: number, stream = 0) {
    if (!Number.isFinite(seed)) throw new RangeError(`Random: seed must be a finite number, got ${seed}`);
    if (!Number.isInteger(stream) || stream < 0 || stream >= two32) {
      throw new RangeError(`Random: stream must be an integer 0..2^32-1, got ${stream}`);
    }
    this.seed = seed;
    this.stream = stream;
    const whole = Math.trunc(seed);
    const lo = whole % two32 | 0;
    const hi = Math.trunc(whole / two32) | 0;
    // splitmix32 over (lo, hi, stream) fills the state; it is never all zero
    // in practice, and is forced away from it below regardless.
    let x = lo ^ Math.imul(hi, 0x9e3779b1) ^ Math.imul(stream, 0x85ebca6b);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this._s[i] = z ^ (z >>> 16);
    }
    if ((this._s[0] | this._s[1] | this._s[2] | this._s[3]) === 0) this._s[0] = 1;
  }

  /** The next value, a uniform uint32. */
  next(): number {
    const s = this._s;
    const s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    s[1] = s1 ^ n2;
    s[0] = s0 ^ n3;
    s[2] = n2 ^ t;
    s[3] = (n3 << 11) | (n3 >>> 21);
    return result >>> 0;
  }

  /** A uniform float in [0, 1), with 32 bits of resolution. */
  float(): number {
    return this.next() / two32;
  }

  /** A uniform integer in [0, n), without bias; `n` is an integer 1..2^32. */
  int(n: number): number {
    if (!(n >= 1 && n <= two32 && Number.isInteger(n))) {
      throw new RangeError(`Random.int: n must be an integer 1..2^32, got ${n}`);
    }
    // Reject the top partial range so every residue is equally likely.
    const limit = two32 - (two32 % n);
    for (;;) {
      const r = this.next();
      if (r < limit) return r % n;
    }
  }

  /** True with probability `p` (none drawn when `p` is 0 or 1 and beyond). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.float() < p;
  }
}
