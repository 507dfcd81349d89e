/**
 * Selective acknowledgments, both sides.
 *
 * Sender: {@link SackScoreboard}, the scoreboard of RFC 6675 (section 2
 * definitions; section 4: Update(), IsLost(), SetPipe(), NextSeg() rules 1-3;
 * section 5: HighRxt, RecoveryPoint; 5.1 on timeouts) fed by the SACK blocks
 * of RFC 2018 (section 3). D-SACK blocks (RFC 2883 section 4: a first block
 * below the cumulative ACK, or inside the second block) are recognised and
 * not counted as newly SACKed data. The scoreboard holds at most a fixed
 * number of ranges (32 by default), merging adjacent and overlapping ones;
 * when full it forgets the highest range, which only makes it more
 * conservative (SACK information is advisory, RFC 2018 section 8).
 * Not implemented: rule 4 of NextSeg() (the rescue retransmission).
 *
 * Receiver: {@link SackBlockBuilder} makes the blocks of an outgoing ACK
 * from the out-of-order queue, the block holding the most recently received
 * segment first, then the other blocks that grew most recently (RFC 2018
 * section 4), after a
 * D-SACK block when a duplicate arrived (RFC 2883 section 4).
 *
 * Sequence numbers are uint32, compared with src/wire/seq.ts arithmetic;
 * ranges are half-open `[start, end)`. SACK blocks travel as in
 * `TcpOptions.sackBlocks`: a Uint32Array of (left, right) pairs.
 *
 * @example
 * ```ts
 * import { NextSeg, SackScoreboard } from "./sack.ts";
 * const sb = new SackScoreboard(1000);
 * sb.reset(0);
 * sb.sent(10_000);
 * sb.update(0, new Uint32Array([3000, 6000]), 1); // 3000 bytes SACKed above a hole
 * sb.isLost(0); // true: more than 2 * SMSS SACKed above it
 * sb.nextSeg(false); // NextSeg.retransmitLost: sb.segSeq === 0, sb.segLen === 1000
 * ```
 *
 * @module
 */
import { seqGe, seqGt, seqLe, seqLt } from "../wire/seq.ts";

/** Default bound on the ranges a scoreboard holds. */
export const sackRangesMaxDefault = 32;

/** DupThresh of RFC 6675 (2): SACKed ranges (or (DupThresh-1)*SMSS bytes) above a hole that make it lost. */
export const sackDupThresh = 3;

/** Most SACK blocks one option carries (RFC 2018 3). */
export const sackBlocksPerOptionMax = 4;

/** What {@link SackScoreboard.nextSeg} found to send (RFC 6675 4, NextSeg()). */
export const NextSeg = {
  /** Nothing may be sent. */
  none: 0,
  /** Rule 1: retransmit a lost hole, `[segSeq, segSeq + segLen)`. */
  retransmitLost: 1,
  /** Rule 2: send new data from HighData (`segSeq`), up to one SMSS. */
  newData: 2,
  /** Rule 3: retransmit an unSACKed hole not yet deemed lost, `[segSeq, segSeq + segLen)`. */
  retransmitUnsacked: 3,
} as const;

/** One of {@link NextSeg}. */
export type NextSeg = typeof NextSeg[keyof typeof NextSeg];

/** Options of a {@link SackScoreboard}. */
export interface SackScoreboardOptions {
  /** Most ranges held. Default {@link sackRangesMaxDefault}. */
  rangesMax?: number;
  /** DupThresh. Default {@link sackDupThresh}. */
  dupThresh?: number;
}

