/**
 * BBR congestion control, version 1 (draft-cardwell-iccrg-bbr-congestion-control-00):
 * a model of the path — the bottleneck bandwidth (BtlBw, a windowed maximum
 * of delivery-rate samples over 10 round trips) and the round-trip
 * propagation time (RTprop, a windowed minimum of RTT samples over 10 s) —
 * and a sending rate and window set from it: pacing at `pacing_gain ×
 * BtlBw`, cwnd = `cwnd_gain × BDP` (plus room for three send quanta, and
 * once Startup is over for the ACK aggregation the path shows: the bytes
 * ACKs deliver in bursts beyond what the bandwidth explains, as Linux's v1
 * adds them). Loss
 * is not a signal of congestion here: random loss of a few percent leaves
 * the model, and so the rate, where it was, where CUBIC and NewReno halve.
 *
 * States (draft 4.3): Startup (gains 2/ln 2, until the bandwidth grew less
 * than 25% in three round trips), Drain (pacing gain ln 2 / 2, until the
 * data in flight fits one BDP), ProbeBW (the pacing gain cycles 5/4, 3/4,
 * then six round trips of 1; cwnd gain 2) and ProbeRTT (cwnd of four
 * segments for 200 ms and a round trip, when RTprop was not refreshed for
 * 10 s).
 *
 * Loss: the segments go again through RACK/SACK recovery (recovery.ts); the
 * window follows v1 (draft 4.2.3.5): on entering recovery cwnd = what is in
 * flight plus what the ACK delivered, packet conservation for the first
 * round trip, cwnd reduced by what is marked lost, and restored to its
 * value before recovery when recovery ends. PRR has no part ({@link Bbr.usesPrr}).
 * v2's loss- and ECN-aware bounds (inflight_hi / inflight_lo) are not built;
 * ECN echoes are ignored, as v1 does.
 *
 * Delivery-rate samples come from RACK's log (rate_sample.ts): a connection
 * without it (SACK not agreed, or RFC 6675 loss detection) has no model, and
 * this controller then behaves as NewReno without pacing (the
 * `rateSamples` option says which). The initial window leaves unpaced;
 * from the first ACK on, {@link Bbr.pacingRate} paces (pacer.ts).
 *
 * @example
 * ```ts
 * import { Bbr } from "./bbr.ts";
 * const cc = new Bbr(1000, { sack: true, rateSamples: true });
 * cc.stateName; // "Startup"
 * cc.cwnd; // 10000: the initial window until the first rate sample
 * ```
 *
 * @module
 */
import type { CongestionName, CongestionOptions } from "./congestion.ts";
import { NewReno } from "./newreno.ts";
import { sendQuantum } from "./pacer.ts";
import type { RateSampler } from "./rate_sample.ts";

/** BBRHighGain (draft 4.3.2.1): 2/ln(2), the smallest gain that doubles the sending rate each round trip. */
export const bbrHighGain = 2 / Math.LN2;
/** BtlBwFilterLen (draft 4.1.1.4): round trips of the bandwidth filter's window. */
export const bbrBtlBwFilterRounds = 10;
/** RTpropFilterLen (draft 4.1.2.3): ms of the min-RTT filter's window. */
export const bbrRtpropFilterMs = 10_000;
/** ProbeRTTDuration (draft 4.3.5): ms at the low window. */
export const bbrProbeRttMs = 200;
/** BBRMinPipeCwnd (draft 4.3.5): segments. */
export const bbrMinPipeCwndSegments = 4;
/** The pacing gains of ProbeBW's cycle (draft 4.3.4.3), one phase per RTprop. */
export const bbrPacingGainCycle: readonly number[] = [5 / 4, 3 / 4, 1, 1, 1, 1, 1, 1];
/** ProbeBW's cwnd gain (draft 4.3.4.3). */
export const bbrProbeBwCwndGain = 2;
/** Startup ends when the bandwidth grew by less than this factor ... (draft 4.3.2.2) */
export const bbrFullBwThresh = 1.25;
/** ... in this many round trips in a row. */
export const bbrFullBwRounds = 3;

