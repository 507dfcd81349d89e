/**
 * NewReno congestion control: RFC 5681 (3.1 slow start and congestion
 * avoidance, 3.2 fast retransmit and fast recovery, 4.1 restart after idle),
 * with appropriate byte counting (RFC 3465; in slow start every byte acknowledged, as Linux), the initial window
 * of RFC 6928 (10 segments up to 14600 bytes; RFC 5681's is an option),
 * limited transmit (RFC 3042), NewReno's partial-ACK handling and `recover`
 * (RFC 6582 3.2), and the window rules of SACK-based recovery (RFC 6675 5).
 *
 * This class is also the base of {@link Cubic}, which replaces the growth in
 * congestion avoidance and the reduction on loss (the protected hooks).
 *
 * With the `hystart` option the first slow start is HyStart++'s (RFC 9406,
 * hystart.ts). An ECN echo (RFC 3168 6.1.2) reduces the window as a loss
 * would, once per window of data, without a retransmission
 * ({@link NewReno.onEcnEcho}); a timeout found spurious (F-RTO, RFC 5682,
 * frto.ts) is undone ({@link NewReno.undoTimeout}).
 *
 * Not implemented: the ACK and timestamp heuristics of RFC 6582 (4), which
 * would allow a fast retransmit right after a timeout's retransmissions.
 * PRR (RFC 6937) lives outside the controller (prr.ts).
 *
 * @example
 * ```ts
 * import { CcAction } from "./congestion.ts";
 * import { NewReno } from "./newreno.ts";
 * const cc = new NewReno(1000); // IW 10000 bytes
 * cc.onAck(2001, 1000, 9000, 0, 50); // slow start: cwnd 11000
 * cc.onDupAck(2001, 11000, 13001, 1);
 * cc.onDupAck(2001, 11000, 13001, 2);
 * const f = cc.onDupAck(2001, 11000, 13001, 3); // CcAction.retransmit | CcAction.enteredRecovery
 * // cc.ssthresh === 5500, cc.cwnd === 8500, cc.recover === 13001
 * ```
 *
 * @module
 */
import type { CongestionControl, CongestionName, CongestionOptions } from "./congestion.ts";
import {
  abcLimitAfterRtoSegments,
  CcAction,
  dupThresh,
  initialWindowBytes,
  type InitialWindowRule,
  ssthreshInfiniteBytes,
} from "./_congestion_common.ts";
import { HyStart, HyStartPhase } from "./hystart.ts";
import type { RateSampler } from "./rate_sample.ts";

/** RFC 5681 / RFC 6582 NewReno; see the module documentation. */
export class NewReno implements CongestionControl {
  /** Sender MSS (SMSS), bytes. */
  mss: number;
  /** Whether recovery follows RFC 6675 (SACK) instead of RFC 6582. */
  sack: boolean;
  /** Congestion window, bytes (the protected field subclasses write). */
  protected cwndBytes: number;
  /** Slow start threshold, bytes. */
  protected ssthreshBytes: number;
  private _iwRule: InitialWindowRule;
  private _inRecovery = false;
  private _recover = 0;
  // Whether `recover` still matters: set by a loss event, cleared once the
  // cumulative ACK passes it (so an old value never misfires after the wrap).
  private _recoverArmed = false;
  private _dupAcks = 0;
  private _partialAckSeen = false;
  // RFC 3465 (2.1) byte counting in congestion avoidance.
  private _bytesAckedCa = 0;
  // Slow start after an RTO uses L = 1*SMSS (RFC 3465 2.3).
  private _afterRto = false;
  // Retransmission timeouts in a row (RFC 5681 3.1: ssthresh holds after the first).
  private _rtoStreak = 0;
  // HyStart++ (RFC 9406) of the first slow start, when on.
  private _hystart: HyStart | undefined;
  // cwnd and ssthresh before the first timeout of a streak, for undoTimeout().
  private _priorCwnd = 0;
  private _priorSsthresh = 0;
  // RFC 3168 6.1.2: one reduction per window: ECN echoes for data sent before
  // this sequence number belong to the reduction made already.
  private _ecnHigh = 0;
  private _ecnHighArmed = false;

