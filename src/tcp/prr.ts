/**
 * Proportional rate reduction, RFC 6937 (section 3), with the slow start
 * reduction bound (PRR-SSRB): during SACK-based loss recovery the sender
 * sends in proportion to what the ACKs report delivered, so that the flight
 * falls smoothly from RecoverFS to ssthresh (the controller's: NewReno's
 * half, CUBIC's 0.7) instead of all at once, and grows back toward ssthresh
 * by at most one segment more than delivered when losses took it below.
 *
 * Bytes throughout. The first segment of a recovery always goes (the fast
 * retransmit); after that, a segment goes while the quota {@link Prr.sndcnt}
 * is above zero, so a fraction of a segment carries over to the next ACK and
 * the pattern in segments is the RFC's.
 *
 * @example
 * ```ts
 * import { Prr } from "./prr.ts";
 * const p = new Prr();
 * p.start(20 * 1000, 10 * 1000); // RecoverFS 20 segments, ssthresh 10
 * p.onAck(1000, 18 * 1000, 1000); // sndcnt 500 > 0: one segment may go
 * p.sent(1000);
 * p.onAck(1000, 18 * 1000, 1000); // sndcnt 0: nothing
 * ```
 *
 * @module
 */

/** PRR's state for one recovery (RFC 6937 3); see the module documentation. */
export class Prr {
  /** prr_delivered: bytes delivered to the receiver since recovery began. */
  delivered = 0;
  /** prr_out: bytes sent since recovery began. */
  out = 0;
  /** RecoverFS: the flight when recovery began. */
  recoverFs = 0;
  /** ssthresh of this recovery. */
  ssthresh = 0;
  /** sndcnt: bytes that may still be sent on the current ACK. */
  sndcnt = 0;

  /** Recovery begins (RFC 6937 3, "on entering recovery"). */
  start(recoverFs: number, ssthresh: number): void {
    this.delivered = 0;
    this.out = 0;
    this.recoverFs = recoverFs > 0 ? recoverFs : 1;
    this.ssthresh = ssthresh;
    this.sndcnt = 0;
  }

  /**
   * An ACK in recovery delivered `deliveredData` bytes (cumulatively and by
   * SACK) and left `pipe` bytes in flight: sets {@link sndcnt} (RFC 6937 3,
   * "on every ACK during recovery", with PRR-SSRB).
   */
  onAck(deliveredData: number, pipe: number, mss: number): void {
    this.delivered += deliveredData;
    let sndcnt: number;
    if (pipe > this.ssthresh) {
      // Proportional rate reduction.
      sndcnt = Math.ceil((this.delivered * this.ssthresh) / this.recoverFs) - this.out;
    } else {
      // PRR-SSRB: back toward ssthresh, at most one segment more than delivered.
      const d = this.delivered - this.out;
      const limit = (d > deliveredData ? d : deliveredData) + mss;
      const room = this.ssthresh - pipe;
      sndcnt = room < limit ? room : limit;
    }
    // The fast retransmit goes whatever the quota (as Linux's tcp_cwnd_reduction).
    if (this.out === 0 && sndcnt < mss) sndcnt = mss;
    this.sndcnt = sndcnt > 0 ? sndcnt : 0;
  }

  /** `bytes` were sent in recovery. */
  sent(bytes: number): void {
    this.out += bytes;
    this.sndcnt -= bytes;
  }
}
