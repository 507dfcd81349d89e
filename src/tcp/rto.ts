/**
 * The retransmission timer's value, per RFC 6298: the SRTT/RTTVAR estimator
 * (section 2), Karn's rule (section 3), exponential backoff (section 5.5), and
 * the 3-second fallback after a lost SYN (section 5.7). RTT samples taken
 * from timestamps (RFC 7323 section 4) feed the same estimator; they are
 * valid for retransmitted segments too (RFC 6298 3), and may be weighted down
 * when several arrive per round trip (RFC 7323 appendix G).
 *
 * All times are milliseconds, floats allowed. The estimator never reads a
 * clock: the caller measures RTTs from the `now` it is given.
 *
 * @example
 * ```ts
 * import { RtoEstimator, rtoMinLinuxMs } from "./rto.ts";
 * const rto = new RtoEstimator({ minMs: rtoMinLinuxMs });
 * rto.rtoMs; // 1000 before any sample (RFC 6298 2.1)
 * rto.sampleSegment(40, false); // SRTT 40, RTTVAR 20, RTO max(200, 40 + 4 * 20) = 200
 * rto.backoff(); // RTO 400
 * ```
 *
 * @module
 */

/** RTO before the first RTT sample (RFC 6298 (2.1)). */
export const rtoInitialMs = 1000;

/** Lower bound of the RTO that RFC 6298 (2.4) asks for. */
export const rtoMinMs = 1000;

/** Lower bound Linux uses instead (TCP_RTO_MIN); this stack configures it, as Linux peers expect. */
export const rtoMinLinuxMs = 200;

/** Upper bound of the RTO; RFC 6298 (2.5) allows a maximum of at least 60 s. */
export const rtoMaxMs = 60_000;

/** RTO after the handshake when a SYN timed out and the RTO was lower (RFC 6298 (5.7)). */
export const rtoSynFallbackMs = 3000;

/** Gain of SRTT (RFC 6298 (2.3)). */
export const rttAlpha = 1 / 8;

/** Gain of RTTVAR (RFC 6298 (2.3)). */
export const rttBeta = 1 / 4;

/** Weight of RTTVAR in the RTO (RFC 6298 (2.2)). */
export const rttK = 4;

/** Default clock granularity G, in ms: the `now` this stack passes in is at least this fine (RFC 6298 (2.2)). */
export const clockGranularityMs = 1;

/** Options of an {@link RtoEstimator}; each defaults to the constant of the same meaning. */
export interface RtoOptions {
  /** Lower bound of the RTO, ms. Default {@link rtoMinMs}; the stack passes {@link rtoMinLinuxMs}. */
  minMs?: number;
  /** Upper bound of the RTO, backoff included, ms. Default {@link rtoMaxMs}. */
  maxMs?: number;
  /** RTO before the first sample, ms. Default {@link rtoInitialMs}. */
  initialMs?: number;
  /** Clock granularity G, ms. Default {@link clockGranularityMs}. */
  granularityMs?: number;
}

/** An RFC 6298 retransmission-timeout estimator for one connection. */
export class RtoEstimator {
  /** Lower bound of the RTO, ms. */
  readonly minMs: number;
  /** Upper bound of the RTO, ms. */
  readonly maxMs: number;
  /** Clock granularity G, ms. */
  readonly granularityMs: number;
  /** Smoothed RTT, ms (0 until {@link hasSample}). */
  srttMs = 0;
  /** RTT variation, ms (0 until {@link hasSample}). */
  rttvarMs = 0;
  /** Whether a sample has been taken since construction or {@link clearEstimate}. */
  hasSample = false;
  /** Times the timer has been backed off since the last valid sample (RFC 6298 (5.5)). */
  backoffCount = 0;
  /** The RTO to arm the retransmission timer with now, backoff included, ms. */
  rtoMs: number;
  // RTO from the estimate alone, bounded: what backoff multiplies.
  private _baseMs: number;

  /** An estimator with no sample yet: the RTO is the initial one. */
  constructor(options: RtoOptions = {}) {
    this.minMs = options.minMs ?? rtoMinMs;
    this.maxMs = options.maxMs ?? rtoMaxMs;
    this.granularityMs = options.granularityMs ?? clockGranularityMs;
    if (!(this.minMs > 0) || !(this.maxMs >= this.minMs)) {
      throw new RangeError(`need 0 < minMs <= maxMs, got ${this.minMs} and ${this.maxMs}`);
    }
    this._baseMs = this._bound(options.initialMs ?? rtoInitialMs);
    this.rtoMs = this._baseMs;
  }

