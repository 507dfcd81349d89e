/**
 * DCTCP, RFC 8257: congestion control for data centres, where switches mark
 * CE (RFC 3168) as soon as a queue passes a small threshold K. The sender
 * estimates the fraction of its bytes that were marked, `alpha`, a moving
 * average updated once per window of data with gain g = 1/16 (3.3 steps
 * 1-8), and on an ECN echo reduces the window by `cwnd * alpha / 2` instead
 * of halving it, once per window (3.3 steps 9-10): a little marking costs a
 * little rate, and queues stay short. Loss is answered as conventional TCP
 * answers it (3.5): NewReno's halving, recovery and timeouts.
 *
 * The receiver's side, which echoes CE exactly (3.2), is the connection's:
 * ecn.ts, when its controller is DCTCP.
 *
 * Window growth is NewReno's (RFC 5681, with HyStart++ when configured).
 *
 * @example
 * ```ts
 * import { Dctcp } from "./dctcp.ts";
 * const cc = new Dctcp(1000, { sack: true });
 * cc.alpha; // 1 before any window was seen (3.3: the conservative start)
 * ```
 *
 * @module
 */
import type { CongestionName, CongestionOptions } from "./congestion.ts";
import { NewReno } from "./newreno.ts";

/** Gain of the alpha estimate (RFC 8257 3.3 and 4.2: g = 1/16). */
export const dctcpG = 1 / 16;

/** alpha before the first window was measured (RFC 8257 3.3: 1, the cautious value, as Linux). */
export const dctcpAlphaInitial = 1;

/** RFC 8257 DCTCP; see the module documentation. */
export class Dctcp extends NewReno {
  private _alpha = dctcpAlphaInitial;
  private _bytesAcked = 0;
  private _bytesMarked = 0;
  private _windowEnd = 0;
  private _windowStarted = false;
  private _windows = 0;

  /** A DCTCP controller in slow start with the initial window. */
  constructor(mss: number, options: CongestionOptions = {}) {
    super(mss, options);
  }

  /** "dctcp". */
  override get name(): CongestionName {
    return "dctcp";
  }

  /** DCTCP.Alpha: the estimated fraction of bytes marked CE, 0..1 (RFC 8257 3.3). */
  get alpha(): number {
    return this._alpha;
  }

  /** Observation windows that updated alpha. */
  get windows(): number {
    return this._windows;
  }

  /** RFC 8257 3.3 steps 3-8: count marked bytes; at each window's end update alpha. */
  protected override onEcnAck(
    ack: number,
    bytesAcked: number,
    ece: boolean,
    sndNxt: number,
    _now: number,
  ): void {
    if (!this._windowStarted) {
      this._windowStarted = true;
      this._windowEnd = sndNxt >>> 0;
    }
    this._bytesAcked += bytesAcked;
    if (ece) this._bytesMarked += bytesAcked;
    if (((ack - this._windowEnd) | 0) <= 0) return; // step 5: SEG.ACK > WindowEnd ends the window
    if (this._bytesAcked > 0) {
      const m = this._bytesMarked / this._bytesAcked;
      this._alpha = this._alpha * (1 - dctcpG) + dctcpG * m; // step 6
      this._windows++;
    }
    this._windowEnd = sndNxt >>> 0; // step 7
    this._bytesAcked = 0; // step 8
    this._bytesMarked = 0;
  }

  /** RFC 8257 3.3 step 9: cwnd * (1 - alpha / 2), not below 2 segments. */
  protected override ecnSsthresh(_flightSize: number): number {
    const s = Math.floor(this.cwndBytes * (1 - this._alpha / 2));
    return s > 2 * this.mss ? s : 2 * this.mss;
  }
}
