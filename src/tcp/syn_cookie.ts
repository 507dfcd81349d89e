/**
 * SYN cookies, in the style Linux uses (net/ipv4/syncookies.c), for a
 * listener whose SYN backlog is full: the SYN-ACK's ISN encodes what the
 * listener must remember, so that nothing is stored until the handshake's
 * final ACK proves the peer saw the SYN-ACK. RFC 4987 (section 3.6) describes
 * the technique and its trade-offs; the ISN still passes through a keyed hash
 * (RFC 6528 3) so that cookies are neither forgeable nor predictable.
 *
 * Layout of the 32-bit ISN, before a keyed offset is added:
 *
 * ```
 *  31      27 26   24 23                         0
 * +----------+-------+----------------------------+
 * | count%32 | mss   | MAC (24 bits)              |
 * +----------+-------+----------------------------+
 * ```
 *
 * - count: the time counter, `floor(now / 64 s)`; cookies of the current and
 *   the previous counter are accepted (so a cookie lives 64..128 s).
 * - mss: an index into {@link synCookieMssTable} (3 bits).
 * - MAC and offset: one SipHash-1-3 of the 4-tuple, the client's ISN and the
 *   full counter gives 64 bits: the upper 32 are the offset added to the
 *   fields (so the ISN shows no structure, RFC 6528 3), the lower 24 the MAC.
 *   Making a cookie costs one hash (Linux's takes two); checking one costs a
 *   hash per counter accepted, and a guess must match both the counter's 5
 *   bits and the MAC under one of them: a blind forger succeeds about once
 *   in 2^28 tries. The MSS bits are not under the MAC: a peer that changes
 *   them could as well have sent another MSS in its SYN.
 *
 * When the SYN carried timestamps (RFC 7323), the options the listener would
 * otherwise forget ride in the low 6 bits of our TSval, which the ACK echoes
 * in TSecr: window scale (4 bits, 15 = none), SACK-permitted (1 bit) and ECN
 * (1 bit). Without timestamps those options are lost, as on Linux.
 *
 * @example
 * ```ts
 * import { SynCookies } from "./syn_cookie.ts";
 * const cookies = new SynCookies();
 * const iss = cookies.isn(0xc6120001, 80, 0xc6120002, 40000, 777, 1460, 5000);
 * const tsval = cookies.tsval(123456, 7, true, false);
 * // ... the final ACK: seq 778, ack iss + 1, TSecr tsval:
 * const got = cookies.check(0xc6120001, 80, 0xc6120002, 40000, 778, (iss + 1) >>> 0, 6000, true, tsval);
 * // got !== "invalid": got.mss === 1460, got.windowScale === 7, got.sackPermitted
 * ```
 *
 * @module
 */
import { randomSipHashKey, SipHash } from "./siphash.ts";

/** Lifetime of one cookie time counter (Linux: 64 s, counted in `now` ms). */
export const synCookiePeriodMs = 64_000;

/** Counters accepted when validating: the current one and the one before (Linux MAX_SYNCOOKIE_AGE). */
export const synCookieCountersAccepted = 2;

/**
 * MSS values a cookie can carry (3 bits): 536 is the RFC 9293 (3.7.1) default,
 * 1460 Ethernet's, the others common tunnel and PPPoE paths, and a jumbo frame.
 */
export const synCookieMssTable: readonly number[] = [536, 1220, 1300, 1380, 1440, 1452, 1460, 8960];

/** Window-scale value in the TSval bits meaning "no window scaling" (RFC 7323 2.2: shifts are 0..14). */
export const synCookieNoWindowScale = 15;

/** Largest window scale shift (RFC 7323 2.3). */
const windowScaleMax = 14;
const tsOptionBits = 6;
const tsOptionMask = (1 << tsOptionBits) - 1;
const tsSackBit = 1 << 4;
const tsEcnBit = 1 << 5;
const macMask = 0xff_ffff;
// Domain separation from the other uses of a key (ISNs hash 4 words, the table its own key).
const cookieDomain = 0x53594332; // "SYC2"
// SipHash-1-3 (see siphash.ts): a cookie's MAC is cut to 24 bits and lives at most 128 s.
const cookieRoundsC = 1;
const cookieRoundsD = 3;

/** What a valid cookie gives back: the options the SYN negotiated. */
export class SynCookieOptions {
  /** MSS to use toward the peer (an entry of {@link synCookieMssTable}). */
  mss = 536;
  /** The peer's window scale shift (0..14), or -1 when window scaling is off. */
  windowScale = -1;
  /** Whether the peer sent SACK-permitted (RFC 2018 2). */
  sackPermitted = false;
  /** Whether the peer asked for ECN (RFC 3168 6.1.1). */
  ecn = false;
  /** Whether timestamps are in use (the ACK carried them). */
  timestamps = false;
}

