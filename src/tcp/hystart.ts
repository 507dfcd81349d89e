/**
 * HyStart++ (RFC 9406): slow start that watches the round trip time and,
 * when a round's minimum RTT rises by more than a threshold over the
 * previous round's, leaves standard slow start for Conservative Slow Start
 * (CSS: the window grows at a quarter of the rate) for a few rounds before
 * congestion avoidance. A round whose minimum RTT falls back below the
 * baseline that ended slow start shows the exit was spurious: slow start
 * resumes. Used in the first slow start of a connection only (RFC 9406 4.3:
 * after a loss or an ECN echo, or after a timeout, standard slow start).
 *
 * The controller ({@link NewReno}, hence CUBIC and DCTCP too, as RFC 9406 4.1
 * allows for any slow start) feeds it RTT samples and, per ACK in slow start,
 * asks how much the window grows.
 *
 * @example
 * ```ts
 * import { HyStart } from "./hystart.ts";
 * const hs = new HyStart();
 * hs.onAck(1000, 11000, 1460); // the first round starts: standard growth, 1460
 * ```
 *
 * @module
 */

/** Lower bound of the RTT threshold, ms (RFC 9406 4.2 MIN_RTT_THRESH). */
export const hystartMinRttThreshMs = 4;
/** Upper bound of the RTT threshold, ms (RFC 9406 4.2 MAX_RTT_THRESH). */
export const hystartMaxRttThreshMs = 16;
/** The threshold as a fraction of the last round's minimum RTT (RFC 9406 4.2 MIN_RTT_DIVISOR). */
export const hystartMinRttDivisor = 8;
/** RTT samples a round needs before it is judged (RFC 9406 4.2 N_RTT_SAMPLE). */
export const hystartRttSamples = 8;
/** CSS grows the window this many times slower than slow start (RFC 9406 4.2 CSS_GROWTH_DIVISOR). */
export const hystartCssGrowthDivisor = 4;
/** Rounds spent in CSS before congestion avoidance (RFC 9406 4.2 CSS_ROUNDS). */
export const hystartCssRounds = 5;

/** What {@link HyStart.onAck} tells the controller beyond the growth. */
export const HyStartPhase = {
  /** Standard slow start. */
  slowStart: 0,
  /** Conservative Slow Start. */
  css: 1,
  /** CSS is over: set ssthresh to cwnd, congestion avoidance follows. */
  done: 2,
} as const;

/** One connection's HyStart++ state; see the module documentation. */
export class HyStart {
  /** Exits from slow start to CSS (RFC 9406 4.2: the RTT rose). */
  exits = 0;
  /** Returns from CSS to slow start (the exit was spurious: the RTT fell back). */
  spuriousExits = 0;
  /** Which phase the last ACK left it in ({@link HyStartPhase}). */
  phase: number = HyStartPhase.slowStart;
  /** Off for good: CSS ended, or a loss, an ECN echo or a timeout came (RFC 9406 4.3). */
  finished = false;
  private _windowEnd = 0;
  private _started = false;
  private _lastRoundMinRtt = Infinity;
  private _currentRoundMinRtt = Infinity;
  private _samples = 0;
  private _cssBaselineMinRtt = Infinity;
  private _cssRounds = 0;
  private _pendingRtt = -1;

  /** As made: a new slow start (a recycled controller's). */
  reset(): void {
    this.exits = 0;
    this.spuriousExits = 0;
    this.phase = HyStartPhase.slowStart;
    this.finished = false;
    this._windowEnd = 0;
    this._started = false;
    this._lastRoundMinRtt = Infinity;
    this._currentRoundMinRtt = Infinity;
    this._samples = 0;
    this._cssBaselineMinRtt = Infinity;
    this._cssRounds = 0;
    this._pendingRtt = -1;
  }

  /** An RTT sample, ms; it counts toward the round of the next ACK. */
  onRtt(rttMs: number): void {
    if (rttMs >= 0) this._pendingRtt = rttMs;
  }

  /** A loss, an ECN echo or a timeout: slow start is standard from now on. */
  finish(): void {
    this.finished = true;
    this.phase = HyStartPhase.slowStart;
  }

  /**
   * An ACK in slow start acknowledged `ack`; `sndNxt` is the next sequence
   * number to send and `inc` what standard slow start would grow the window
   * by (RFC 3465's min(N, L*SMSS)). Returns the growth; after it {@link phase}
   * says whether CSS ended (then the caller enters congestion avoidance).
   */
  onAck(ack: number, sndNxt: number, inc: number): number {
    if (this.finished) return inc;
    // RFC 9406 4.2: a round ends when the ACK passes windowEnd.
    if (!this._started || ((ack - this._windowEnd) | 0) >= 0) {
      if (this._started && this.phase === HyStartPhase.css && ++this._cssRounds >= hystartCssRounds) {
        this.finished = true;
        this.phase = HyStartPhase.done;
        return 0;
      }
      this._started = true;
      this._lastRoundMinRtt = this._currentRoundMinRtt;
      this._currentRoundMinRtt = Infinity;
      this._samples = 0;
      this._windowEnd = sndNxt >>> 0;
    }
    const rtt = this._pendingRtt;
    if (rtt >= 0) {
      this._pendingRtt = -1;
      if (rtt < this._currentRoundMinRtt) this._currentRoundMinRtt = rtt;
      this._samples++;
    }
    if (this.phase === HyStartPhase.slowStart) {
      if (
        this._samples >= hystartRttSamples && this._currentRoundMinRtt !== Infinity &&
        this._lastRoundMinRtt !== Infinity
      ) {
        let thresh = this._lastRoundMinRtt / hystartMinRttDivisor;
        if (thresh < hystartMinRttThreshMs) thresh = hystartMinRttThreshMs;
        else if (thresh > hystartMaxRttThreshMs) thresh = hystartMaxRttThreshMs;
        if (this._currentRoundMinRtt >= this._lastRoundMinRtt + thresh) {
          this._cssBaselineMinRtt = this._currentRoundMinRtt;
          this._cssRounds = 0;
          this.phase = HyStartPhase.css;
          this.exits++;
          return inc / hystartCssGrowthDivisor;
        }
      }
      return inc;
    }
    // CSS: a round whose minimum RTT is back below the baseline shows the exit was spurious.
    if (this._samples >= hystartRttSamples && this._currentRoundMinRtt < this._cssBaselineMinRtt) {
      this._cssBaselineMinRtt = Infinity;
      this.phase = HyStartPhase.slowStart;
      this.spuriousExits++;
      return inc;
    }
    return inc / hystartCssGrowthDivisor;
  }
}