/** The sender's SACK scoreboard (RFC 6675); see the module documentation. */
export class SackScoreboard {
  /** Sender MSS (SMSS), bytes. */
  mss: number;
  /** DupThresh. */
  readonly dupThresh: number;
  /** HighACK: the cumulative acknowledgment, SND.UNA. */
  highAck = 0;
  /** HighData: one past the highest sequence number sent (SND.MAX). */
  highData = 0;
  /** HighRxt: one past the highest sequence number retransmitted in this recovery. */
  highRxt = 0;
  /** RecoveryPoint: HighData when recovery began (or at the last timeout). */
  recoveryPoint = 0;
  /** Whether SACK-based loss recovery is under way. */
  inRecovery = false;
  /** Bytes SACKed above HighACK. */
  sackedBytes = 0;
  /** Whether the last {@link update} carried a D-SACK block (RFC 2883). */
  dsack = false;
  /** Left edge of that D-SACK block. */
  dsackStart = 0;
  /** Right edge of that D-SACK block. */
  dsackEnd = 0;
  /** Sequence number of the segment {@link nextSeg} chose. */
  segSeq = 0;
  /** Length of the segment {@link nextSeg} chose (for new data: at most this). */
  segLen = 0;
  private _start: Uint32Array;
  private _end: Uint32Array;
  private _count = 0;

  /** An empty scoreboard for sender MSS `mss`. */
  constructor(mss: number, options: SackScoreboardOptions = {}) {
    const max = options.rangesMax ?? sackRangesMaxDefault;
    if (!(max >= 1)) throw new RangeError(`rangesMax must be >= 1, got ${max}`);
    this.mss = mss;
    this.dupThresh = options.dupThresh ?? sackDupThresh;
    this._start = new Uint32Array(max + 1); // one spare: insert, then evict
    this._end = new Uint32Array(max + 1);
  }

  /** Ranges held. */
  get rangeCount(): number {
    return this._count;
  }

  /** Left edge of range `i` (ascending). */
  rangeStart(i: number): number {
    return this._start[i];
  }

  /** Right edge (exclusive) of range `i`. */
  rangeEnd(i: number): number {
    return this._end[i];
  }

  /** The highest SACKed sequence number plus one, or HighACK when nothing is SACKed. */
  get highSacked(): number {
    return this._count > 0 ? this._end[this._count - 1] : this.highAck;
  }

  /** Empties the scoreboard and puts every mark at `sndUna` (at connection start). */
  reset(sndUna: number): void {
    this.highAck =
      this.highData =
      this.highRxt =
      this.recoveryPoint =
        sndUna >>> 0;
    this.inRecovery = false;
    this._count = 0;
    this.sackedBytes = 0;
    this.dsack = false;
  }

  /** Data up to `end` (exclusive) has been sent: HighData advances. */
  sent(end: number): void {
    if (seqGt(end, this.highData)) this.highData = end >>> 0;
  }

  /**
   * Update() of RFC 6675 (4): takes an ACK's cumulative acknowledgment `ack`
   * and its `count` SACK blocks (`blocks` holds left, right pairs). Blocks
   * that are empty, or reach beyond HighData, are ignored; a D-SACK first
   * block is noted in {@link dsack} and not added. Returns the bytes newly
   * SACKed: more than 0 makes an ACK that does not advance SND.UNA a
   * duplicate ACK (RFC 6675 2). Ends recovery when `ack` reaches RecoveryPoint.
   */
  update(ack: number, blocks: Uint32Array, count: number): number {
    ack >>>= 0;
    if (seqGt(ack, this.highAck) && seqLe(ack, this.highData)) this._advance(ack);
    if (this.inRecovery && seqGe(this.highAck, this.recoveryPoint)) this.inRecovery = false;
    this.dsack = false;
    let first = 0;
    if (count > 0) {
      const s0 = blocks[0], e0 = blocks[1];
      // RFC 2883 (4): below the cumulative ACK, or within the second block.
      const inSecond = count > 1 && seqLe(blocks[2], s0) && seqLe(e0, blocks[3]) && seqLt(s0, e0);
      if (seqLt(s0, this.highAck) || inSecond) {
        this.dsack = true;
        this.dsackStart = s0;
        this.dsackEnd = e0;
        first = 1;
      }
    }
    let added = 0;
    for (let b = first; b < count; b++) {
      let s = blocks[2 * b];
      const e = blocks[2 * b + 1];
      if (!seqLt(s, e) || seqGt(e, this.highData) || seqLe(e, this.highAck)) continue;
      if (seqLt(s, this.highAck)) s = this.highAck;
      added += this._insert(s, e);
    }
    return added;
  }