/** Makes and checks SYN cookies under one secret key. */
export class SynCookies {
  private _hash: SipHash;
  private _out = new SynCookieOptions();

  /** Cookies keyed by `key` (16 bytes), or by a fresh random key. */
  constructor(key: Uint8Array = randomSipHashKey()) {
    this._hash = new SipHash(key, cookieRoundsC, cookieRoundsD);
  }

  /**
   * The ISN of a SYN-ACK sent without state, for a SYN with sequence number
   * `clientIsn` and MSS option `mss` (pass 536 when the SYN had none, after
   * taking the minimum with our own MSS). The MSS is rounded down to a table entry.
   */
  isn(
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    clientIsn: number,
    mss: number,
    now: number,
  ): number {
    const index = mssIndex(mss);
    const count = counterAt(now);
    const h = this._hash;
    h.hashWords6(localIp, remoteIp, ports(localPort, remotePort), clientIsn, count, cookieDomain);
    const fields = ((count & 31) << 27) | (index << 24) | (h.lo & macMask);
    return (fields + h.hi) >>> 0;
  }

  /**
   * The TSval to send in the SYN-ACK when the SYN carried timestamps: the
   * clock `tsNow` with its low 6 bits replaced by the options, never ahead of
   * `tsNow` (so it is at most 63 ticks old). `windowScale` is the peer's shift,
   * or -1 when it sent no window-scale option.
   */
  tsval(tsNow: number, windowScale: number, sackPermitted: boolean, ecn: boolean): number {
    const ws = windowScale < 0 || windowScale > windowScaleMax ? synCookieNoWindowScale : windowScale;
    const bits = ws | (sackPermitted ? tsSackBit : 0) | (ecn ? tsEcnBit : 0);
    let ts = ((tsNow & ~tsOptionMask) | bits) >>> 0;
    if (((ts - tsNow) | 0) > 0) ts = (ts - (tsOptionMask + 1)) >>> 0;
    return ts;
  }

  /**
   * Checks the handshake's final ACK (sequence number `seq`, acknowledgment
   * `ack`): `ack - 1` must be a cookie made for this 4-tuple and the client ISN
   * `seq - 1` within the last {@link synCookieCountersAccepted} counters.
   * `tsecr` is read when `timestamps` says the ACK had the option. Returns the
   * decoded options — one object owned by this instance, overwritten by the
   * next call — or "invalid".
   */
  check(
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    seq: number,
    ack: number,
    now: number,
    timestamps: boolean,
    tsecr: number,
  ): SynCookieOptions | "invalid" {
    const cookie = (ack - 1) >>> 0;
    const clientIsn = (seq - 1) >>> 0;
    const nowCount = counterAt(now);
    const h = this._hash;
    const p = ports(localPort, remotePort);
    let index = -1;
    for (let age = 0; age < synCookieCountersAccepted && index < 0; age++) {
      const count = (nowCount - age) >>> 0;
      h.hashWords6(localIp, remoteIp, p, clientIsn, count, cookieDomain);
      const fields = (cookie - h.hi) >>> 0;
      if (fields >>> 27 === (count & 31) && (fields & macMask) === (h.lo & macMask)) {
        index = (fields >>> 24) & 7;
      }
    }
    if (index < 0) return "invalid";
    const out = this._out;
    out.mss = synCookieMssTable[index];
    out.timestamps = timestamps;
    if (timestamps) {
      const ws = tsecr & 0xf;
      if (ws !== synCookieNoWindowScale && ws > windowScaleMax) return "invalid";
      out.windowScale = ws === synCookieNoWindowScale ? -1 : ws;
      out.sackPermitted = (tsecr & tsSackBit) !== 0;
      out.ecn = (tsecr & tsEcnBit) !== 0;
    } else {
      out.windowScale = -1;
      out.sackPermitted = false;
      out.ecn = false;
    }
    return out;
  }
}

/** Index of the largest {@link synCookieMssTable} entry not above `mss` (0 when below them all). */
export function mssIndex(mss: number): number {
  let i = synCookieMssTable.length - 1;
  while (i > 0 && synCookieMssTable[i] > mss) i--;
  return i;
}

function counterAt(now: number): number {
  return Math.floor(now / synCookiePeriodMs) >>> 0;
}

function ports(localPort: number, remotePort: number): number {
  return ((localPort & 0xffff) << 16) | (remotePort & 0xffff);
}