  /** A controller in slow start with the initial window. */
  constructor(mss: number, options: CongestionOptions = {}) {
    if (!(mss > 0)) throw new RangeError(`mss must be > 0, got ${mss}`);
    this.mss = mss;
    this.sack = options.sack ?? false;
    this._iwRule = options.initialWindow ?? "rfc6928";
    this.cwndBytes = initialWindowBytes(mss, this._iwRule);
    this.ssthreshBytes = options.initialSsthresh ?? ssthreshInfiniteBytes;
    if (options.hystart === true) this._hystart = new HyStart();
  }

  /**
   * As `new NewReno(mss, options)` makes it, its HyStart kept and restarted:
   * a controller of a connection that is gone serves the next one
   * (connections.ts).
   */
  reset(mss: number, options: CongestionOptions = {}): void {
    if (!(mss > 0)) throw new RangeError(`mss must be > 0, got ${mss}`);
    this.mss = mss;
    this.sack = options.sack ?? false;
    this._iwRule = options.initialWindow ?? "rfc6928";
    this.cwndBytes = initialWindowBytes(mss, this._iwRule);
    this.ssthreshBytes = options.initialSsthresh ?? ssthreshInfiniteBytes;
    this._inRecovery = false;
    this._recover = 0;
    this._recoverArmed = false;
    this._dupAcks = 0;
    this._partialAckSeen = false;
    this._bytesAckedCa = 0;
    this._afterRto = false;
    this._rtoStreak = 0;
    if (options.hystart !== true) this._hystart = undefined;
    else if (this._hystart === undefined) this._hystart = new HyStart();
    else this._hystart.reset();
    this._priorCwnd = 0;
    this._priorSsthresh = 0;
    this._ecnHigh = 0;
    this._ecnHighArmed = false;
  }

  /** "newreno". */
  get name(): CongestionName {
    return "newreno";
  }

  /** Congestion window, bytes. */
  get cwnd(): number {
    return this.cwndBytes;
  }

  /** Slow start threshold, bytes. */
  get ssthresh(): number {
    return this.ssthreshBytes;
  }

  /** Whether loss recovery is under way. */
  get inRecovery(): boolean {
    return this._inRecovery;
  }

  /** RFC 6582 `recover`, as SND.NXT at the last loss event. */
  get recover(): number {
    return this._recover;
  }

  /** Duplicate ACKs since the last ACK of new data. */
  get dupAcks(): number {
    return this._dupAcks;
  }

  /** The initial window under this controller's rule, bytes. */
  get initialWindow(): number {
    return initialWindowBytes(this.mss, this._iwRule);
  }

  /** HyStart++'s exits from slow start to CSS (RFC 9406); 0 without it. */
  get hystartExits(): number {
    return this._hystart === undefined ? 0 : this._hystart.exits;
  }

  /** HyStart++'s returns from CSS to slow start (spurious exits); 0 without it. */
  get hystartSpuriousExits(): number {
    return this._hystart === undefined ? 0 : this._hystart.spuriousExits;
  }

  /** Whether HyStart++ holds the window in Conservative Slow Start now. */
  get inCss(): boolean {
    return this._hystart !== undefined && this._hystart.phase === HyStartPhase.css && !this._hystart.finished;
  }

  /** No pacing: segments leave as the window opens. */
  get pacingRate(): number {
    return 0;
  }

  /** PRR (RFC 6937) sets what is sent during recovery. */
  get usesPrr(): boolean {
    return true;
  }

  /** Delivery-rate samples are not used here (BBR's model takes them). */
  onRateSample(_rs: RateSampler, _inFlight: number, _now: number): void {}

  /** No delivery-rate samples are read (BBR's model reads them). */
  get usesRateSamples(): boolean {
    return false;
  }

  /** An RTT measurement, ms (HyStart++ watches them). */
  onRttSample(rttMs: number): void {
    this._hystart?.onRtt(rttMs);
  }

