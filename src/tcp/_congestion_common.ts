/**
 * Values shared by the congestion controllers: the initial window (RFC 6928
 * section 2, RFC 5681 section 3.1), DupThresh (RFC 5681 3.2, RFC 6675 2), the
 * byte-counting limit L (RFC 3465 2.3), the initial ssthresh (RFC 5681 3.1),
 * and the actions an ACK asks of the state machine. Kept apart from
 * congestion.ts so that newreno.ts and cubic.ts use them without an import
 * cycle (congestion.ts imports both for its factory).
 *
 * @module
 */

/**
 * Bit flags an ACK hook returns: what the state machine must do now. Several
 * may be set at once; 0 means carry on.
 */
export const CcAction = {
  /** Nothing to do beyond sending what the window allows. */
  none: 0,
  /**
   * Retransmit the segment starting at SND.UNA now: the fast retransmit of
   * RFC 5681 (3.2 step 2), or the next hole after a partial ACK (RFC 6582 3.2
   * step 5). Under SACK recovery, take the segment from NextSeg() instead.
   */
  retransmit: 1,
  /** Restart the retransmission timer (RFC 6582 3.2 step 5: on the first partial ACK). */
  restartTimer: 2,
  /** Loss recovery began with this ACK (RFC 5681 3.2 / RFC 6675 5 step 4). */
  enteredRecovery: 4,
  /** Loss recovery ended with this ACK: it acknowledged everything up to `recover`. */
  exitedRecovery: 8,
} as const;

/** Duplicate ACKs that signal a loss (RFC 5681 3.2, RFC 6675 2: DupThresh). */
export const dupThresh = 3;

/**
 * L, the most slow start grows per ACK after a retransmission timeout, in SMSS
 * (RFC 3465 (2.3)); otherwise slow start counts every byte acknowledged (see NewReno.onAck).
 */
export const abcLimitAfterRtoSegments = 1;

/** Segments of the RFC 6928 (2) initial window, capped at {@link initialWindowRfc6928CapBytes}. */
export const initialWindowRfc6928Segments = 10;

/** Byte cap of the RFC 6928 (2) initial window: min(10*MSS, max(2*MSS, 14600)). */
export const initialWindowRfc6928CapBytes = 14_600;

/** Initial ssthresh: "arbitrarily high" (RFC 5681 3.1), as Linux's TCP_INFINITE_SSTHRESH. */
export const ssthreshInfiniteBytes = 0x7fff_ffff;

/** Which initial window rule to use, or a size in bytes. */
export type InitialWindowRule = "rfc6928" | "rfc5681" | number;

/** The initial window in bytes for sender MSS `mss` under `rule` (RFC 6928 (2) or RFC 5681 (3.1)). */
export function initialWindowBytes(mss: number, rule: InitialWindowRule = "rfc6928"): number {
  if (typeof rule === "number") return rule;
  if (rule === "rfc6928") {
    const cap = 2 * mss > initialWindowRfc6928CapBytes ? 2 * mss : initialWindowRfc6928CapBytes;
    const iw = initialWindowRfc6928Segments * mss;
    return iw < cap ? iw : cap;
  }
  // RFC 5681 (3.1), equation (1).
  if (mss > 2190) return 2 * mss;
  if (mss > 1095) return 3 * mss;
  return 4 * mss;
}
