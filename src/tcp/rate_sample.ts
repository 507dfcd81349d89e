/**
 * Delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation): how
 * fast the path delivered data, measured per ACK from what was delivered
 * between a segment's transmission and its acknowledgment. BBR (bbr.ts)
 * builds its bandwidth model from these samples.
 *
 * The connection's counters ({@link RateSampler.delivered},
 * `delivered_time`, `first_sent_time`, `app_limited`; draft section 3.1)
 * are copied into each segment when it is sent (3.2, `P.delivered` and
 * friends); the segments themselves live in RACK's log of the segments in
 * flight (rack.ts), which keeps four more columns for them and hands each
 * one delivered (cumulatively or by SACK) to {@link RateSampler.onDelivered}.
 * Without RACK's log (SACK not agreed, or RFC 6675 loss detection) no
 * samples are taken.
 *
 * Units: bytes and milliseconds; rates in bytes per millisecond.
 *
 * @example
 * ```ts
 * import { RateSampler } from "./rate_sample.ts";
 * const r = new RateSampler();
 * // One 10-byte segment sent at 0 ms with nothing in flight, ACKed at 10 ms:
 * r.onSend(true, 0);
 * const snap = [r.delivered, r.deliveredTime, r.firstSentTime, r.isAppLimited ? 1 : 0];
 * r.begin();
 * r.onDelivered(10, snap[0], snap[1], snap[2], snap[3] === 1, 0, 10);
 * r.finish(0, 10);
 * r.rate; // 1 byte per ms: 10 bytes over max(send 0 ms, ack 10 ms)
 * ```
 *
 * @module
 */

/** The connection's delivery counters and the rate sample of the last ACK; see the module documentation. */
export class RateSampler {
  /** C.delivered: bytes delivered (ACKed or SACKed) so far. */
  delivered = 0;
  /** C.delivered_time: when {@link delivered} last grew, ms. */
  deliveredTime = 0;
  /** C.first_sent_time: the send time of the segment whose delivery was sampled last, ms. */
  firstSentTime = 0;
  /** C.app_limited: 0, or the {@link delivered} count past which the application-limited phase ends. */
  appLimited = 0;

  // The sample of one ACK (draft 3.3: rs.*).
  /** rs.prior_delivered: P.delivered of the most recently sent segment this ACK delivered (-1: none). */
  priorDelivered = -1;
  /** rs.prior_time. */
  priorTime = 0;
  /** rs.send_elapsed, ms. */
  sendElapsed = 0;
  /** rs.ack_elapsed, ms. */
  ackElapsed = 0;
  /** rs.is_app_limited. */
  sampleAppLimited = false;
  /** rs.delivered: bytes delivered over the sample's interval. */
  sampleDelivered = 0;
  /** rs.interval, ms. */
  interval = 0;
  /** rs.delivery_rate, bytes per ms; 0 when this ACK gave no valid sample. */
  rate = 0;
  /** Bytes this ACK delivered first (ACKed or SACKed, not before). */
  newlyDelivered = 0;
  /**
   * Bytes RACK marked lost since the controller last took a sample (by an
   * ACK, or by the reordering timer in between); the taker clears it.
   */
  newlyLost = 0;
  /** The RTT of the most recently sent segment this ACK delivered (RACK.rtt's sample), ms; -1: none. */
  rtt = -1;
  // The send time of the newest segment sampled by this ACK.
  private _sentTime = 0;

  /** Puts every field back to what a new sampler holds (its Rack is reused: rack.ts takeRack). */
  clear(): void {
    this.delivered = 0;
    this.deliveredTime = 0;
    this.firstSentTime = 0;
    this.appLimited = 0;
    this.priorDelivered = -1;
    this.priorTime = 0;
    this.sendElapsed = 0;
    this.ackElapsed = 0;
    this.sampleAppLimited = false;
    this.sampleDelivered = 0;
    this.interval = 0;
    this.rate = 0;
    this.newlyDelivered = 0;
    this.newlyLost = 0;
    this.rtt = -1;
    this._sentTime = 0;
  }

  /** Whether the connection is application-limited now (draft 3.2: P.is_app_limited of what is sent now). */
  get isAppLimited(): boolean {
    return this.appLimited !== 0;
  }

  /**
   * A segment is about to be recorded as sent at `now` (draft 3.2): with
   * nothing in flight (`idle`), the send and ACK clocks restart from now.
   * The caller then copies {@link delivered}, {@link deliveredTime},
   * {@link firstSentTime} and {@link isAppLimited} into the segment.
   */
  onSend(idle: boolean, now: number): void {
    if (idle) {
      this.firstSentTime = now;
      this.deliveredTime = now;
    }
  }

  /**
   * The application has nothing more to send and the window is not full
   * (draft 3.4 CheckIfApplicationLimited): samples until what is in flight
   * now was delivered measure the application, not the path.
   */
  markAppLimited(inFlight: number): void {
    const a = this.delivered + inFlight;
    this.appLimited = a > 0 ? a : 1;
  }

  /** An ACK arrives: the sample starts empty. */
  begin(): void {
    this.priorDelivered = -1;
    this.newlyDelivered = 0;
    this.rate = 0;
    this.rtt = -1;
  }

  /**
   * One segment of `bytes`, sent at `sentTime` with the snapshot
   * (`pDelivered`, `pDeliveredTime`, `pFirstSent`, `pAppLimited`), was
   * delivered at `now` (draft 3.3 UpdateRateSample): counted, and the
   * sample's interval taken from the most recently sent such segment.
   */
  onDelivered(
    bytes: number,
    pDelivered: number,
    pDeliveredTime: number,
    pFirstSent: number,
    pAppLimited: boolean,
    sentTime: number,
    now: number,
  ): void {
    this.delivered += bytes;
    this.deliveredTime = now;
    this.newlyDelivered += bytes;
    if (
      this.priorDelivered < 0 || pDelivered > this.priorDelivered ||
      (pDelivered === this.priorDelivered && sentTime > this._sentTime)
    ) {
      this.priorDelivered = pDelivered;
      this.priorTime = pDeliveredTime;
      this.sampleAppLimited = pAppLimited;
      this.sendElapsed = sentTime - pFirstSent;
      this.ackElapsed = now - pDeliveredTime;
      this._sentTime = sentTime;
      this.firstSentTime = sentTime;
    }
  }

  /**
   * The ACK is processed (draft 3.3 GenerateRateSample): the application-
   * limited phase ends once its data was delivered; the sample's rate is
   * its bytes over the longer of its send and ACK intervals, and none when
   * that interval is shorter than `minRttMs` (ACK compression would inflate
   * it) or nothing was delivered. `rttMs`: RACK's RTT of the newest segment
   * delivered (-1: none).
   */
  finish(minRttMs: number, rttMs: number): void {
    this.rtt = rttMs;
    if (this.appLimited !== 0 && this.delivered > this.appLimited) this.appLimited = 0;
    if (this.priorDelivered < 0) return;
    this.sampleDelivered = this.delivered - this.priorDelivered;
    const iv = this.sendElapsed > this.ackElapsed ? this.sendElapsed : this.ackElapsed;
    this.interval = iv;
    if (iv <= 0 || iv < minRttMs || this.sampleDelivered <= 0) return;
    this.rate = this.sampleDelivered / iv;
  }
}