/** Round trips of the ACK aggregation filter's window (Linux's bbr_extra_acked_win_rtts: 5; the v2 draft: 10). */
export const bbrExtraAckedFilterRounds = 10;
/** The most the ACK aggregation allowance may add to cwnd, in ms at the bandwidth estimate (Linux: 100 ms). */
export const bbrExtraAckedMaxMs = 100;

/**
 * A windowed maximum over "time" (round trips here): the best, second and
 * third best of their sub-windows (Kathleen Nichols' algorithm, as Linux's
 * lib/win_minmax). A sample at least the best restarts the window; others
 * replace the second or third best, and the best ages out one sub-window (a
 * quarter, then half) at a time.
 */
class WindowedMax {
  private readonly _v = new Float64Array(3);
  private readonly _t = new Float64Array(3);
  private readonly _win: number;
  constructor(win: number) {
    this._win = win;
  }
  /** The maximum over the window. */
  get value(): number {
    return this._v[0];
  }
  /** Takes sample `v` at time `t`. */
  update(v: number, t: number): void {
    const V = this._v, T = this._t, win = this._win;
    if (v >= V[0] || t - T[2] > win) {
      V[0] = V[1] = V[2] = v;
      T[0] = T[1] = T[2] = t;
      return;
    }
    if (v >= V[1]) {
      V[1] = V[2] = v;
      T[1] = T[2] = t;
    } else if (v >= V[2]) {
      V[2] = v;
      T[2] = t;
    }
    const dt = t - T[0];
    if (dt > win) {
      V[0] = V[1], T[0] = T[1];
      V[1] = V[2], T[1] = T[2];
      V[2] = v, T[2] = t;
      if (t - T[0] > win) {
        V[0] = V[1], T[0] = T[1];
        V[1] = V[2], T[1] = T[2];
      }
    } else if (T[1] === T[0] && dt > win / 4) {
      V[1] = V[2] = v;
      T[1] = T[2] = t;
    } else if (T[2] === T[1] && dt > win / 2) {
      V[2] = v;
      T[2] = t;
    }
  }
}

/** BBR's states (draft 4.3). */
export const BbrState = { startup: 0, drain: 1, probeBw: 2, probeRtt: 3 } as const;
/** The names of {@link BbrState}'s values, as the draft writes them. */
export const bbrStateNames: readonly string[] = ["Startup", "Drain", "ProbeBW", "ProbeRTT"];

/** BBR's model as `c.stats()` and `luna conns` show it (as `ss -ti` shows Linux's `bbr:(...)`). */
export interface BbrInfo {
  /** The state's name: "Startup", "Drain", "ProbeBW" or "ProbeRTT". */
  state: string;
  /** The bottleneck bandwidth estimate, bits per second (0 before a sample). */
  bwBitsPerSecond: number;
  /** The min-RTT estimate, ms (null before a sample). */
  minRttMs: number | null;
  /** The pacing rate, bits per second (0: no pacing). */
  pacingRateBitsPerSecond: number;
  /** The current pacing gain. */
  pacingGain: number;
}

/** Options of {@link Bbr} beside {@link CongestionOptions}. */
export interface BbrOptions {
  /**
   * Whether the connection feeds delivery-rate samples (RACK's log: SACK
   * agreed and RACK loss detection); without them the controller is NewReno.
   */
  rateSamples?: boolean;
}

