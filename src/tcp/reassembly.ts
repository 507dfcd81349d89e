/**
 * Bounded out-of-order reassembly for the receiver (RFC 9293 3.10.7.4,
 * "seventh, process the segment text": segments beyond RCV.NXT are held until
 * the gap before them fills; RFC 9293 3.4 on overlapping retransmissions).
 *
 * Payload is never copied: an entry is a sequence range plus two opaque
 * numbers the caller gave — a packet buffer `handle` and an `offset` (where
 * the range's first byte lies, in the caller's terms) — and trimming the
 * front of a range adds to its offset. The queue owns one reference per entry
 * and gives it to the `release` callback when it drops an entry, or to the
 * caller with each piece {@link Reassembly.pop} yields.
 *
 * Overlaps: for bytes already held, the first-arrived data is kept — a new
 * segment is trimmed at the front and back to the gap it lands in — except
 * that entries the new segment covers entirely are replaced by it (and
 * released), so that a segment is always stored as one piece. TCP makes both
 * copies the same bytes; which one is kept only matters against a forger,
 * who may send either.
 *
 * Bounds: at most `bytesMax` bytes and `segmentsMax` entries per connection,
 * and a {@link ReassemblyBudget} shared by every connection of a stack. A
 * segment beyond them is refused; the caller drops it (the sender will
 * retransmit). Nothing is ever buffered without bound.
 *
 * Cost: a receiver without coalescing holds a segment per entry, up to a
 * window's worth (hundreds) while a hole waits for its retransmission, and
 * every arrival is ACKed with SACK blocks at once. So no operation walks the
 * entries: an insert finds its place by binary search and moves only the
 * entries after it (most arrivals land at the end), a pop takes the first
 * entry by moving a head index, and the contiguous runs of entries — what
 * SACK blocks report — are kept beside them ({@link Reassembly.runs}), as
 * few as there are holes.
 *
 * Sequence numbers are uint32, compared with src/wire/seq.ts arithmetic.
 *
 * @example
 * ```ts
 * import { Reassembly, ReassemblyBudget } from "./reassembly.ts";
 * const budget = new ReassemblyBudget(64 << 20); // one per stack
 * const released: number[] = [];
 * const q = new Reassembly({ bytesMax: 1 << 20, budget, release: (h) => released.push(h) });
 * q.insert(2000, 1000, 7, 54); // ReassemblyResult.stored: waits for 1000..2000
 * q.insert(1000, 1000, 6, 54); // buffer 6, payload from its byte 54
 * let rcvNxt = 1000;
 * while (q.pop(rcvNxt)) {
 *   // deliver q.outLen bytes of buffer q.outHandle from q.outOffset; the reference is ours now
 *   rcvNxt += q.outLen; // 2000, then 3000
 * }
 * ```
 *
 * @module
 */
import { seqGe, seqGt, seqLe, seqLt } from "../wire/seq.ts";

/** Default most entries (segments) held per connection. */
export const reassemblySegmentsMaxDefault = 1024;

/** What {@link Reassembly.insert} did with a segment. */
export const ReassemblyResult = {
  /** Queued (maybe trimmed, maybe replacing entries it covers): the queue owns the handle's reference. */
  stored: 0,
  /** Every byte was held already: nothing taken; drop it (and report it as a D-SACK, RFC 2883). */
  duplicate: 1,
  /** Over the connection's or the stack's byte or entry limit: nothing taken; drop it. */
  refused: 2,
} as const;

/** One of {@link ReassemblyResult}. */
export type ReassemblyResult = typeof ReassemblyResult[keyof typeof ReassemblyResult];

/** Out-of-order bytes all connections of a stack may hold together. */
export class ReassemblyBudget {
  /** The limit, bytes. */
  readonly bytesMax: number;
  /** Bytes held now, by all queues sharing this budget. */
  bytesUsed = 0;

  /** A budget of `bytesMax` bytes, none used. */
  constructor(bytesMax: number) {
    this.bytesMax = bytesMax;
  }

  /** Bytes still available. */
  get bytesFree(): number {
    return this.bytesMax - this.bytesUsed;
  }
}

/** Options of a {@link Reassembly} queue. */
export interface ReassemblyOptions {
  /** Takes back the reference of an entry the queue drops. */
  release: (handle: number) => void;
  /** Most bytes held by this connection. */
  bytesMax: number;
  /** The stack's shared budget; default: a private one of `bytesMax`. */
  budget?: ReassemblyBudget;
  /** Most entries held. Default {@link reassemblySegmentsMaxDefault}. */
  segmentsMax?: number;
}