  /** Changes the sender MSS. */
  setMss(mss: number): void {
    if (mss > 0) this.mss = mss;
  }

  /** New data acknowledged; see {@link CongestionControl.onAck}. */
  onAck(ack: number, bytesAcked: number, flightSize: number, now: number, rttMs: number): number {
    this._dupAcks = 0;
    this._rtoStreak = 0;
    if (this._inRecovery) {
      if (((ack - this._recover) | 0) >= 0) {
        // RFC 6582 (3.2 step 3): a full ACK.
        this.exitRecovery(now, flightSize);
        return CcAction.exitedRecovery;
      }
      // A partial ACK.
      if (this.sack) return CcAction.none; // RFC 6675 5: NextSeg() finds the holes; cwnd unchanged
      // RFC 6582 (3.2 step 5): retransmit the first unacknowledged segment,
      // deflate by the data acknowledged, add back one SMSS if it was at least one.
      let w = this.cwndBytes - bytesAcked;
      if (bytesAcked >= this.mss) w += this.mss;
      this.cwndBytes = w > this.mss ? w : this.mss;
      let flags: number = CcAction.retransmit;
      if (!this._partialAckSeen) {
        this._partialAckSeen = true;
        flags |= CcAction.restartTimer;
      }
      return flags;
    }
    if (this._recoverArmed && ((ack - this._recover) | 0) > 0) this._recoverArmed = false;
    // Grow only when the window was in use: with less than half of it in
    // flight before this ACK the sender is application-limited (RFC 7661's
    // concern; Linux's tcp_is_cwnd_limited test for slow start).
    if (2 * (flightSize + bytesAcked) < this.cwndBytes) return CcAction.none;
    if (this.cwndBytes < this.ssthreshBytes) {
      // Slow start counts every byte the ACK covers, up to ssthresh: cwnd += min(N, ssthresh - cwnd),
      // as Linux does (tcp_slow_start). This departs on purpose from RFC 5681 (3.1) (at most
      // SMSS per ACK) and RFC 3465 (2.3) (min(N, L) with L = 2*SMSS): a receiver that coalesces
      // (LRO, GRO: Linux's and ours) sends one ACK per coalesced segment, 20 or more segments at
      // 1500 bytes, and with L = 2*SMSS cwnd would grow by a tenth per round trip instead of
      // doubling. After a timeout L stays 1*SMSS (RFC 3465 (2.3)): what a cumulative ACK covers
      // then may be retransmissions acknowledged together, not the path's capacity.
      const limit = this._afterRto ? abcLimitAfterRtoSegments * this.mss : bytesAcked;
      let inc = bytesAcked < limit ? bytesAcked : limit;
      if (inc > this.ssthreshBytes - this.cwndBytes) inc = this.ssthreshBytes - this.cwndBytes;
      const hs = this._hystart;
      if (hs !== undefined && !hs.finished) {
        // RFC 9406 4.2: HyStart++ may slow the growth (CSS) or end slow start.
        inc = Math.floor(hs.onAck(ack, (ack + flightSize) >>> 0, inc));
        if (hs.phase === HyStartPhase.done) {
          this.ssthreshBytes = this.cwndBytes;
          return CcAction.none;
        }
      }
      this.cwndBytes += inc;
      this._bytesAckedCa = 0;
      if (this.cwndBytes >= this.ssthreshBytes) this._afterRto = false;
    } else {
      this._afterRto = false;
      this.congestionAvoidance(bytesAcked, now, rttMs);
    }
    return CcAction.none;
  }

  /** A duplicate ACK; see {@link CongestionControl.onDupAck}. */
  onDupAck(ack: number, flightSize: number, sndNxt: number, now: number): number {
    if (this._inRecovery) {
      // RFC 5681 (3.2 step 4): each further duplicate ACK inflates cwnd by
      // one segment; RFC 6675 counts the pipe instead.
      if (!this.sack) this.cwndBytes += this.mss;
      return CcAction.none;
    }
    this._dupAcks++;
    if (this._dupAcks !== dupThresh) return CcAction.none;
    // RFC 6582 (3.2 step 2): only if the ACK covers more than recover.
    if (this._recoverArmed && ((ack - this._recover) | 0) <= 0) return CcAction.none;
    this.enterRecovery(now, flightSize, sndNxt);
    return CcAction.retransmit | CcAction.enteredRecovery;
  }

