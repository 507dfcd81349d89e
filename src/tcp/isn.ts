/**
 * Initial sequence numbers per RFC 6528 (section 3):
 * `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`, where M
 * is a timer that ticks every 4 microseconds (RFC 9293 3.4.1) and F is a keyed
 * pseudorandom function, here SipHash-2-4. Connections to different peers get
 * unrelated sequence spaces; successive incarnations of one 4-tuple get
 * increasing ones, which keeps old duplicates out (RFC 9293 3.4.1).
 *
 * Time comes in as `now` (milliseconds); the clock is never read here.
 *
 * @example
 * ```ts
 * import { IsnGenerator } from "./isn.ts";
 * const isns = new IsnGenerator(); // random key
 * const iss = isns.isn(0xc612_0001, 5000, 0xc612_0002, 80, 1234.5);
 * ```
 *
 * @module
 */
import { randomSipHashKey, SipHash } from "./siphash.ts";

/** Ticks of the ISN clock M per millisecond: one per 4 microseconds (RFC 9293 3.4.1, RFC 6528 3). */
export const isnClockTicksPerMs = 250;

// Domain-separation word hashed after the 4-tuple, so that F() shares nothing
// with other uses of the same key.
const isnDomain = 0x49534e31; // "ISN1"

/** Generates RFC 6528 initial sequence numbers under one secret key. */
export class IsnGenerator {
  private _hash: SipHash;

  /** A generator keyed by `key` (16 bytes), or by a fresh random key (RFC 6528 3: secretkey). */
  constructor(key: Uint8Array = randomSipHashKey()) {
    this._hash = new SipHash(key);
  }

  /** Replaces the secret key (RFC 6528 3 allows changing it, e.g. at a restart). */
  rekey(key: Uint8Array): void {
    this._hash = new SipHash(key);
  }

  /**
   * The ISN for a connection at time `now` (ms): M + F(4-tuple) modulo 2^32.
   * Addresses are uint32 IPv4 addresses, ports 0..65535.
   */
  isn(localIp: number, localPort: number, remoteIp: number, remotePort: number, now: number): number {
    return (isnClock(now) + this.offset(localIp, localPort, remoteIp, remotePort)) >>> 0;
  }

  /** F(localip, localport, remoteip, remoteport, secretkey) alone: the per-4-tuple offset. */
  offset(localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
    const h = this._hash;
    h.hashWords4(localIp, remoteIp, ((localPort & 0xffff) << 16) | (remotePort & 0xffff), isnDomain);
    return (h.lo ^ h.hi) >>> 0;
  }
}

/** M of RFC 6528: the 4-microsecond timer at `now` (ms), modulo 2^32. */
export function isnClock(now: number): number {
  return Math.floor(now * isnClockTicksPerMs) >>> 0;
}