/** BBR v1; see the module documentation. All sizes in bytes, times in ms, rates in bytes per ms. */
export class Bbr extends NewReno {
  private readonly _model: boolean;
  private _state: number = BbrState.startup;
  private _pacingGain = bbrHighGain;
  private _cwndGain = bbrHighGain;
  private _pacingRate = 0;
  // BtlBw: the windowed maximum of the delivery rate over rounds.
  private readonly _bw = new WindowedMax(bbrBtlBwFilterRounds);
  // ACK aggregation: the windowed maximum of bytes ACKed beyond what the bandwidth explains.
  private readonly _extraAcked = new WindowedMax(bbrExtraAckedFilterRounds);
  private _extraAckedStart = 0;
  private _extraAckedDelivered = 0;
  private _minRtt = Infinity;
  private _minRttStamp = 0;
  private _rtpropExpired = false;
  private _roundCount = 0;
  private _nextRoundDelivered = 0;
  private _roundStart = false;
  private _fullBw = 0;
  private _fullBwCount = 0;
  private _filledPipe = false;
  private _cycleIndex = 0;
  private _cycleStamp = 0;
  private _probeRttDoneStamp = 0;
  private _probeRttRoundDone = false;
  private _savedCwnd = 0;
  private _idleRestart = false;
  private _packetConservation = false;
  private _recoveryStarting = false;

  /** A BBR controller in Startup with the initial window. */
  constructor(mss: number, options: CongestionOptions & BbrOptions = {}) {
    super(mss, options);
    this._model = options.rateSamples === true;
    // cwnd follows the model, never slow start or congestion avoidance: ssthresh stays 0.
    if (this._model) this.ssthreshBytes = 0;
  }

  /** "bbr". */
  override get name(): CongestionName {
    return "bbr";
  }

  /** Whether the model drives the window (rate samples come); false: NewReno. */
  get model(): boolean {
    return this._model;
  }

  /** BBR.state: one of {@link BbrState}. */
  get state(): number {
    return this._state;
  }

  /** The state's name ("Startup", "Drain", "ProbeBW", "ProbeRTT"). */
  get stateName(): string {
    return bbrStateNames[this._state];
  }

  /** BBR.BtlBw: the bottleneck bandwidth estimate, bytes per ms (0 before a sample). */
  get btlBw(): number {
    return this._bw.value;
  }

  /** BBR.RTprop: the min-RTT estimate, ms (Infinity before a sample). */
  get minRtt(): number {
    return this._minRtt;
  }

  /** Round trips counted (BBR.round_count). */
  get rounds(): number {
    return this._roundCount;
  }

  /** BBR.filled_pipe: Startup found the bandwidth. */
  get filledPipe(): boolean {
    return this._filledPipe;
  }

  /** The pacing rate, bytes per ms; 0 without a model (no pacing). */
  override get pacingRate(): number {
    return this._model ? this._pacingRate : 0;
  }

  /** With a model the window is BBR's in recovery too: PRR does not apply. */
  override get usesPrr(): boolean {
    return !this._model;
  }

  /** The model as {@link BbrInfo} (a fresh object: for stats, not the data path). */
  info(): BbrInfo {
    return {
      state: this.stateName,
      bwBitsPerSecond: Math.round(this._bw.value * 8000),
      minRttMs: this._minRtt === Infinity ? null : this._minRtt,
      pacingRateBitsPerSecond: Math.round(this.pacingRate * 8000),
      pacingGain: this._pacingGain,
    };
  }

  /** BBR.pacing_gain now. */
  get pacingGain(): number {
    return this._pacingGain;
  }

  /** The send quantum (draft 4.2.2): 1 ms at the pacing rate, at least 2 segments, at most 64 KB. */
  get sendQuantum(): number {
    return sendQuantum(this._pacingRate, this.mss);
  }

  /** BBRInflight(gain) (draft 4.2.3.2): gain × BDP, or the initial window before an RTT is known. */
  inflight(gain: number): number {
    if (this._minRtt === Infinity || this._bw.value === 0) return this.initialWindow;
    return Math.floor(gain * this._bw.value * this._minRtt);
  }

  /**
   * BBRUpdateOnACK (draft 4.2): the model and the state from the ACK's rate
   * sample, then the pacing rate and cwnd. `inFlight`: bytes in flight after
   * the ACK (the pipe).
   */
  /** The model reads the delivery-rate samples (without it, none come). */
  override get usesRateSamples(): boolean {
    return this._model;
  }

