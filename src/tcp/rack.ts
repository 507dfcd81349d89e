/**
 * RACK, the time-based loss detection of RFC 8985 (section 6): a segment is
 * lost when a segment sent after it was delivered and more than RACK.rtt +
 * RACK.reo_wnd has passed since it was sent. The per-connection state
 * (RACK.xmit_ts, RACK.end_seq, RACK.rtt, RACK.min_RTT, RACK.fack, the
 * reordering window and its D-SACK adaptation, 6.2 steps 1 to 5) and the
 * per-segment transmit times it needs, kept in a compact log of the segments
 * in flight: sequence range, last transmit time, and SACKed / lost /
 * retransmitted marks. The tail loss probe (section 7) is in tlp.ts; how an
 * ACK drives both, in recovery.ts.
 *
 * Memory: a connection makes its {@link Rack} when it first sends data (and
 * only when SACK was agreed: RFC 8985 5 requires it). The segment log's
 * arrays are lent from a per-thread pool when data leaves and given back
 * once the connection has had nothing in flight for a while ({@link idle},
 * called from the connection's timer), so an idle connection holds only the
 * scalars and a busy one keeps its log between requests. Nothing is
 * allocated per segment.
 *
 * Choices: RACK.min_RTT is the minimum of the RTT samples RACK takes (not a
 * windowed minimum); a segment the ACKs cover only in part counts as not
 * delivered.
 *
 * @example
 * ```ts
 * import { Rack } from "./rack.ts";
 * const r = new Rack();
 * r.sent(0, 1000, 0); r.sent(1000, 2000, 1); r.sent(2000, 3000, 2);
 * r.onAck(0, new Uint32Array([1000, 3000]), 1, 0, 0, false, 10); // 1000..3000 SACKed at 10 ms
 * r.updateReoWnd(0, 3000, false, false, 8); // min_RTT / 4 = 2 ms
 * r.detectLoss(10); // 0..1000 is not lost yet: returns the ms left, 1
 * ```
 *
 * @module
 */
import { seqGe, seqGt, seqLe, seqLt } from "../wire/seq.ts";
import { RateSampler } from "./rate_sample.ts";

/** DupThresh (RFC 8985 6.2 step 4 uses RFC 6675's). */
const dupThresh = 3;

/** Recoveries a widened reordering window persists for (RFC 8985 6.2 step 4). */
export const reoWndPersistRecoveries = 16;

/** Marks of a segment in the log (APP_LIMITED: P.is_app_limited of rate_sample.ts). */
const SACKED = 1, LOST = 2, RETRANS = 4, APP_LIMITED = 8;

/** Which timer the connection's retransmission slot holds (RFC 8985 8: one timer, a kind beside it). */
export const RackTimer = { none: 0, reorder: 1, probe: 2 } as const;

const minEntries = 16;
const pooledEntriesMax = 4096;
const spareLogs: SegLog[] = [];
/** Logs the pool keeps (every connection busy at once may hold one; more are left to the collector). */
const spareLogsMax = 4096;

/**
 * The segments in flight, in sequence order: entries [head, head + n) of the
 * arrays. `dlv`, `dlvTs` and `firstTs` are the delivery-rate snapshot taken
 * when the entry was last sent (P.delivered, P.delivered_time,
 * P.first_sent_time of rate_sample.ts).
 */
