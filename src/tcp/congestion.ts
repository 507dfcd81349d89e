/**
 * The interface every congestion controller implements, and a factory by
 * name. Controllers: {@link NewReno} (RFC 5681 with RFC 3465 byte counting,
 * RFC 6582 NewReno recovery, RFC 6675 SACK recovery) and {@link Cubic}
 * (RFC 9438) and {@link Dctcp} (RFC 8257), and {@link Bbr}
 * (draft-cardwell-iccrg-bbr-congestion-control, v1: a model of the path's
 * bandwidth and RTT, with pacing). Windows are in bytes.
 *
 * How the state machine drives a controller, per ACK (RFC 5681 2 defines a
 * duplicate ACK):
 *
 * - ACK of new data (SND.UNA advances to `ack` by `bytesAcked`):
 *   `flags = cc.onAck(ack, bytesAcked, flightSize, now, srttMs)`.
 * - Duplicate ACK: `flags = cc.onDupAck(ack, flightSize, sndNxt, now)`.
 * - With SACK, when the scoreboard finds SND.UNA lost before three duplicate
 *   ACKs (RFC 6675 5 step 4): `cc.enterRecovery(now, flightSize, sndNxt)`,
 *   then retransmit what NextSeg() returns.
 * - Then act on the flags ({@link CcAction}): retransmit the segment at
 *   SND.UNA, restart the retransmission timer; and send new data while
 *   `cc.canSend(flight, segmentLen)` (flight: FlightSize, or `pipe` during
 *   SACK recovery).
 * - Retransmission timer expired: `cc.onRetransmitTimeout(now, flightSize, sndNxt)`.
 * - About to send after an idle time longer than the RTO: `cc.onIdleRestart(now)`.
 * - Every RTT measurement: `cc.onRttSample(rttMs)` (HyStart++ watches them).
 * - Every ACK on a connection that agreed on ECN: `cc.onEcnEcho(...)`;
 *   true: the window was reduced, set CWR on the next new segment.
 * - A timeout found spurious (F-RTO): `cc.undoTimeout(now)`.
 * - Every ACK on a connection with RACK's segment log, once loss detection
 *   ran: `cc.onRateSample(rate, pipe, now)` (BBR's model).
 * - Before each send: no earlier than the pacer allows when `cc.pacingRate`
 *   is not 0 (pacer.ts); in recovery, PRR's quota only if `cc.usesPrr`.
 *
 * @example
 * ```ts
 * import { CcAction, createCongestionControl } from "./congestion.ts";
 * const cc = createCongestionControl("cubic", 1460);
 * cc.cwnd; // 14600: RFC 6928's initial window
 * const flags = cc.onDupAck(1000, 14600, 15600, 0); // the first: nothing yet
 * if (flags & CcAction.retransmit) {
 *   // retransmit at SND.UNA
 * }
 * ```
 *
 * @module
 */
import { Bbr, type BbrOptions } from "./bbr.ts";
import { Cubic, type CubicOptions } from "./cubic.ts";
import { Dctcp } from "./dctcp.ts";
import { NewReno } from "./newreno.ts";
import type { InitialWindowRule } from "./_congestion_common.ts";
import type { RateSampler } from "./rate_sample.ts";

export {
  abcLimitAfterRtoSegments,
  CcAction,
  dupThresh,
  initialWindowBytes,
  initialWindowRfc6928CapBytes,
  initialWindowRfc6928Segments,
  type InitialWindowRule,
  ssthreshInfiniteBytes,
} from "./_congestion_common.ts";

/** Names of the congestion controllers. */
export type CongestionName = "newreno" | "cubic" | "dctcp" | "bbr";

/** Options every controller takes. */
export interface CongestionOptions {
  /** Initial window rule or size (default "rfc6928": 10 segments up to 14600 bytes). */
  initialWindow?: InitialWindowRule;
  /** Initial ssthresh in bytes (default {@link ssthreshInfiniteBytes}). */
  initialSsthresh?: number;
  /** Use SACK-based recovery (RFC 6675) from the start; see {@link CongestionControl.sack}. */
  sack?: boolean;
  /** HyStart++ (RFC 9406) in the first slow start (default off here; the TCP layer's config turns it on). */
  hystart?: boolean;
}