  /** Starts loss recovery; see {@link CongestionControl.enterRecovery}. */
  enterRecovery(now: number, flightSize: number, sndNxt: number, lossFlight: number = flightSize): void {
    if (this._inRecovery) return;
    this._hystart?.finish();
    const f = lossFlight > flightSize ? lossFlight : flightSize;
    this.onCongestionEvent(now, f, false);
    this.ssthreshBytes = this.lossSsthresh(f);
    // RFC 5681 (3.2 step 3): cwnd = ssthresh + 3*SMSS, for the three segments
    // that left the network; RFC 6675 (5 step 4.2): cwnd = ssthresh.
    this.cwndBytes = this.sack ? this.ssthreshBytes : this.ssthreshBytes + dupThresh * this.mss;
    this._recover = sndNxt >>> 0;
    this._recoverArmed = true;
    this._inRecovery = true;
    this._partialAckSeen = false;
    this._bytesAckedCa = 0;
  }

  /** Ends loss recovery; see {@link CongestionControl.exitRecovery}. */
  exitRecovery(now: number, flightSize: number): void {
    if (!this._inRecovery) return;
    this._inRecovery = false;
    this._dupAcks = 0;
    if (!this.sack) {
      // RFC 6582 (3.2 step 3), option (1): cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
      const f = (flightSize > this.mss ? flightSize : this.mss) + this.mss;
      this.cwndBytes = f < this.ssthreshBytes ? f : this.ssthreshBytes;
    }
    this.onRecoveryExit(now);
  }

  /** The retransmission timer expired; see {@link CongestionControl.onRetransmitTimeout}. */
  onRetransmitTimeout(now: number, flightSize: number, sndNxt: number): void {
    // RFC 5681 (3.1): ssthresh per equation 4, unless the segment was already
    // retransmitted by the timer, in which case ssthresh holds.
    this._hystart?.finish();
    if (this._rtoStreak === 0) {
      this._priorCwnd = this.cwndBytes;
      this._priorSsthresh = this.ssthreshBytes;
      this.onCongestionEvent(now, flightSize, true);
      this.ssthreshBytes = this.lossSsthresh(flightSize);
    }
    this._rtoStreak++;
    this.cwndBytes = this.mss; // the loss window, LW = 1 segment
    // RFC 6582 (3.2 step 4): record recover; leave fast recovery.
    this._recover = sndNxt >>> 0;
    this._recoverArmed = true;
    this._inRecovery = false;
    this._dupAcks = 0;
    this._bytesAckedCa = 0;
    this._afterRto = true;
    this.onTimeoutReset(now);
  }

  /**
   * The timeout just taken was spurious (F-RTO, RFC 5682): cwnd and ssthresh
   * go back to what they were before it (RFC 4015 3.2's response, as Linux
   * undoes a spurious timeout), and the slow start after it ends.
   */
  undoTimeout(now: number): void {
    if (this._priorCwnd === 0) return;
    this.cwndBytes = this._priorCwnd > this.cwndBytes ? this._priorCwnd : this.cwndBytes;
    this.ssthreshBytes = this._priorSsthresh;
    this._priorCwnd = 0;
    this._rtoStreak = 0;
    this._afterRto = false;
    this._recoverArmed = false;
    this._bytesAckedCa = 0;
    this.onTimeoutUndone(now);
  }