  override onRateSample(rs: RateSampler, inFlight: number, now: number): void {
    if (!this._model) return;
    const priorInFlight = inFlight + rs.newlyDelivered;
    this._updateRound(rs);
    this._updateBtlBw(rs);
    this._updateAckAggregation(rs, now);
    this._checkCyclePhase(rs, priorInFlight, now);
    this._checkFullPipe(rs);
    this._checkDrain(inFlight, now);
    this._updateRtprop(rs, now);
    this._checkProbeRtt(rs, inFlight, now);
    this._setPacingRate();
    this._setCwnd(rs, inFlight);
  }

  private _updateRound(rs: RateSampler): void {
    // draft 4.1.1.3: a round trip ends when data sent after its start is delivered.
    this._roundStart = false;
    if (this._recoveryStarting) this._nextRoundDelivered = rs.delivered;
    if (rs.priorDelivered >= 0 && rs.priorDelivered >= this._nextRoundDelivered) {
      this._nextRoundDelivered = rs.delivered;
      this._roundCount++;
      this._roundStart = true;
    }
  }

  private _updateBtlBw(rs: RateSampler): void {
    // draft 4.1.1.5: application-limited samples count only when they raise the estimate.
    if (rs.rate > 0 && (!rs.sampleAppLimited || rs.rate >= this._bw.value)) {
      this._bw.update(rs.rate, this._roundCount);
    }
  }

  /**
   * The ACK aggregation estimate (BBRUpdateACKAggregation of the BBR v2 draft, in Linux's BBR v1
   * since 2019): bytes ACKed beyond what the bandwidth estimate explains since the ACK rate last
   * fell to it. ACKs that arrive in bursts (a receiver that coalesces, a peer or a loop the
   * machine schedules late) would otherwise find cwnd full at 2 BDP and idle the sender.
   */
  private _updateAckAggregation(rs: RateSampler, now: number): void {
    if (rs.newlyDelivered <= 0) return;
    let expected = this._bw.value * (now - this._extraAckedStart);
    if (this._extraAckedDelivered <= expected) {
      this._extraAckedDelivered = 0;
      this._extraAckedStart = now;
      expected = 0;
    }
    this._extraAckedDelivered += rs.newlyDelivered;
    let extra = this._extraAckedDelivered - expected;
    if (extra > this.cwndBytes) extra = this.cwndBytes;
    this._extraAcked.update(extra, this._roundCount);
  }

  /** The ACK aggregation allowance cwnd gets once the pipe is full, bytes (at most 100 ms at the bandwidth). */
  get extraAcked(): number {
    if (!this._filledPipe) return 0;
    const cap = this._bw.value * bbrExtraAckedMaxMs;
    const e = this._extraAcked.value;
    return e < cap ? e : cap;
  }

  private _checkCyclePhase(rs: RateSampler, priorInFlight: number, now: number): void {
    if (this._state !== BbrState.probeBw) return;
    // draft 4.3.4.4 BBRIsNextCyclePhase.
    const full = now - this._cycleStamp > this._minRtt;
    let next = full;
    if (this._pacingGain > 1) {
      next = full && (rs.newlyLost > 0 || priorInFlight >= this.inflight(this._pacingGain));
    } else if (this._pacingGain < 1) next = full || priorInFlight <= this.inflight(1);
    if (next) this._advanceCycle(now);
  }

  private _advanceCycle(now: number): void {
    this._cycleStamp = now;
    this._cycleIndex = (this._cycleIndex + 1) % bbrPacingGainCycle.length;
    this._pacingGain = bbrPacingGainCycle[this._cycleIndex];
  }

  private _checkFullPipe(rs: RateSampler): void {
    // draft 4.3.2.2: three round trips without 25% growth.
    if (this._filledPipe || !this._roundStart || rs.sampleAppLimited) return;
    const bw = this._bw.value;
    if (bw >= this._fullBw * bbrFullBwThresh) {
      this._fullBw = bw;
      this._fullBwCount = 0;
      return;
    }
    if (++this._fullBwCount >= bbrFullBwRounds) this._filledPipe = true;
  }

