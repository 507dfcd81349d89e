/**
 * CUBIC congestion control, RFC 9438: the window grows as the cubic
 * `W_cubic(t) = C*(t - K)^3 + W_max` (4.2) of the time since the congestion
 * avoidance stage began, toward `target = W_cubic(t + RTT)` (4.4, 4.5),
 * never slower than the Reno estimate W_est (4.3, the Reno-friendly region);
 * on loss, ssthresh = FlightSize * beta_cubic (4.6) with fast convergence
 * (4.7); after a timeout, Reno's reduction with CUBIC's ssthresh and a
 * K = 0 curve (4.8). Slow start, fast recovery and the SACK/NewReno
 * machinery are NewReno's (4.10, and {@link NewReno}).
 *
 * The curve works in segments and seconds, as the RFC writes it; cwnd stays
 * in bytes (segments = bytes / SMSS). Float math throughout.
 *
 * Choices: t restarts (a new epoch) after idle and after each congestion
 * event; when W_max is unset or below cwnd at the epoch's start, K = 0 and
 * W_max = cwnd_epoch (4.8, 4.10); the Reno-friendly step never lowers cwnd.
 * HyStart++ (RFC 9406) and the ECN response (RFC 3168, with beta_cubic as
 * 4.6 says) come from {@link NewReno}; a spurious timeout found by F-RTO is
 * undone with W_max and cwnd_prior as they were (4.9). Not implemented:
 * undoing a spurious fast retransmit (4.9).
 *
 * @example
 * ```ts
 * import { Cubic, cubicK, cubicW } from "./cubic.ts";
 * cubicK(100, 70); // cbrt((100 - 70) / 0.4) = 4.2172 s
 * cubicW(cubicK(100, 70), cubicK(100, 70), 100); // 100 segments at t = K
 * const cc = new Cubic(1460);
 * ```
 *
 * @module
 */
import type { CongestionName, CongestionOptions } from "./congestion.ts";
import { NewReno } from "./newreno.ts";

/** C, the curve's aggressiveness, segments/s^3 (RFC 9438 (4.1.1, 5)). */
export const cubicC = 0.4;

/** beta_cubic, the multiplicative decrease factor (RFC 9438 (4.1.1, 4.6)). */
export const cubicBeta = 0.7;

/** alpha_cubic = 3 * (1 - beta) / (1 + beta): W_est's growth per RTT, segments (RFC 9438 (4.3)). */
export const cubicAlpha = (3 * (1 - cubicBeta)) / (1 + cubicBeta);

/** The target's upper bound as a multiple of cwnd (RFC 9438 (4.2): 1.5*cwnd). */
export const cubicTargetMaxFactor = 1.5;

/** Options of {@link Cubic}. */
export interface CubicOptions {
  /** Fast convergence (RFC 9438 (4.7)); default on. */
  fastConvergence?: boolean;
}

/** K of RFC 9438 (4.2) figure 2: cbrt((W_max - cwnd_epoch) / C), seconds, windows in segments. */
export function cubicK(wMax: number, cwndEpoch: number): number {
  return Math.cbrt((wMax - cwndEpoch) / cubicC);
}

/** W_cubic(t) of RFC 9438 (4.2) figure 1, segments, for t and K in seconds. */
export function cubicW(t: number, k: number, wMax: number): number {
  const d = t - k;
  return cubicC * d * d * d + wMax;
}

/** RFC 9438 CUBIC; see the module documentation. */
export class Cubic extends NewReno {
  /** Whether fast convergence (4.7) is on. */
  readonly fastConvergence: boolean;
  // All windows below are in segments, times in seconds unless named Ms.
  private _wMax = 0; // 0: unset (no loss yet, or reset by a timeout)
  private _cwndPrior = 0;
  private _k = 0;
  private _wEst = 0;
  private _cwndEpoch = 0;
  private _epochStartMs = -1; // -1: the next ACK in congestion avoidance starts an epoch
  private _fractionBytes = 0; // sub-byte growth carried between ACKs
  // W_max and cwnd_prior before the last timeout, for its undo (4.9).
  private _undoWMax = 0;
  private _undoCwndPrior = 0;

  /** A CUBIC controller in slow start with the initial window. */
  constructor(mss: number, options: CongestionOptions & CubicOptions = {}) {
    super(mss, options);
    this.fastConvergence = options.fastConvergence ?? true;
  }

  /** As `new Cubic(mss, options)` makes it (see NewReno.reset). */
  override reset(mss: number, options: CongestionOptions & CubicOptions = {}): void {
    super.reset(mss, options);
    (this as { fastConvergence: boolean }).fastConvergence = options.fastConvergence ?? true;
    this._wMax = 0;
    this._cwndPrior = 0;
    this._k = 0;
    this._wEst = 0;
    this._cwndEpoch = 0;
    this._epochStartMs = -1;
    this._fractionBytes = 0;
    this._undoWMax = 0;
    this._undoCwndPrior = 0;
  }