  /**
   * IsLost(SeqNum) of RFC 6675 (4): DupThresh discontiguous SACKed ranges
   * lie above `seq`, or more than (DupThresh - 1) * SMSS SACKed bytes do.
   * A SACKed `seq` is not lost.
   */
  isLost(seq: number): boolean {
    let ranges = 0;
    let bytes = 0;
    for (let i = this._count - 1; i >= 0; i--) {
      const s = this._start[i], e = this._end[i];
      if (seqLe(e, seq)) break;
      if (seqLe(s, seq)) return false; // seq is SACKed
      ranges++;
      bytes += (e - s) >>> 0;
    }
    return this._lost(ranges, bytes);
  }

  /**
   * SetPipe() of RFC 6675 (4): the bytes estimated in flight — each unSACKed
   * byte between HighACK and HighData counts once if not lost, and once more
   * if it was retransmitted (below HighRxt).
   */
  pipe(): number {
    let pipe = 0;
    let ranges = 0;
    let bytes = 0;
    // Holes from the top down, so the SACKed data above each is known.
    let holeEnd = this.highData;
    for (let i = this._count; i >= 0; i--) {
      const holeStart = i > 0 ? this._end[i - 1] : this.highAck;
      if (seqLt(holeStart, holeEnd)) {
        if (!this._lost(ranges, bytes)) pipe += (holeEnd - holeStart) >>> 0;
        pipe += this._belowHighRxt(holeStart, holeEnd);
      }
      if (i > 0) {
        ranges++;
        bytes += (this._end[i - 1] - this._start[i - 1]) >>> 0;
        holeEnd = this._start[i - 1];
      }
    }
    return pipe;
  }

  /**
   * NextSeg() of RFC 6675 (4), rules 1 to 3: what to send next. `canSendNew`
   * says whether unsent data exists and the receive window admits it (rule 2).
   * For rules 1 and 3 the segment is `[segSeq, segSeq + segLen)`, at most one
   * SMSS; for rule 2, `segSeq` is HighData.
   */
  nextSeg(canSendNew: boolean): NextSeg {
    // Rule 1: the first unSACKed byte at or above HighRxt, below the highest SACK, that is lost.
    let ranges = this._count;
    let bytes = this.sackedBytes;
    let candidate = -1; // rule 3's, the first such byte not lost
    let candidateEnd = 0;
    for (let i = 0; i < this._count; i++) {
      const holeStart = i > 0 ? this._end[i - 1] : this.highAck;
      const holeEnd = this._start[i];
      const s = seqGt(this.highRxt, holeStart) ? this.highRxt : holeStart;
      if (seqLt(s, holeEnd)) {
        if (this._lost(ranges, bytes)) return this._choose(NextSeg.retransmitLost, s, holeEnd);
        if (candidate < 0) {
          candidate = s;
          candidateEnd = holeEnd;
        }
      }
      ranges--;
      bytes -= (this._end[i] - this._start[i]) >>> 0;
    }
    // Rule 2: new data.
    if (canSendNew) return this._choose(NextSeg.newData, this.highData, (this.highData + this.mss) >>> 0);
    // Rule 3: an unSACKed hole that is not (yet) lost.
    if (candidate >= 0) return this._choose(NextSeg.retransmitUnsacked, candidate, candidateEnd);
    this.segLen = 0;
    return NextSeg.none;
  }

  /** `[seq, seq + len)` was retransmitted: HighRxt advances (RFC 6675 5 step C.3). */
  retransmitted(seq: number, len: number): void {
    const end = (seq + len) >>> 0;
    if (seqGt(end, this.highRxt)) this.highRxt = end;
  }

  /**
   * Whether it holds nothing a fresh scoreboard would not: no SACKed ranges,
   * no recovery under way, and HighACK past RecoveryPoint.
   */
  empty(): boolean {
    return this._count === 0 && !this.inRecovery && seqGe(this.highAck, this.recoveryPoint);
  }

  /** Whether a new recovery may begin: HighACK is past the last RecoveryPoint (RFC 6675 5, 5.1). */
  recoveryAllowed(): boolean {
    return !this.inRecovery && seqGe(this.highAck, this.recoveryPoint);
  }