/** One connection's out-of-order queue; see the module documentation. */
export class Reassembly {
  /** Most bytes held by this connection. */
  readonly bytesMax: number;
  /** The shared budget. */
  readonly budget: ReassemblyBudget;
  /** Bytes held. */
  bytes = 0;
  /** Sequence number of the piece the last successful {@link pop} yielded. */
  outSeq = 0;
  /** Its length. */
  outLen = 0;
  /** Its buffer handle; the caller now owns this reference. */
  outHandle = 0;
  /** Its offset (the inserted offset, plus what was trimmed from the front). */
  outOffset = 0;
  /**
   * The held bytes as maximal contiguous ranges (sorted, disjoint, never
   * adjacent): what SACK blocks report (RFC 2018 4), one range per run of
   * entries with no gap between them.
   */
  readonly runs: ReassemblyRuns;
  private _release: (handle: number) => void;
  private readonly _max: number;
  // Entries sorted by sequence number, disjoint (adjacent allowed), at [_head, _head + _count) of
  // arrays twice the entry limit: a pop moves _head, and the live entries move back to the start
  // only when an insert would run past the end (at most once per _max operations).
  private _seq: Uint32Array;
  private _len: Uint32Array;
  private _handle: Float64Array;
  private _offset: Float64Array;
  private _head = 0;
  private _count = 0;

  /** An empty queue. */
  constructor(options: ReassemblyOptions) {
    const max = options.segmentsMax ?? reassemblySegmentsMaxDefault;
    if (!(max >= 1)) throw new RangeError(`segmentsMax must be >= 1, got ${max}`);
    this.bytesMax = options.bytesMax;
    this.budget = options.budget ?? new ReassemblyBudget(options.bytesMax);
    this._release = options.release;
    this._max = max;
    this._seq = new Uint32Array(2 * max);
    this._len = new Uint32Array(2 * max);
    this._handle = new Float64Array(2 * max);
    this._offset = new Float64Array(2 * max);
    this.runs = new ReassemblyRuns(max);
  }

  /** Entries held. */
  get count(): number {
    return this._count;
  }

  /** First sequence number of entry `i` (ascending). */
  seqAt(i: number): number {
    return this._seq[this._head + i];
  }

  /** One past the last sequence number of entry `i`. */
  endAt(i: number): number {
    const k = this._head + i;
    return (this._seq[k] + this._len[k]) >>> 0;
  }

  /** Buffer handle of entry `i`. */
  handleAt(i: number): number {
    return this._handle[this._head + i];
  }

  /** Offset of entry `i`. */
  offsetAt(i: number): number {
    return this._offset[this._head + i];
  }