class SegLog {
  seq: Uint32Array;
  end: Uint32Array;
  ts: Float64Array;
  flags: Uint8Array;
  dlv: Float64Array;
  dlvTs: Float64Array;
  firstTs: Float64Array;
  head = 0;
  n = 0;
  constructor(cap: number) {
    this.seq = new Uint32Array(cap);
    this.end = new Uint32Array(cap);
    this.ts = new Float64Array(cap);
    this.flags = new Uint8Array(cap);
    this.dlv = new Float64Array(cap);
    this.dlvTs = new Float64Array(cap);
    this.firstTs = new Float64Array(cap);
  }
  /** Room for one more entry at the end. */
  room(): void {
    if (this.head + this.n < this.seq.length) return;
    if (this.head > 0) {
      const h = this.head, t = h + this.n;
      this.seq.copyWithin(0, h, t);
      this.end.copyWithin(0, h, t);
      this.ts.copyWithin(0, h, t);
      this.flags.copyWithin(0, h, t);
      this.dlv.copyWithin(0, h, t);
      this.dlvTs.copyWithin(0, h, t);
      this.firstTs.copyWithin(0, h, t);
      this.head = 0;
      return;
    }
    const cap = this.seq.length * 2;
    const seq = new Uint32Array(cap), end = new Uint32Array(cap);
    const ts = new Float64Array(cap), flags = new Uint8Array(cap);
    const dlv = new Float64Array(cap), dlvTs = new Float64Array(cap), firstTs = new Float64Array(cap);
    seq.set(this.seq);
    end.set(this.end);
    ts.set(this.ts);
    flags.set(this.flags);
    dlv.set(this.dlv);
    dlvTs.set(this.dlvTs);
    firstTs.set(this.firstTs);
    this.seq = seq;
    this.end = end;
    this.ts = ts;
    this.flags = flags;
    this.dlv = dlv;
    this.dlvTs = dlvTs;
    this.firstTs = firstTs;
  }
  /** The first entry that ends after `seq` (binary search: entries are in sequence order); head + n if none. */
  after(seq: number): number {
    let lo = this.head, hi = this.head + this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLe(this.end[mid], seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Splits entry `i` at `at` (inside it): both halves keep its time and marks. Returns `i`'s new index. */
  split(i: number, at: number): number {
    const head = this.head;
    this.room();
    i -= head - this.head;
    const t = this.head + this.n;
    this.seq.copyWithin(i + 1, i, t);
    this.end.copyWithin(i + 1, i, t);
    this.ts.copyWithin(i + 1, i, t);
    this.flags.copyWithin(i + 1, i, t);
    this.dlv.copyWithin(i + 1, i, t);
    this.dlvTs.copyWithin(i + 1, i, t);
    this.firstTs.copyWithin(i + 1, i, t);
    this.end[i] = at;
    this.seq[i + 1] = at;
    this.n++;
    return i;
  }
}

/** RACK's state for one connection (RFC 8985 6.1); see the module documentation. */
export class Rack {
  /** RACK.xmit_ts: the latest transmit time among the segments delivered (-Infinity: none yet). */
  xmitTs = -Infinity;
  /** RACK.end_seq: the end of that segment. */
  endSeq = 0;
  /** RACK.rtt: the RTT of the most recently sent segment delivered, ms. */
  rtt = 0;
  /** RACK.min_RTT, ms (Infinity until a sample). */
  minRtt = Infinity;
  /** RACK.fack: the highest sequence delivered (valid once {@link fackSet}). */
  fack = 0;
  fackSet = false;
  /** RACK.reordering_seen. */
  reorderingSeen = false;
  /** RACK.reo_wnd, ms, as last computed. */
  reoWnd = 0;
  /** RACK.dsack_round (valid when {@link dsackRoundSet}). */
  dsackRound = 0;
  dsackRoundSet = false;
  /** RACK.reo_wnd_mult. */
  reoWndMult = 1;
  /** RACK.reo_wnd_persist. */
  reoWndPersist = 0;
  /** Bytes marked lost and not retransmitted since. */
  lostBytes = 0;
  /** RACK.segs_sacked: segments in the log SACKed. */
  segsSacked = 0;
  /** Segments {@link detectLoss} or {@link markLostOnRto} marked lost since the last call of {@link takeNewlyLost}. */
  newlyLost = 0;
  /** Whether the last ACK showed reordering not seen before (for the counters). */
  reorderingDetected = false;

  // TLP (RFC 8985 7): the episode and its conditions; tlp.ts drives them.
  /** TLP.end_seq is set: a probe is outstanding. */
  tlpActive = false;
  /** TLP.end_seq. */
  tlpEndSeq = 0;
  /** TLP.is_retrans. */
  tlpIsRetrans = false;
  /** An RTT sample was taken since the last probe (RFC 8985 7.3 condition 2). */
  rttSinceProbe = true;
  /** Probes sent since the last RTT sample (tlp.ts: more may follow the first). */
  probesUnanswered = 0;
  /** When the first of {@link probesUnanswered} went, ms. */
  firstProbeAt = 0;

  /**
   * Loss recovery after a retransmission timeout (RFC 8985 6.3) is under way
   * until SND.UNA reaches {@link rtoRecoveryPoint} (SND.MAX at the timeout):
   * the segments marked lost are sent again as the congestion window allows,
   * in slow start, instead of everything from SND.UNA on.
   */
  rtoRecovery = false;
  /** SND.MAX when the timeout fired. */
  rtoRecoveryPoint = 0;

  /** What the connection's retransmission slot holds, when its deadline is {@link timerAt}. */
  timerKind: number = RackTimer.none;
  timerAt = Infinity;

  /** The delivery-rate counters and the last ACK's rate sample (rate_sample.ts), fed by the log. */
  readonly rate: RateSampler = new RateSampler();
  /**
   * Whether the log feeds {@link rate} (the congestion controller reads its samples: BBR). Set
   * when the connection takes the Rack, before anything is sent; false, the sampler stays idle.
   */
  sampling = true;

  private _log: SegLog | undefined = undefined;
  private _retrans = 0;

  /** Segments in the log. */
  get segments(): number {
    return this._log === undefined ? 0 : this._log.n;
  }

  /** When the oldest segment not cumulatively acknowledged was last sent, ms (-Infinity: none in flight). */
  get headSentAt(): number {
    const log = this._log;
    return log === undefined || log.n === 0 ? -Infinity : log.ts[log.head];
  }

  /** The timer kind of a deadline `at` of the connection's retransmission slot. */
  timerOf(at: number): number {
    return at === this.timerAt ? this.timerKind : RackTimer.none;
  }

  /**
   * `[seq, end)` left now: new data past the log's end is appended; what the
   * log holds already was retransmitted, and takes the new time (RFC 8985
   * 6.1, Segment.xmit_ts) and the retransmitted mark.
   */
  sent(seq: number, end: number, now: number): void {
    let log = this._log;
    if (this.sampling) this.rate.onSend(log === undefined || log.n === 0, now);
    if (log === undefined || log.n === 0) {
      if (log === undefined) log = this._log = spareLogs.pop() ?? new SegLog(minEntries);
      log.head = 0;
      this._append(log, seq, end, now);
      return;
    }
    const lastEnd = log.end[log.head + log.n - 1];
    if (seqLt(seq, lastEnd)) {
      const stop = seqLt(end, lastEnd) ? end : lastEnd;
      this._retransmitted(log, seq, stop, now);
      if (seqGt(end, lastEnd)) this._append(log, lastEnd, end, now);
    } else {
      this._append(log, seq, end, now);
    }
  }

  private _append(log: SegLog, seq: number, end: number, now: number): void {
    log.room();
    const i = log.head + log.n;
    log.seq[i] = seq;
    log.end[i] = end;
    log.ts[i] = now;
    log.flags[i] = 0;
    if (this.sampling) this._snapshot(log, i);
    log.n++;
  }

  // draft-cheng-iccrg-delivery-rate-estimation 3.2: what a segment carries from its transmission.
  private _snapshot(log: SegLog, i: number): void {
    const rs = this.rate;
    log.dlv[i] = rs.delivered;
    log.dlvTs[i] = rs.deliveredTime;
    log.firstTs[i] = rs.firstSentTime;
    if (rs.appLimited !== 0) log.flags[i] |= APP_LIMITED;
    else log.flags[i] &= ~APP_LIMITED;
  }

  // `bytes` of log entry `i` are delivered now (ACKed or SACKed for the first time): the rate sampler counts them.
  private _delivered(log: SegLog, i: number, bytes: number, now: number): void {
    if (!this.sampling) return;
    this.rate.onDelivered(
      bytes,
      log.dlv[i],
      log.dlvTs[i],
      log.firstTs[i],
      (log.flags[i] & APP_LIMITED) !== 0,
      log.ts[i],
      now,
    );
  }

  /** Splits entry `i` at `at`, keeping the counts of marked entries. Returns `i`'s new index. */
  private _split(log: SegLog, i: number, at: number): number {
    i = log.split(i, at);
    const f = log.flags[i];
    if ((f & RETRANS) !== 0) this._retrans++;
    if ((f & SACKED) !== 0) this.segsSacked++;
    return i;
  }

  private _retransmitted(log: SegLog, seq: number, end: number, now: number): void {
    for (let i = log.after(seq); i < log.head + log.n && seqLt(log.seq[i], end); i++) {
      if (seqLt(log.seq[i], seq)) {
        i = this._split(log, i, seq);
        continue; // the next entry starts at seq
      }
      if (seqGt(log.end[i], end)) i = this._split(log, i, end);
      const f = log.flags[i];
      if ((f & LOST) !== 0) this.lostBytes -= (log.end[i] - log.seq[i]) >>> 0;
      if ((f & RETRANS) === 0) this._retrans++;
      log.flags[i] = (f & ~LOST) | RETRANS;
      log.ts[i] = now;
      if (this.sampling) this._snapshot(log, i);
    }
  }

  /**
   * An ACK arrived (RFC 8985 6.2 steps 2 and 3): the segments it delivers
   * (cumulatively up to `ack`, or SACKed by `blocks` from index `first`:
   * a D-SACK block is not a delivery) update RACK.xmit_ts, RACK.end_seq,
   * RACK.rtt and RACK.min_RTT, and reordering is noted. A retransmitted
   * segment gives no RTT when the RTT is below RACK.min_RTT (it would be the
   * original's ACK), or, when the ACK covers it cumulatively, the ACK's echo
   * (`tsEcr`, with `tsOk`) is older than its last transmission. A SACKed one
   * is judged by RACK.min_RTT alone (as Linux's tcp_rack_advance does): a
   * segment that arrives out of order leaves TS.Recent as it was, so the echo
   * of its SACK is the timestamp of the segment that last advanced the left
   * edge (RFC 7323 4.3), older than any retransmission after it. Taken as the
   * original's ACK, a tail probe's SACK let nothing sent before the probe be
   * marked lost, and no further probe went (SACKed data): the hole waited out
   * the RTO (seen in the lossy lab, Linux the receiver).
   */
  onAck(
    ack: number,
    blocks: Uint32Array,
    count: number,
    first: number,
    tsEcr: number,
    tsOk: boolean,
    now: number,
  ): void {
    this.reorderingDetected = false;
    const log = this._log;
    const sampling = this.sampling;
    if (sampling) this.rate.begin();
    if (log === undefined || log.n === 0) return;
    let bestTs = -Infinity, bestEnd = 0, bestRtt = -1;
    let maxEnd = 0, maxEndSet = false;
    const fack = this.fack, fackSet = this.fackSet;
    let reordered = false;
    // Cumulatively acknowledged: the entries at the front.
    while (log.n > 0 && seqLe(log.end[log.head], ack)) {
      const i = log.head;
      const f = log.flags[i];
      if ((f & SACKED) === 0) {
        this._delivered(log, i, (log.end[i] - log.seq[i]) >>> 0, now);
        const ts = log.ts[i], e = log.end[i];
        if (this._valid(f, ts, tsEcr, tsOk, now) && sentAfter(ts, e, bestTs, bestEnd)) {
          bestTs = ts;
          bestEnd = e;
          bestRtt = now - ts;
        }
        if (!maxEndSet || seqGt(e, maxEnd)) (maxEnd = e), (maxEndSet = true);
        if (fackSet && seqLt(e, fack) && (f & RETRANS) === 0) reordered = true;
      } else {
        this.segsSacked--;
      }
      if ((f & LOST) !== 0) this.lostBytes -= (log.end[i] - log.seq[i]) >>> 0;
      if ((f & RETRANS) !== 0) this._retrans--;
      log.head++;
      log.n--;
    }
    if (log.n > 0 && seqLt(log.seq[log.head], ack)) {
      const i = log.head;
      if ((log.flags[i] & LOST) !== 0) this.lostBytes -= (ack - log.seq[i]) >>> 0;
      if ((log.flags[i] & SACKED) === 0) {
        // A large segment delivered in part: its front is sampled as a segment of its own (the
        // rest keeps the snapshot of the send), or the rate would be sampled once per 64 KB.
        this._delivered(log, i, (ack - log.seq[i]) >>> 0, now);
      }
      log.seq[i] = ack;
    }
    // Selectively acknowledged: the entries inside a block. An entry a block covers in part (a
    // large segment, of which the receiver got some) is split at the block's edges, so that only
    // what is missing is marked lost and sent again (as Linux splits its buffers when SACKed).
    for (let b = first; b < count; b++) {
      const s = blocks[2 * b], e = blocks[2 * b + 1];
      if (!seqLt(s, e)) continue;
      for (let i = log.after(s); i < log.head + log.n && seqLt(log.seq[i], e); i++) {
        const f = log.flags[i];
        if ((f & SACKED) !== 0) continue;
        if (seqLt(log.seq[i], s)) {
          i = this._split(log, i, s); // the next entry starts at s
          continue;
        }
        if (seqGt(log.end[i], e)) i = this._split(log, i, e);
        this._delivered(log, i, (log.end[i] - log.seq[i]) >>> 0, now);
        log.flags[i] = (f | SACKED) & ~LOST;
        if ((f & LOST) !== 0) this.lostBytes -= (log.end[i] - log.seq[i]) >>> 0;
        this.segsSacked++;
        const ts = log.ts[i], en = log.end[i];
        if (this._valid(f, ts, tsEcr, false, now) && sentAfter(ts, en, bestTs, bestEnd)) {
          bestTs = ts;
          bestEnd = en;
          bestRtt = now - ts;
        }
        if (!maxEndSet || seqGt(en, maxEnd)) (maxEnd = en), (maxEndSet = true);
        if (fackSet && seqLt(en, fack) && (f & RETRANS) === 0) reordered = true;
      }
    }
    if (bestRtt >= 0) {
      this.rtt = bestRtt;
      if (bestRtt < this.minRtt) this.minRtt = bestRtt;
      this.rttSinceProbe = true;
      this.probesUnanswered = 0;
      if (sentAfter(bestTs, bestEnd, this.xmitTs, this.endSeq)) {
        this.xmitTs = bestTs;
        this.endSeq = bestEnd;
      }
    }
    if (maxEndSet && (!this.fackSet || seqGt(maxEnd, this.fack))) {
      this.fack = maxEnd;
      this.fackSet = true;
    }
    if (reordered) {
      if (!this.reorderingSeen) this.reorderingDetected = true;
      this.reorderingSeen = true;
    }
    if (sampling) this.rate.finish(this.minRtt === Infinity ? 0 : this.minRtt, bestRtt);
  }

  // RFC 8985 6.2 step 2: whether a delivered segment gives a usable RTT.
  private _valid(f: number, ts: number, tsEcr: number, tsOk: boolean, now: number): boolean {
    if ((f & RETRANS) === 0) return true;
    if (tsOk && seqLt(tsEcr, Math.floor(ts) >>> 0)) return false;
    return now - ts >= this.minRtt;
  }

  /**
   * RACK_update_reo_wnd() of RFC 8985 6.2 step 4: D-SACK widens the window
   * once per round trip (`dsack`: the last ACK carried one), for 16
   * recoveries; without reordering seen it is 0 in recovery, or when
   * DupThresh segments are SACKed. `srttMs` bounds it. `sackedSegs`: the
   * segments of the MSS that SACKed bytes make, where the log keeps a large
   * segment as one entry (a SACKed 64 KB segment is 45 of them to the RFC,
   * as Linux counts its buffers' packets, not 1).
   */
  updateReoWnd(
    sndUna: number,
    sndNxt: number,
    dsack: boolean,
    inRecovery: boolean,
    srttMs: number,
    sackedSegs: number = 0,
  ): number {
    if (this.dsackRoundSet && seqGe(sndUna, this.dsackRound)) this.dsackRoundSet = false;
    if (!this.dsackRoundSet && dsack) {
      this.dsackRoundSet = true;
      this.dsackRound = sndNxt;
      this.reoWndMult++;
      this.reoWndPersist = reoWndPersistRecoveries;
    }
    if (!this.reorderingSeen && (inRecovery || this.segsSacked >= dupThresh || sackedSegs >= dupThresh)) {
      return this.reoWnd = 0;
    }
    const base = this.minRtt === Infinity ? srttMs : this.minRtt;
    const w = (this.reoWndMult * base) / 4;
    return this.reoWnd = w < srttMs ? w : srttMs;
  }

  /** A fast or RTO recovery ended (RFC 8985 6.2 step 4: the widened window persists 16 of them). */
  onRecoveryExit(): void {
    if (this.reoWndPersist > 0 && --this.reoWndPersist <= 0) this.reoWndMult = 1;
  }

  /**
   * RACK_detect_loss() of RFC 8985 6.2 step 5 (with {@link reoWnd} as last
   * computed): marks lost every segment not yet delivered that was sent
   * before RACK's segment, longer than RACK.rtt + RACK.reo_wnd ago. Returns
   * the ms until the next one would be (0: none waits): the reordering timer.
   */
  detectLoss(now: number): number {
    const log = this._log;
    if (log === undefined || log.n === 0 || this.xmitTs === -Infinity) return 0;
    let timeout = 0;
    const xt = this.xmitTs, xe = this.endSeq, wait = this.rtt + this.reoWnd;
    // Without retransmissions in the log, transmit order is sequence order: stop at the first sent later.
    const ordered = this._retrans === 0;
    for (let i = log.head, t = log.head + log.n; i < t; i++) {
      const f = log.flags[i];
      if ((f & (SACKED | LOST)) !== 0) continue;
      const ts = log.ts[i];
      if (!sentAfter(xt, xe, ts, log.end[i])) {
        if (ordered) break;
        continue;
      }
      const remaining = ts + wait - now;
      if (remaining <= 0) {
        log.flags[i] = f | LOST;
        const len = (log.end[i] - log.seq[i]) >>> 0;
        this.lostBytes += len;
        this.rate.newlyLost += len;
        this.newlyLost++;
      } else if (remaining > timeout) {
        timeout = remaining;
      }
    }
    return timeout;
  }

  /**
   * RACK_mark_losses_on_RTO() of RFC 8985 6.3: of the segments not yet
   * acknowledged (cumulatively or by SACK), the one at SND.UNA and every one
   * sent longer than RACK.rtt + RACK.reo_wnd ago is lost. SACKed segments
   * keep their mark and are not sent again; the segment at SND.UNA is lost
   * even if SACKed, so that a receiver that reneged on it gets it again.
   */
  markLostOnRto(now: number): void {
    const log = this._log;
    if (log === undefined) return;
    const wait = this.rtt + this.reoWnd;
    for (let i = log.head, t = log.head + log.n; i < t; i++) {
      let f = log.flags[i];
      if (i === log.head && (f & SACKED) !== 0) {
        f &= ~SACKED;
        this.segsSacked--;
      }
      if ((f & (LOST | SACKED)) === 0 && (i === log.head || log.ts[i] + wait - now <= 0)) {
        f |= LOST;
        this.lostBytes += (log.end[i] - log.seq[i]) >>> 0;
        this.newlyLost++;
      }
      log.flags[i] = f;
    }
  }

  /** Clears every lost mark (a timeout found spurious). */
  clearLost(): void {
    const log = this._log;
    if (log === undefined) return;
    for (let i = log.head, t = log.head + log.n; i < t; i++) log.flags[i] &= ~LOST;
    this.lostBytes = 0;
  }

  /** Returns and clears {@link newlyLost}. */
  takeNewlyLost(): number {
    const n = this.newlyLost;
    this.newlyLost = 0;
    return n;
  }

  /** The first segment marked lost, at or above `from`: sets {@link segSeq} and {@link segEnd}; false if none. */
  firstLost(from: number): boolean {
    const log = this._log;
    if (log === undefined || this.lostBytes <= 0) return false;
    for (let i = log.head, t = log.head + log.n; i < t; i++) {
      if ((log.flags[i] & LOST) !== 0 && seqGe(log.seq[i], from)) {
        this.segSeq = log.seq[i];
        this.segEnd = log.end[i];
        return true;
      }
    }
    return false;
  }

  /**
   * Whether a retransmission is in flight: a segment sent again and neither
   * SACKed nor marked lost since. Only RACK's own timers or a probe show such
   * a segment lost when nothing sent after it is delivered.
   */
  retransInFlight(): boolean {
    const log = this._log;
    if (log === undefined || this._retrans === 0) return false;
    for (let i = log.head, t = log.head + log.n; i < t; i++) {
      if ((log.flags[i] & (RETRANS | SACKED | LOST)) === RETRANS) return true;
    }
    return false;
  }

  /** The highest segment sent (for a probe that retransmits it): sets {@link segSeq} and {@link segEnd}. */
  last(): boolean {
    const log = this._log;
    if (log === undefined || log.n === 0) return false;
    const i = log.head + log.n - 1;
    this.segSeq = log.seq[i];
    this.segEnd = log.end[i];
    return true;
  }

  /** Start of the segment {@link firstLost} or {@link last} found. */
  segSeq = 0;
  /** Its end. */
  segEnd = 0;

  /** Nothing is in flight: an empty log goes back to the pool (the next segment sent takes one again). */
  idle(): void {
    const log = this._log;
    if (log !== undefined && log.n === 0) this._release();
  }

  /** Forgets every segment (the connection ends): the log goes back to the pool. */
  reset(): void {
    const log = this._log;
    if (log !== undefined) {
      log.n = 0;
      this._release();
    }
    this.lostBytes = 0;
    this.segsSacked = 0;
    this._retrans = 0;
  }

  /**
   * Puts every field back to what a new Rack holds (its log, if any, back to the pool): a
   * connection that ended hands its Rack to the next one ({@link takeRack}).
   */
  clear(): void {
    this.reset();
    this.xmitTs = -Infinity;
    this.endSeq = 0;
    this.rtt = 0;
    this.minRtt = Infinity;
    this.fack = 0;
    this.fackSet = false;
    this.reorderingSeen = false;
    this.reoWnd = 0;
    this.dsackRound = 0;
    this.dsackRoundSet = false;
    this.reoWndMult = 1;
    this.reoWndPersist = 0;
    this.newlyLost = 0;
    this.reorderingDetected = false;
    this.tlpActive = false;
    this.tlpEndSeq = 0;
    this.tlpIsRetrans = false;
    this.rttSinceProbe = true;
    this.probesUnanswered = 0;
    this.firstProbeAt = 0;
    this.rtoRecovery = false;
    this.rtoRecoveryPoint = 0;
    this.timerKind = RackTimer.none;
    this.timerAt = Infinity;
    this.rate.clear();
    this.sampling = true;
  }

  private _release(): void {
    const log = this._log!;
    this._log = undefined;
    this._retrans = 0;
    this.segsSacked = 0;
    this.lostBytes = 0;
    // Grown logs are kept fewer: 64 of up to 4096 entries, and as many as there are busy connections of 64.
    const n = spareLogs.length;
    if (n < spareLogsMax && (log.seq.length <= 64 || (n < 64 && log.seq.length <= pooledEntriesMax))) {
      log.head = 0;
      spareLogs.push(log);
    }
  }
}

// The Racks of connections that ended, taken again by new ones: a connection per request
// (`Connection: close`) would otherwise make a Rack and its RateSampler each time.
const spareRacks: Rack[] = [];
const spareRacksMax = 1024;

/** A Rack as new: one a connection that ended gave back ({@link recycleRack}), or a new one. */
export function takeRack(): Rack {
  return spareRacks.pop() ?? new Rack();
}

/**
 * The connection that held `r` ended and nothing reaches `r` through it any more: cleared
 * ({@link Rack.clear}) and kept for {@link takeRack}.
 */
export function recycleRack(r: Rack): void {
  r.clear();
  if (spareRacks.length < spareRacksMax) spareRacks.push(r);
}

/** RACK_sent_after() of RFC 8985 6.2: whether (t1, seq1) was sent after (t2, seq2). */
export function sentAfter(t1: number, seq1: number, t2: number, seq2: number): boolean {
  return t1 > t2 || (t1 === t2 && seqGt(seq1, seq2));
}