  /** Recovery begins (RFC 6675 5 step 4.1): RecoveryPoint = HighData; nothing retransmitted yet. */
  startRecovery(): void {
    this.recoveryPoint = this.highData;
    this.highRxt = this.highAck;
    this.inRecovery = true;
  }

  /**
   * The retransmission timer expired (RFC 6675 5.1): recovery ends and
   * RecoveryPoint = HighData. Without `keepSacked` the SACK information is
   * dropped, since the receiver may have discarded what it SACKed (RFC 2018
   * 8); RACK keeps it (RFC 8985 6.3: what was SACKed is not sent again) and
   * sends the segment at SND.UNA again whatever its marks.
   */
  onRetransmitTimeout(keepSacked = false): void {
    this.inRecovery = false;
    this.recoveryPoint = this.highData;
    this.highRxt = this.highAck;
    if (keepSacked) return;
    this._count = 0;
    this.sackedBytes = 0;
  }

  private _choose(kind: NextSeg, seq: number, end: number): NextSeg {
    const len = (end - seq) >>> 0;
    this.segSeq = seq;
    this.segLen = len < this.mss ? len : this.mss;
    return kind;
  }

  private _lost(rangesAbove: number, bytesAbove: number): boolean {
    return rangesAbove >= this.dupThresh || bytesAbove > (this.dupThresh - 1) * this.mss;
  }

  // Bytes of [s, e) below HighRxt.
  private _belowHighRxt(s: number, e: number): number {
    if (seqLe(this.highRxt, s)) return 0;
    return (seqLt(this.highRxt, e) ? this.highRxt - s : e - s) >>> 0;
  }

  // The cumulative ACK moved to `ack`: drop and trim ranges below it.
  private _advance(ack: number): void {
    this.highAck = ack;
    if (seqLt(this.highRxt, ack)) this.highRxt = ack;
    let drop = 0;
    while (drop < this._count && seqLe(this._end[drop], ack)) {
      this.sackedBytes -= (this._end[drop] - this._start[drop]) >>> 0;
      drop++;
    }
    if (drop > 0) {
      this._start.copyWithin(0, drop, this._count);
      this._end.copyWithin(0, drop, this._count);
      this._count -= drop;
    }
    if (this._count > 0 && seqLt(this._start[0], ack)) {
      this.sackedBytes -= (ack - this._start[0]) >>> 0;
      this._start[0] = ack;
    }
  }

  // Adds [s, e), merging with what it overlaps or touches; returns the bytes it newly covers.
  private _insert(s: number, e: number): number {
    const starts = this._start, ends = this._end;
    const n = this._count;
    let i = 0;
    while (i < n && seqLt(ends[i], s)) i++; // ranges before i end before s, not touching
    let j = i;
    let covered = 0;
    while (j < n && seqLe(starts[j], e)) {
      covered += (ends[j] - starts[j]) >>> 0;
      j++;
    }
    // Ranges i .. j-1 overlap or touch [s, e): merge them into one.
    const ns = j > i && seqLt(starts[i], s) ? starts[i] : s;
    const ne = j > i && seqGt(ends[j - 1], e) ? ends[j - 1] : e;
    const added = ((ne - ns) >>> 0) - covered;
    const merged = j - i;
    if (merged === 0) {
      starts.copyWithin(i + 1, i, n);
      ends.copyWithin(i + 1, i, n);
      this._count = n + 1;
    } else if (merged > 1) {
      starts.copyWithin(i + 1, j, n);
      ends.copyWithin(i + 1, j, n);
      this._count = n - merged + 1;
    }
    starts[i] = ns;
    ends[i] = ne;
    this.sackedBytes += added;
    if (this._count > starts.length - 1) {
      // Over the bound: forget the highest range.
      const last = this._count - 1;
      this.sackedBytes -= (ends[last] - starts[last]) >>> 0;
      this._count = last;
      if (last === i) return 0;
    }
    return added;
  }
}