  /**
   * Queues `len` bytes at `seq`, held in buffer `handle` from `offset`. Call
   * for segments beyond RCV.NXT, trimmed to the receive window. Returns a
   * {@link ReassemblyResult}; only `stored` takes the handle's reference.
   */
  insert(seq: number, len: number, handle: number, offset: number): ReassemblyResult {
    if (len <= 0) return ReassemblyResult.duplicate;
    seq >>>= 0;
    const seqs = this._seq, lens = this._len;
    const h = this._head;
    const n = this._count;
    let s = seq;
    let e = (seq + len) >>> 0;
    // i: first entry starting at or after s (binary search); the one before may overlap s.
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLt(seqs[h + mid], s)) lo = mid + 1;
      else hi = mid;
    }
    const i = lo;
    if (i > 0) {
      const prevEnd = (seqs[h + i - 1] + lens[h + i - 1]) >>> 0;
      if (seqGt(prevEnd, s)) s = prevEnd; // keep the earlier data
      if (seqGe(s, e)) return ReassemblyResult.duplicate;
    }
    // j: entries i..j-1 lie wholly inside [s, e) and are replaced; one that
    // starts inside and ends beyond trims e.
    let j = i;
    let replacedBytes = 0;
    while (j < n && seqLt(seqs[h + j], e)) {
      const end = (seqs[h + j] + lens[h + j]) >>> 0;
      if (seqGt(end, e)) {
        e = seqs[h + j];
        break;
      }
      replacedBytes += lens[h + j];
      j++;
    }
    const newLen = (e - s) >>> 0;
    if (newLen === replacedBytes) return ReassemblyResult.duplicate; // held already, end to end
    const delta = newLen - replacedBytes;
    const replaced = j - i;
    if (
      this.bytes + delta > this.bytesMax ||
      this.budget.bytesUsed + delta > this.budget.bytesMax ||
      n - replaced + 1 > this._max
    ) {
      return ReassemblyResult.refused;
    }
    for (let k = i; k < j; k++) this._release(this._handle[h + k]);
    let at = h + i;
    if (replaced !== 1) {
      if (h + n - replaced + 1 > seqs.length) {
        // No room past the end: the live entries back to the start first.
        this._shift(h, h + n, 0);
        this._head = 0;
        at = i;
      }
      this._shift(this._head + j, this._head + n, at + 1);
    }
    this._count = n - replaced + 1;
    seqs[at] = s;
    lens[at] = newLen;
    this._handle[at] = handle;
    this._offset[at] = offset + ((s - seq) >>> 0);
    this.bytes += delta;
    this.budget.bytesUsed += delta;
    this.runs.add(s, e);
    return ReassemblyResult.stored;
  }

  /**
   * Takes the first piece if it starts at or before `rcvNxt`: true, with the
   * piece in {@link outSeq} (= rcvNxt), {@link outLen}, {@link outHandle} and
   * {@link outOffset}, its bytes before `rcvNxt` trimmed. Entries wholly
   * before `rcvNxt` are released on the way. False when a gap remains.
   */
  pop(rcvNxt: number): boolean {
    rcvNxt >>>= 0;
    while (this._count > 0) {
      const h = this._head;
      const s = this._seq[h];
      const len = this._len[h];
      if (seqGt(s, rcvNxt)) return false;
      const end = (s + len) >>> 0;
      const handle = this._handle[h];
      const offset = this._offset[h];
      this._head = this._count === 1 ? 0 : h + 1;
      this._count--;
      this.bytes -= len;
      this.budget.bytesUsed -= len;
      this.runs.removeBefore(end);
      if (seqLe(end, rcvNxt)) {
        this._release(handle); // delivered already by another path
        continue;
      }
      const trim = (rcvNxt - s) >>> 0;
      this.outSeq = rcvNxt;
      this.outLen = len - trim;
      this.outHandle = handle;
      this.outOffset = offset + trim;
      return true;
    }
    return false;
  }

  /** Releases every entry (connection closed or reset). */
  clear(): void {
    for (let k = 0; k < this._count; k++) this._release(this._handle[this._head + k]);
    this.budget.bytesUsed -= this.bytes;
    this.bytes = 0;
    this._count = 0;
    this._head = 0;
    this.runs.clear();
  }

  // Moves entries [from, to) to start at `at`.
  private _shift(from: number, to: number, at: number): void {
    this._seq.copyWithin(at, from, to);
    this._len.copyWithin(at, from, to);
    this._handle.copyWithin(at, from, to);
    this._offset.copyWithin(at, from, to);
  }
}

/**
 * The maximal contiguous ranges of a {@link Reassembly} queue, kept as
 * entries come and go; read with `count`, `seqAt(i)` and `endAt(i)` (the
 * shape src/tcp/sack.ts builds SACK blocks from).
 */
export class ReassemblyRuns {
  private _start: Uint32Array;
  private _end: Uint32Array;
  private _count = 0;

  /** Room for `max` runs (no more than the queue has entries). */
  constructor(max: number) {
    this._start = new Uint32Array(max);
    this._end = new Uint32Array(max);
  }

  /** Runs held. */
  get count(): number {
    return this._count;
  }

  /** First sequence number of run `i` (ascending). */
  seqAt(i: number): number {
    return this._start[i];
  }

  /** One past the last sequence number of run `i`. */
  endAt(i: number): number {
    return this._end[i];
  }

  /** `[s, e)` is now held: merged with every run it overlaps or touches. */
  add(s: number, e: number): void {
    const st = this._start, en = this._end;
    const n = this._count;
    // i: the first run ending at or after s (from the end: most arrivals extend the last run).
    let i = n;
    while (i > 0 && seqGe(en[i - 1], s)) i--;
    let j = i;
    while (j < n && seqLe(st[j], e)) j++;
    if (j > i) {
      if (seqLt(st[i], s)) s = st[i];
      if (seqGt(en[j - 1], e)) e = en[j - 1];
    }
    // Runs i..j-1 become one (or, with none, one is inserted at i).
    if (j - i !== 1) {
      st.copyWithin(i + 1, j, n);
      en.copyWithin(i + 1, j, n);
      this._count = n - (j - i) + 1;
    }
    st[i] = s;
    en[i] = e;
  }

  /** The bytes before `seq` are no longer held (the queue's first entry, popped, ended there). */
  removeBefore(seq: number): void {
    if (this._count === 0) return;
    if (seqGt(this._end[0], seq)) {
      if (seqLt(this._start[0], seq)) this._start[0] = seq;
      return;
    }
    this._start.copyWithin(0, 1, this._count);
    this._end.copyWithin(0, 1, this._count);
    this._count--;
  }

  /** Forgets every run. */
  clear(): void {
    this._count = 0;
  }
}