  /**
   * Takes a measured RTT `rttMs` (RFC 6298 (2.2) for the first, (2.3) after),
   * recomputes the RTO and clears any backoff.
   */
  sample(rttMs: number): void {
    this._update(rttMs, rttAlpha, rttBeta);
  }

  /**
   * Karn's rule (RFC 6298 3): takes the RTT of a segment unless it was
   * retransmitted, whose ACK is ambiguous. Whether the sample was taken.
   */
  sampleSegment(rttMs: number, retransmitted: boolean): boolean {
    if (retransmitted) return false;
    this._update(rttMs, rttAlpha, rttBeta);
    return true;
  }

  /**
   * Takes an RTT measured from a timestamp echo (RFC 7323 4.1: now minus the
   * TSecr of an ACK that acknowledged new data, converted to ms). Valid even
   * for retransmitted segments (RFC 6298 3). With `expectedSamples` > 1 (see
   * {@link expectedTimestampSamples}), the gains are divided by it so that
   * many samples per round trip weigh like one (RFC 7323 appendix G).
   */
  sampleTimestamp(rttMs: number, expectedSamples = 1): void {
    const n = expectedSamples > 1 ? expectedSamples : 1;
    this._update(rttMs, rttAlpha / n, rttBeta / n);
  }

  /** Doubles the RTO after the timer expired, up to the maximum (RFC 6298 (5.5)). */
  backoff(): void {
    this.backoffCount++;
    const r = this.rtoMs * 2;
    this.rtoMs = r < this.maxMs ? r : this.maxMs;
  }

  /**
   * RFC 6298 (5.7): when the handshake completes after a SYN timed out, an
   * RTO below 3 s becomes 3 s until a sample is taken. Also clears backoff.
   */
  applySynFallback(): void {
    if (this._baseMs < rtoSynFallbackMs) this._baseMs = this._bound(rtoSynFallbackMs);
    this.backoffCount = 0;
    this.rtoMs = this._baseMs;
  }

  /** As made with `initialMs`: no sample, no backoff (a recycled control block's). */
  restart(initialMs: number): void {
    this.clearEstimate();
    this.backoffCount = 0;
    this._baseMs = this._bound(initialMs);
    this.rtoMs = this._baseMs;
  }

  /**
   * Forgets SRTT and RTTVAR (RFC 6298 (5.7) allows it after repeated
   * backoff, when they are likely bogus); the RTO keeps its value, and the
   * next sample counts as a first one.
   */
  clearEstimate(): void {
    this.hasSample = false;
    this.srttMs = 0;
    this.rttvarMs = 0;
  }

  private _update(r: number, alpha: number, beta: number): void {
    if (!(r >= 0)) return; // a negative or NaN RTT (a clock stepping back) is no sample
    if (!this.hasSample) {
      // (2.2)
      this.srttMs = r;
      this.rttvarMs = r / 2;
      this.hasSample = true;
    } else {
      // (2.3): RTTVAR first, with the SRTT from before this sample.
      const d = this.srttMs - r;
      this.rttvarMs = (1 - beta) * this.rttvarMs + beta * (d < 0 ? -d : d);
      this.srttMs = (1 - alpha) * this.srttMs + alpha * r;
    }
    const k = rttK * this.rttvarMs;
    this._baseMs = this._bound(this.srttMs + (k > this.granularityMs ? k : this.granularityMs));
    this.backoffCount = 0;
    this.rtoMs = this._baseMs;
  }

  // (2.4) and (2.5).
  private _bound(ms: number): number {
    return ms < this.minMs ? this.minMs : ms > this.maxMs ? this.maxMs : ms;
  }
}

/**
 * ExpectedSamples of RFC 7323 appendix G: `ceil(flightSize / (2 * mss))`,
 * at least 1 — the timestamp samples a delayed-ACK receiver yields per RTT.
 */
export function expectedTimestampSamples(flightSize: number, mss: number): number {
  const n = Math.ceil(flightSize / (2 * mss));
  return n > 1 ? n : 1;
}