/** The out-of-order data a receiver holds, as sorted, disjoint ranges (adjacent ones allowed). */
export interface OutOfOrderRanges {
  /** Number of ranges. */
  readonly count: number;
  /** First sequence number of range `i`. */
  seqAt(i: number): number;
  /** One past the last sequence number of range `i`. */
  endAt(i: number): number;
}

/** Default number of recently grown ranges a {@link SackBlockBuilder} remembers. */
export const sackRecentMaxDefault = 8;

/** Builds the SACK blocks of outgoing ACKs (RFC 2018 4, RFC 2883 4); see the module documentation. */
export class SackBlockBuilder {
  // Recent arrivals as ranges, the most recently grown first ([0]): an arrival that touches one
  // widens it and moves it to the front, as Linux's receiver keeps its SACK blocks.
  private _recentStart: Uint32Array;
  private _recentEnd: Uint32Array;
  private _recentCount = 0;
  // How many of the recent ranges, from the front, grew since the last build(): what the next ACK owes.
  private _touched = 0;
  private _dsackPending = false;
  private _dsackStart = 0;
  private _dsackEnd = 0;

  /** A builder remembering the last `recentMax` distinct out-of-order ranges that grew. */
  constructor(recentMax = sackRecentMaxDefault) {
    const cap = recentMax > 0 ? recentMax : 1;
    this._recentStart = new Uint32Array(cap);
    this._recentEnd = new Uint32Array(cap);
  }

  /**
   * An out-of-order segment `[seq, seq + len)` was queued; the range it joins becomes the most
   * recent. Remembered by range, not by segment: a block that grew in a burst and then stopped at a
   * new hole is still the second most recent in the burst's ACK, with its right edge where it
   * ended. Remembered by segment, the burst's arrivals beyond the hole took every slot, the
   * block's last report had an older right edge, and the sender retransmitted what lay between
   * (RFC 2018 4: "the first SACK block MUST specify the contiguous block of data containing the
   * segment which triggered this ACK", then repeat the most recently reported blocks).
   */
  noteArrival(seq: number, len: number): void {
    const rs = this._recentStart, re = this._recentEnd;
    let s = seq >>> 0;
    let e = (seq + len) >>> 0;
    const k = this._touching(s, e);
    const count = this._recentCount;
    if (k >= this._touched && this._touched < rs.length) this._touched++;
    if (k < count) {
      if (seqLt(rs[k], s)) s = rs[k];
      if (seqGt(re[k], e)) e = re[k];
    }
    let at = k;
    if (k === count) {
      if (count < rs.length) this._recentCount = count + 1;
      else at = count - 1; // the oldest gives way
    }
    for (let i = at; i > 0; i--) {
      rs[i] = rs[i - 1];
      re[i] = re[i - 1];
    }
    rs[0] = s;
    re[0] = e;
  }

  /**
   * Whether an out-of-order segment `[seq, seq + len)` would grow a range beyond what the next ACK
   * can report: the ranges grown since the last ACK already fill its `max` blocks (two fewer with a
   * D-SACK waiting: it and the block holding it come first). The caller then sends that ACK first. After a stall the poller takes a long
   * burst in one iteration, with several holes in it; its one ACK carried the three newest ranges,
   * the older ones grown in the burst were never reported with their new right edges, and the
   * sender's RACK took the segments there for lost (a capture at 3% loss: 600 of 970 spuriously
   * retransmitted segments had reached luna-ts ms before, unreported). RFC 2018 4 asks for the
   * most recent blocks to be reported, and an ACK for each out-of-order segment (RFC 5681 4.2).
   */
  wouldOverflow(seq: number, len: number, max: number): boolean {
    const room = this._dsackPending ? max - 2 : max;
    return this._touched >= room && this._touching(seq >>> 0, (seq + len) >>> 0) >= this._touched;
  }

  // Index of the first recent range that [s, e) touches, or the number of ranges.
  private _touching(s: number, e: number): number {
    const rs = this._recentStart, re = this._recentEnd;
    let k = 0;
    const count = this._recentCount;
    while (k < count && !(seqLe(rs[k], e) && seqGe(re[k], s))) k++;
    return k;
  }