  /** "cubic". */
  override get name(): CongestionName {
    return "cubic";
  }

  /** W_max, segments (0 when unset). */
  get wMax(): number {
    return this._wMax;
  }

  /** cwnd_prior: cwnd at the last congestion event, segments. */
  get cwndPrior(): number {
    return this._cwndPrior;
  }

  /** K of the current epoch, seconds. */
  get k(): number {
    return this._k;
  }

  /** W_est, the Reno estimate of the current epoch, segments. */
  get wEst(): number {
    return this._wEst;
  }

  /** When the current congestion avoidance epoch began (ms), or -1 if none has. */
  get epochStartMs(): number {
    return this._epochStartMs;
  }

  /** RFC 9438 (4.2-4.5): one ACK of `bytesAcked` in congestion avoidance. */
  protected override congestionAvoidance(bytesAcked: number, now: number, rttMs: number): void {
    const mss = this.mss;
    const cwnd = this.cwndBytes / mss;
    if (this._epochStartMs < 0) {
      this._epochStartMs = now;
      this._cwndEpoch = cwnd;
      if (this._wMax <= cwnd) {
        // 4.8 and 4.10: no usable W_max: the curve starts at its plateau.
        this._wMax = cwnd;
        this._k = 0;
      } else {
        this._k = cubicK(this._wMax, cwnd);
      }
      this._wEst = cwnd; // 4.3: W_est = cwnd_epoch
      this._fractionBytes = 0;
    }
    const t = (now - this._epochStartMs) / 1000;
    const segmentsAcked = bytesAcked / mss;
    // 4.3: W_est += alpha * segments_acked / cwnd; alpha becomes 1 once W_est reaches cwnd_prior.
    const alpha = this._wEst >= this._cwndPrior ? 1 : cubicAlpha;
    this._wEst += (alpha * segmentsAcked) / cwnd;
    if (cubicW(t, this._k, this._wMax) < this._wEst) {
      // 4.3: Reno-friendly region: cwnd = W_est (never lowered here).
      const w = Math.floor(this._wEst * mss);
      if (w > this.cwndBytes) this.cwndBytes = w;
      return;
    }
    // 4.2: target = W_cubic(t + RTT) bounded to [cwnd, 1.5*cwnd]; 4.4/4.5:
    // cwnd += (target - cwnd) / cwnd per segment acknowledged.
    const rtt = rttMs > 0 ? rttMs / 1000 : 0;
    let target = cubicW(t + rtt, this._k, this._wMax);
    if (target < cwnd) target = cwnd;
    else if (target > cubicTargetMaxFactor * cwnd) target = cubicTargetMaxFactor * cwnd;
    const grow = ((target - cwnd) / cwnd) * segmentsAcked * mss + this._fractionBytes;
    const whole = Math.floor(grow);
    this._fractionBytes = grow - whole;
    this.cwndBytes += whole;
  }

  /** RFC 9438 (4.6): ssthresh = max(FlightSize * beta_cubic, 2*SMSS). */
  protected override lossSsthresh(flightSize: number): number {
    const s = Math.floor(flightSize * cubicBeta);
    return s > 2 * this.mss ? s : 2 * this.mss;
  }

  /** RFC 9438 (4.6, 4.7, 4.8): remember cwnd_prior and W_max, end the epoch. */
  protected override onCongestionEvent(_now: number, _flightSize: number, timeout: boolean): void {
    const cwnd = this.cwndBytes / this.mss;
    if (timeout) {
      this._undoWMax = this._wMax;
      this._undoCwndPrior = this._cwndPrior;
    }
    this._cwndPrior = cwnd;
    if (timeout) {
      // 4.8: the first epoch after a timeout has K = 0, W_max = cwnd at its start.
      this._wMax = 0;
    } else if (this.fastConvergence && cwnd < this._wMax) {
      // 4.7: release bandwidth to newer flows.
      this._wMax = (cwnd * (1 + cubicBeta)) / 2;
    } else {
      this._wMax = cwnd;
    }
    this._epochStartMs = -1;
  }

  /** RFC 9438 (4.6): cwnd = max(ssthresh, 2*SMSS) after recovery; a new epoch starts. */
  protected override onRecoveryExit(_now: number): void {
    this._epochStartMs = -1;
  }

  /** RFC 9438 (4.8): a new epoch after slow start. */
  protected override onTimeoutReset(_now: number): void {
    this._wMax = 0;
    this._epochStartMs = -1;
  }

  /** RFC 9438 (4.9): a spurious timeout leaves W_max and cwnd_prior as they were before it. */
  protected override onTimeoutUndone(_now: number): void {
    this._wMax = this._undoWMax;
    this._cwndPrior = this._undoCwndPrior;
    this._epochStartMs = -1;
  }

  /** Idle time is not growth time: the next ACK starts a new epoch. */
  protected override onIdle(_now: number): void {
    this._epochStartMs = -1;
  }
}