  private _checkDrain(inFlight: number, now: number): void {
    // draft 4.3.3.
    if (this._state === BbrState.startup && this._filledPipe) {
      this._state = BbrState.drain;
      this._pacingGain = 1 / bbrHighGain;
      this._cwndGain = bbrHighGain;
    }
    if (this._state === BbrState.drain && inFlight <= this.inflight(1)) this._enterProbeBw(now);
  }

  private _enterProbeBw(now: number): void {
    this._state = BbrState.probeBw;
    this._pacingGain = 1;
    this._cwndGain = bbrProbeBwCwndGain;
    // draft 4.3.4.3: start at a random phase other than the 3/4 one. The round count stands in for
    // a random number (deterministic on the virtual clock, and different per connection enough).
    this._cycleIndex = bbrPacingGainCycle.length - 1 - (this._roundCount % (bbrPacingGainCycle.length - 1));
    this._advanceCycle(now);
  }

  private _updateRtprop(rs: RateSampler, now: number): void {
    // draft 4.1.2.3.
    this._rtpropExpired = now > this._minRttStamp + bbrRtpropFilterMs;
    if (rs.rtt >= 0 && (rs.rtt <= this._minRtt || this._rtpropExpired)) {
      this._minRtt = rs.rtt;
      this._minRttStamp = now;
    }
  }

  private _checkProbeRtt(rs: RateSampler, inFlight: number, now: number): void {
    // draft 4.3.5.
    if (this._state !== BbrState.probeRtt && this._rtpropExpired && !this._idleRestart) {
      this._state = BbrState.probeRtt;
      this._pacingGain = 1;
      this._cwndGain = 1;
      this._saveCwnd();
      this._probeRttDoneStamp = 0;
    }
    if (this._state === BbrState.probeRtt) {
      const minPipe = bbrMinPipeCwndSegments * this.mss;
      if (this._probeRttDoneStamp === 0 && inFlight <= minPipe) {
        this._probeRttDoneStamp = now + bbrProbeRttMs;
        this._probeRttRoundDone = false;
        this._nextRoundDelivered = rs.delivered;
      } else if (this._probeRttDoneStamp !== 0) {
        if (this._roundStart) this._probeRttRoundDone = true;
        if (this._probeRttRoundDone && now > this._probeRttDoneStamp) {
          this._minRttStamp = now;
          this._restoreCwnd();
          if (this._filledPipe) this._enterProbeBw(now);
          else {
            this._state = BbrState.startup;
            this._pacingGain = this._cwndGain = bbrHighGain;
          }
        }
      }
    }
    this._idleRestart = false;
  }

  private _setPacingRate(): void {
    // draft 4.2.1: never lower before the pipe is full.
    const bw = this._bw.value;
    if (bw === 0) {
      // BBRInitPacingRate: the initial window over the RTT (1 ms until one is known), at the high gain.
      const rtt = this._minRtt > 0 && this._minRtt !== Infinity ? this._minRtt : 1;
      this._pacingRate = bbrHighGain * this.cwndBytes / rtt;
      return;
    }
    const rate = this._pacingGain * bw;
    if (this._filledPipe || rate > this._pacingRate) this._pacingRate = rate;
  }