  /**
   * A duplicate `[seq, seq + len)` arrived: the next ACK reports it first, as a D-SACK (RFC 2883 4).
   * One that touches the duplicate still waiting for that ACK widens its block (the duplicates of
   * one receive burst share its ACK); another replaces it.
   */
  noteDuplicate(seq: number, len: number): void {
    const end = (seq + len) >>> 0;
    if (this._dsackPending && seqLe(seq, this._dsackEnd) && seqGe(end, this._dsackStart)) {
      if (seqLt(seq, this._dsackStart)) this._dsackStart = seq >>> 0;
      if (seqGt(end, this._dsackEnd)) this._dsackEnd = end;
      return;
    }
    this._dsackPending = true;
    this._dsackStart = seq >>> 0;
    this._dsackEnd = (seq + len) >>> 0;
  }

  /** Whether a D-SACK waits for the next ACK that a duplicate `[seq, seq + len)` would replace, not widen. */
  dsackApart(seq: number, len: number): boolean {
    return this._dsackPending &&
      (seqGt(seq, this._dsackEnd) || seqLt((seq + len) >>> 0, this._dsackStart));
  }

  /** Whether a duplicate waits to be reported as a D-SACK in the next ACK. */
  get dsackPending(): boolean {
    return this._dsackPending;
  }

  /** Forgets recent arrivals and any pending D-SACK. */
  clear(): void {
    this._recentCount = 0;
    this._touched = 0;
    this._dsackPending = false;
  }

  /**
   * Writes up to `max` blocks as (left, right) pairs into `out` and returns
   * how many: a pending D-SACK first (followed by the queued block holding it,
   * if any), then the blocks holding the most recently grown ranges, most
   * recent first, then the other queued blocks in order. Blocks at or below
   * `rcvNxt` are left out. `max` is what fits the option space (4, or 3
   * beside timestamps).
   */
  build(rcvNxt: number, queue: OutOfOrderRanges, out: Uint32Array, max = sackBlocksPerOptionMax): number {
    let n = 0;
    this._touched = 0;
    if (max <= 0) return 0;
    if (this._dsackPending) {
      this._dsackPending = false;
      out[0] = this._dsackStart;
      out[1] = this._dsackEnd;
      n = 1;
      if (n < max && seqGe(this._dsackStart, rcvNxt)) {
        n = this._emitHolding(this._dsackStart, rcvNxt, queue, out, n);
      }
    }
    for (let k = 0; k < this._recentCount && n < max; k++) {
      n = this._emitHolding(this._recentStart[k], rcvNxt, queue, out, n);
    }
    // The rest, in sequence order (RFC 2018 4: as many distinct blocks as fit).
    let i = 0;
    while (i < queue.count && n < max) {
      const s = queue.seqAt(i);
      let e = queue.endAt(i);
      i++;
      while (i < queue.count && queue.seqAt(i) === e) e = queue.endAt(i++);
      if (seqGt(e, rcvNxt)) n = this._emit(seqGt(s, rcvNxt) ? s : rcvNxt, e, out, n);
    }
    return n;
  }

  // Emits the contiguous queued block holding `seq`, unless reported already.
  private _emitHolding(
    seq: number,
    rcvNxt: number,
    queue: OutOfOrderRanges,
    out: Uint32Array,
    n: number,
  ): number {
    if (seqLt(seq, rcvNxt)) return n;
    const count = queue.count;
    let i = 0;
    while (i < count) {
      const s = queue.seqAt(i);
      let e = queue.endAt(i);
      i++;
      while (i < count && queue.seqAt(i) === e) e = queue.endAt(i++);
      if (seqLe(s, seq) && seqLt(seq, e)) return this._emit(seqGt(s, rcvNxt) ? s : rcvNxt, e, out, n);
      if (seqGt(s, seq)) break;
    }
    return n;
  }

  private _emit(s: number, e: number, out: Uint32Array, n: number): number {
    // Skip a block already reported in this option (the D-SACK, if it is one, stays first).
    for (let k = 0; k < n; k++) if (out[2 * k] === s && out[2 * k + 1] === e) return n;
    out[2 * n] = s;
    out[2 * n + 1] = e;
    return n + 1;
  }
}