/** A congestion controller for one connection; all sizes in bytes, all times in ms. */
export interface CongestionControl {
  /** The controller's name. */
  readonly name: CongestionName;
  /** Sender MSS (SMSS), bytes. */
  readonly mss: number;
  /** Congestion window, bytes. */
  readonly cwnd: number;
  /** Slow start threshold, bytes. */
  readonly ssthresh: number;
  /** Whether loss recovery (fast recovery) is under way. */
  readonly inRecovery: boolean;
  /**
   * `recover` of RFC 6582 (3.2), held as SND.NXT at the loss event (one past
   * the highest sequence number sent then); an ACK at or past it ends recovery.
   */
  readonly recover: number;
  /** Duplicate ACKs counted since the last ACK of new data. */
  readonly dupAcks: number;
  /**
   * Whether loss recovery follows RFC 6675 (SACK: cwnd = ssthresh, no
   * inflation, retransmissions from NextSeg()) rather than RFC 6582 (NewReno:
   * inflation by duplicate ACKs, a retransmission per partial ACK). Set it
   * when SACK-permitted was exchanged.
   */
  sack: boolean;
  /** Changes the sender MSS (path MTU changed); windows stay in bytes. */
  setMss(mss: number): void;
  /**
   * New data was acknowledged: SND.UNA advanced to `ack` by `bytesAcked`;
   * `flightSize` is what is outstanding after it; `rttMs` the smoothed RTT
   * (-1 if unknown). Grows the window outside recovery; in recovery, tells
   * a partial ACK (retransmit the next hole) from a full one. Returns {@link CcAction} flags.
   */
  onAck(ack: number, bytesAcked: number, flightSize: number, now: number, rttMs: number): number;
  /**
   * A duplicate ACK (RFC 5681 2) for `ack`, with `sndNxt` the next sequence
   * number to send. The third starts fast retransmit and recovery unless
   * RFC 6582 (3.2 step 2) forbids it. Returns {@link CcAction} flags.
   */
  onDupAck(ack: number, flightSize: number, sndNxt: number, now: number): number;
  /**
   * Starts loss recovery now (called by onDupAck, or by SACK loss detection): ssthresh and cwnd
   * drop. `lossFlight`, at least `flightSize`: what the reduction is a fraction of, where it
   * differs from the flight now (recovery.ts lossFlightSize); a controller that sets cwnd to
   * the flight (BBR's packet conservation) takes `flightSize`.
   */
  enterRecovery(now: number, flightSize: number, sndNxt: number, lossFlight?: number): void;
  /** Ends loss recovery (called by onAck on a full ACK). */
  exitRecovery(now: number, flightSize: number): void;
  /** The retransmission timer expired (RFC 5681 (3.1) equation 4, cwnd = 1 segment). */
  onRetransmitTimeout(now: number, flightSize: number, sndNxt: number): void;
  /** Sending resumes after an idle period longer than the RTO (RFC 5681 4.1): cwnd = min(cwnd, IW). */
  onIdleRestart(now: number): void;
  /** The SYN or SYN-ACK was retransmitted: the initial window is one segment (RFC 5681 3.1, RFC 6928 2). */
  onSynRetransmitted(): void;
  /** Whether `bytes` more may be sent with `flight` outstanding (RFC 3042 limited transmit included). */
  canSend(flight: number, bytes: number): boolean;
  /** Bytes the window allows beyond `flight` (0 when none). */
  sendAllowance(flight: number): number;
  /** An RTT measurement, ms. */
  onRttSample(rttMs: number): void;
  /**
   * The delivery-rate sample of an ACK (rate_sample.ts), after loss
   * detection; `inFlight`: bytes in flight after it (the pipe).
   */
  onRateSample(rs: RateSampler, inFlight: number, now: number): void;
  /** Whether {@link onRateSample} reads its samples (false: RACK's log need not make them). */
  readonly usesRateSamples: boolean;
  /** Pacing rate, bytes per ms; 0: no pacing. */
  readonly pacingRate: number;
  /** Whether PRR (RFC 6937) sets what is sent during recovery (false: the controller's cwnd does). */
  readonly usesPrr: boolean;
  /**
   * An ACK on a connection using ECN (RFC 3168 6.1.2): `ece` whether it
   * echoed congestion, `bytesAcked` what it delivered. Returns whether the
   * window was reduced now (then CWR goes on the next new segment).
   */
  onEcnEcho(
    ack: number,
    bytesAcked: number,
    ece: boolean,
    flightSize: number,
    sndNxt: number,
    now: number,
  ): boolean;
  /** The last timeout was spurious (F-RTO, RFC 5682): cwnd and ssthresh as before it. */
  undoTimeout(now: number): void;
  /** HyStart++ exits from slow start to Conservative Slow Start (RFC 9406); 0 without HyStart++. */
  readonly hystartExits: number;
  /** HyStart++ returns to slow start after a spurious exit. */
  readonly hystartSpuriousExits: number;
}

/** A controller by name, for sender MSS `mss`. */
export function createCongestionControl(
  name: CongestionName,
  mss: number,
  options: CongestionOptions & CubicOptions & BbrOptions = {},
): CongestionControl {
  switch (name) {
    case "newreno":
      return new NewReno(mss, options);
    case "cubic":
      return new Cubic(mss, options);
    case "dctcp":
      return new Dctcp(mss, options);
    case "bbr":
      return new Bbr(mss, options);
    default:
      throw new RangeError(`unknown congestion control ${JSON.stringify(name)}`);
  }
}