  private _setCwnd(rs: RateSampler, inFlight: number): void {
    // draft 4.2.3.4-6.
    const mss = this.mss;
    const delivered = rs.newlyDelivered;
    let cwnd = this.cwndBytes;
    if (this._recoveryStarting) {
      // Entering recovery: what is in flight plus what this ACK delivered; conservation for a round.
      this._recoveryStarting = false;
      this._packetConservation = true;
      cwnd = inFlight + (delivered > mss ? delivered : mss);
    } else if (this.inRecovery) {
      if (this._roundStart) this._packetConservation = false;
      if (rs.newlyLost > 0) cwnd = cwnd - rs.newlyLost > mss ? cwnd - rs.newlyLost : mss;
      if (this._packetConservation && cwnd < inFlight + delivered) cwnd = inFlight + delivered;
    }
    if (!this._packetConservation) {
      const target = this.inflight(this._cwndGain) + 3 * this.sendQuantum + this.extraAcked;
      if (this._filledPipe) cwnd = cwnd + delivered < target ? cwnd + delivered : target;
      else if (cwnd < target || rs.delivered < this.initialWindow) cwnd += delivered;
      const floor = bbrMinPipeCwndSegments * mss;
      if (cwnd < floor) cwnd = floor;
    }
    if (this._state === BbrState.probeRtt) {
      const minPipe = bbrMinPipeCwndSegments * mss;
      if (cwnd > minPipe) cwnd = minPipe;
    }
    this.cwndBytes = cwnd;
  }

  private _saveCwnd(): void {
    // draft 4.2.3.4 BBRSaveCwnd.
    if (!this.inRecovery && this._state !== BbrState.probeRtt) this._savedCwnd = this.cwndBytes;
    else if (this.cwndBytes > this._savedCwnd) this._savedCwnd = this.cwndBytes;
  }

  private _restoreCwnd(): void {
    if (this._savedCwnd > this.cwndBytes) this.cwndBytes = this._savedCwnd;
  }

  /** Loss recovery starts: the window is set by the next rate sample (conservation); see the module documentation. */
  override enterRecovery(now: number, flightSize: number, sndNxt: number, lossFlight?: number): void {
    if (!this._model || this.inRecovery) {
      super.enterRecovery(now, flightSize, sndNxt, lossFlight);
      return;
    }
    this._saveCwnd();
    const mss = this.mss;
    super.enterRecovery(now, flightSize, sndNxt, lossFlight); // recover and the recovery state; cwnd set below
    this.cwndBytes = flightSize + mss;
    this._recoveryStarting = true;
  }

  /** Recovery ended: cwnd back to at least what it was before (draft 4.2.3.4 BBRRestoreCwnd). */
  protected override onRecoveryExit(_now: number): void {
    if (!this._model) return;
    this._packetConservation = false;
    this._restoreCwnd();
  }

  /**
   * A timeout: the window before it is saved (BBRSaveCwnd; restored when a later recovery or
   * ProbeRTT ends); cwnd drops to one segment as NewReno's and grows back by what each ACK delivers.
   */
  protected override onCongestionEvent(_now: number, _flightSize: number, timeout: boolean): void {
    if (this._model && timeout) this._saveCwnd();
  }

  /** With a model, ssthresh stays 0: cwnd is the model's. */
  protected override lossSsthresh(flightSize: number): number {
    return this._model ? 0 : super.lossSsthresh(flightSize);
  }

  /** No window growth of congestion avoidance with a model (the rate samples set cwnd). */
  protected override congestionAvoidance(bytesAcked: number, now: number, rttMs: number): void {
    if (!this._model) super.congestionAvoidance(bytesAcked, now, rttMs);
  }

  /**
   * Restart after idle (draft 4.2.1, 4.3.5): with a model the window stays
   * (pacing spreads what follows) and ProbeRTT is not entered for the
   * idle time; without one, RFC 5681 4.1.
   */
  override onIdleRestart(now: number): void {
    if (!this._model) {
      super.onIdleRestart(now);
      return;
    }
    this._idleRestart = true;
    if (this._state === BbrState.probeBw) this._pacingRate = this._bw.value;
  }

  /** v1 ignores ECN echoes (with a model); otherwise NewReno's reduction. */
  override onEcnEcho(
    ack: number,
    bytesAcked: number,
    ece: boolean,
    flightSize: number,
    sndNxt: number,
    now: number,
  ): boolean {
    if (this._model) return false;
    return super.onEcnEcho(ack, bytesAcked, ece, flightSize, sndNxt, now);
  }
}