  /**
   * An ACK while ECN is in use (RFC 3168 6.1.2): `ece` says whether it echoed
   * congestion, `bytesAcked` what it delivered (cumulatively or by SACK).
   * With ECE, and unless a reduction for this window (data sent before the
   * last one) or loss recovery is under way, the window is reduced as for a
   * loss, without a retransmission. Returns whether it was (the sender then
   * sets CWR on its next new segment).
   */
  onEcnEcho(
    ack: number,
    bytesAcked: number,
    ece: boolean,
    flightSize: number,
    sndNxt: number,
    now: number,
  ): boolean {
    this.onEcnAck(ack, bytesAcked, ece, sndNxt, now);
    if (!ece) return false;
    if (this._ecnHighArmed && ((ack - this._ecnHigh) | 0) < 0) return false;
    if (this._inRecovery) return false; // the loss's reduction covers this window
    this._hystart?.finish();
    this._ecnHigh = sndNxt >>> 0;
    this._ecnHighArmed = true;
    this.onCongestionEvent(now, flightSize, false);
    const s = this.ecnSsthresh(flightSize);
    this.ssthreshBytes = s;
    if (this.cwndBytes > s) this.cwndBytes = s;
    this._bytesAckedCa = 0;
    this.onRecoveryExit(now);
    return true;
  }

  /** Restart after idle; see {@link CongestionControl.onIdleRestart}. */
  onIdleRestart(now: number): void {
    // RFC 5681 (4.1): cwnd = RW = min(IW, cwnd).
    const iw = this.initialWindow;
    if (this.cwndBytes > iw) this.cwndBytes = iw;
    this.onIdle(now);
  }

  /** The handshake needed a retransmission; see {@link CongestionControl.onSynRetransmitted}. */
  onSynRetransmitted(): void {
    if (this.cwndBytes > this.mss) this.cwndBytes = this.mss;
  }

  /** Whether `bytes` more fit the window; see {@link CongestionControl.canSend}. */
  canSend(flight: number, bytes: number): boolean {
    return flight + bytes <= this.cwndBytes + this._limitedTransmit();
  }

  /** Bytes the window allows beyond `flight`. */
  sendAllowance(flight: number): number {
    const a = this.cwndBytes + this._limitedTransmit() - flight;
    return a > 0 ? a : 0;
  }

  // RFC 3042 (2): on the first two duplicate ACKs, up to cwnd + 2*SMSS may be outstanding.
  private _limitedTransmit(): number {
    return !this._inRecovery && this._dupAcks > 0 && this._dupAcks < dupThresh ? this._dupAcks * this.mss : 0;
  }

  /**
   * Congestion avoidance for one ACK of `bytesAcked` new bytes: RFC 5681
   * (3.1) with byte counting (RFC 3465 2.1) — one SMSS per cwnd acknowledged.
   */
  protected congestionAvoidance(bytesAcked: number, _now: number, _rttMs: number): void {
    this._bytesAckedCa += bytesAcked;
    if (this._bytesAckedCa >= this.cwndBytes) {
      this._bytesAckedCa -= this.cwndBytes;
      this.cwndBytes += this.mss;
    }
  }

  /** ssthresh after a loss: RFC 5681 (3.1) equation 4, max(FlightSize / 2, 2*SMSS). */
  protected lossSsthresh(flightSize: number): number {
    const half = Math.floor(flightSize / 2);
    return half > 2 * this.mss ? half : 2 * this.mss;
  }

  /** ssthresh after an ECN echo: as after a loss (RFC 3168 6.1.2). */
  protected ecnSsthresh(flightSize: number): number {
    return this.lossSsthresh(flightSize);
  }

  /** Every ACK on an ECN connection, before the reduction is decided (DCTCP counts marked bytes here). */
  protected onEcnAck(_ack: number, _bytesAcked: number, _ece: boolean, _sndNxt: number, _now: number): void {}

  /** Called when a spurious timeout is undone, once cwnd and ssthresh are restored. */
  protected onTimeoutUndone(_now: number): void {}

  /** Called at a loss event (fast retransmit or first timeout), before ssthresh and cwnd change. */
  protected onCongestionEvent(_now: number, _flightSize: number, _timeout: boolean): void {}

  /** Called when loss recovery ends. */
  protected onRecoveryExit(_now: number): void {}

  /** Called after every retransmission timeout, once cwnd is one segment. */
  protected onTimeoutReset(_now: number): void {}

  /** Called when sending restarts after idle. */
  protected onIdle(_now: number): void {}
}
