/**
 * SYN cookies, in the style Linux uses (net/ipv4/syncookies.c), for a
 * listener whose SYN backlog is full: the SYN-ACK's ISN encodes what the
 * listener must remember, so that nothing is stored until the handshake's
 * final ACK proves the peer saw the SYN-ACK. RFC 4987 (section 3.6) describes
 * the technique and its trade-offs; the ISN still passes through a keyed hash
 * (RFC 6528 3) so that cookies are neither forgeable nor predictable.
 *
 * Layout of the 32-bit ISN, before a keyed per-4-tuple offset is added:
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
 * - MAC: SipHash-2-4 of the 4-tuple, the client's ISN, the full counter and
 *   the MSS index, cut to 24 bits. A blind forger succeeds once in 2^24 tries.
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
// Domain-separation words, so the two hashes share nothing with each other or with ISNs.
const offsetDomain = 0x53594330; // "SYC0"
const macDomain = 0x53594331; // "SYC1"

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
    this._hash = new SipHash(key);
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
    const mac = this._mac(localIp, localPort, remoteIp, remotePort, clientIsn, count, index);
    const fields = (((count & 31) << 27) | (index << 24) | mac) >>> 0;
    return (fields + this._offset(localIp, localPort, remoteIp, remotePort)) >>> 0;
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
    const fields = (cookie - this._offset(localIp, localPort, remoteIp, remotePort)) >>> 0;
    const count5 = fields >>> 27;
    const index = (fields >>> 24) & 7;
    const mac = fields & macMask;
    const nowCount = counterAt(now);
    let valid = false;
    for (let age = 0; age < synCookieCountersAccepted && !valid; age++) {
      const count = (nowCount - age) >>> 0;
      if ((count & 31) !== count5) continue;
      valid = mac === this._mac(localIp, localPort, remoteIp, remotePort, clientIsn, count, index);
    }
    if (!valid) return "invalid";
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

  private _offset(localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
    const h = this._hash;
    h.hashWords4(localIp, remoteIp, ports(localPort, remotePort), offsetDomain);
    return (h.lo ^ h.hi) >>> 0;
  }

  private _mac(
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    clientIsn: number,
    count: number,
    index: number,
  ): number {
    const h = this._hash;
    h.hashWords6(
      localIp,
      remoteIp,
      ports(localPort, remotePort),
      clientIsn,
      count,
      (macDomain ^ index) >>> 0,
    );
    return (h.lo ^ h.hi) & macMask;
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
