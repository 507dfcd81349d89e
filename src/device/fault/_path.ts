/**
 * One direction of a fault injector: the faults it applies, and the frames it
 * holds (delayed, rate-limited or reordered) until their release time, kept
 * in a binary min-heap on (release time, arrival order) over preallocated
 * typed arrays. Nothing here allocates per frame.
 *
 * A frame chained over several records (a frame longer than a buffer) takes
 * a slot per record, linked from its first, which alone is in the heap: the
 * faults take or spare the frame whole, and it is handed on whole.
 *
 * @module
 */
import { ConfigError, PoolExhaustedError } from "../../errors.ts";
import type { MemZone } from "../../mem/zone.ts";
import type { Random } from "../../util/random.ts";
import { DESC_WORDS, RxFlag, TxFlag } from "../device.ts";

/** Faults of one direction (rx or tx). Probabilities are per frame, 0..1; every field defaults to 0 (off). */
export interface FaultOptions {
  /** Probability that a frame is dropped. */
  loss?: number;
  /** Probability that a frame starts a burst of losses: it and every frame for `burstMs` after it are dropped. */
  burstLoss?: number;
  /** How long a loss burst lasts, ms (default 1). */
  burstMs?: number;
  /** Probability that a frame is sent twice (the second copy in a fresh buffer, right after the first). */
  duplicate?: number;
  /** Probability that one random bit is flipped, past the 14-byte Ethernet header. */
  corrupt?: number;
  /** Probability that a frame is held back and later frames overtake it. */
  reorder?: number;
  /** A reordered frame waits until this many later frames (held ones too) have entered after it. */
  reorderFrames?: number;
  /** A reordered frame is held this long (ms); with `reorderFrames`, at most this long. */
  reorderMs?: number;
  /** Delay added to every frame, ms. */
  delayMs?: number;
  /** Extra delay drawn uniformly from [0, jitterMs) per frame; order is kept. */
  jitterMs?: number;
  /** Bandwidth, bits per second; 0 is unlimited. */
  bandwidthBps?: number;
  /** Bytes counted per frame on top of its length when rate limiting. */
  overheadBytes?: number;
  /** Probability that an ECN-capable IPv4 frame (ECT(0) or ECT(1)) is marked CE (RFC 3168 5), at random. */
  ceMark?: number;
  /**
   * With `bandwidthBps`: an ECN-capable IPv4 frame that finds at least this
   * many bytes queued ahead of it for the rate limit is marked CE — a
   * switch's marking threshold K (RFC 8257 3.1). 0 (default): no such marking.
   */
  ceThresholdBytes?: number;
  /** With `bandwidthBps`: a frame that finds this many bytes queued ahead of it is dropped (a bounded queue). 0: no bound. */
  queueBytesMax?: number;
}

/** Counters of one direction of a fault injector. */
export class FaultCounters {
  /** Frames that entered the direction. */
  frames = 0;
  /** Bytes of those frames. */
  bytes = 0;
  /** Frames handed on: to the caller (rx) or to the wrapped device (tx); duplicates included. */
  delivered = 0;
  /** Frames dropped by the loss fault (bursts included). */
  lost = 0;
  /** Loss bursts begun. */
  bursts = 0;
  /** Frames duplicated. */
  duplicated = 0;
  /** Frames with a bit flipped. */
  corrupted = 0;
  /** Frames held back for reordering. */
  reordered = 0;
  /** Frames given a delay (delayMs or jitterMs). */
  delayed = 0;
  /** Frames that queued behind others for the bandwidth limit. */
  throttled = 0;
  /** ECN-capable frames marked CE (ceMark or ceThresholdBytes). */
  ceMarked = 0;
  /** Frames dropped because the queue held queueBytesMax bytes. */
  queueDrops = 0;
  /** Duplications or corruptions skipped because the zone had no buffer for the copy. */
  skippedNoBuffer = 0;
  /** Duplications skipped because the direction held as many frames as it may. */
  skippedFull = 0;
  /** Frames still held when the injector was closed, released then. */
  releasedOnClose = 0;
}

const ethernetHeaderLen = 14;
const rxChecksumGood = RxFlag.ipCksumGood | RxFlag.l4CksumGood;

/** Validated faults of one direction. */
export interface FaultConfig {
  loss: number;
  burstLoss: number;
  burstMs: number;
  duplicate: number;
  corrupt: number;
  reorder: number;
  reorderFrames: number;
  reorderMs: number;
  delayMs: number;
  jitterMs: number;
  bandwidthBps: number;
  overheadBytes: number;
  ceMark: number;
  ceThresholdBytes: number;
  queueBytesMax: number;
}

/** Checks `o` and fills defaults; `field` prefixes the names in errors. */
export function faultConfig(field: string, o: FaultOptions = {}): FaultConfig {
  const c: FaultConfig = {
    loss: o.loss ?? 0,
    burstLoss: o.burstLoss ?? 0,
    burstMs: o.burstMs ?? 1,
    duplicate: o.duplicate ?? 0,
    corrupt: o.corrupt ?? 0,
    reorder: o.reorder ?? 0,
    reorderFrames: o.reorderFrames ?? 0,
    reorderMs: o.reorderMs ?? 0,
    delayMs: o.delayMs ?? 0,
    jitterMs: o.jitterMs ?? 0,
    bandwidthBps: o.bandwidthBps ?? 0,
    overheadBytes: o.overheadBytes ?? 0,
    ceMark: o.ceMark ?? 0,
    ceThresholdBytes: o.ceThresholdBytes ?? 0,
    queueBytesMax: o.queueBytesMax ?? 0,
  };
  for (const k of ["loss", "burstLoss", "duplicate", "corrupt", "reorder", "ceMark"] as const) {
    if (!(c[k] >= 0 && c[k] <= 1)) {
      throw new ConfigError(`${field}.${k}`, `expected a probability 0..1, got ${c[k]}`);
    }
  }
  for (const k of ["reorderMs", "delayMs", "jitterMs", "bandwidthBps", "burstMs"] as const) {
    if (!(c[k] >= 0 && c[k] < Infinity)) {
      throw new ConfigError(`${field}.${k}`, `expected a finite number >= 0, got ${c[k]}`);
    }
  }
  for (const k of ["reorderFrames", "overheadBytes", "ceThresholdBytes", "queueBytesMax"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) {
      throw new ConfigError(`${field}.${k}`, `expected an integer >= 0, got ${c[k]}`);
    }
  }
  if (c.reorder > 0 && c.reorderFrames === 0 && c.reorderMs === 0) {
    throw new ConfigError(
      `${field}.reorder`,
      "says how often to reorder; also give reorderFrames or reorderMs (how far)",
    );
  }
  if ((c.ceThresholdBytes > 0 || c.queueBytesMax > 0) && c.bandwidthBps === 0) {
    throw new ConfigError(
      `${field}.${c.ceThresholdBytes > 0 ? "ceThresholdBytes" : "queueBytesMax"}`,
      "measures the queue of the rate limit: also give bandwidthBps",
    );
  }
  return c;
}

/** One direction's faults and held frames. */
export class FaultPath {
  readonly counters = new FaultCounters();
  /** No fault configured: frames pass straight through. */
  readonly passthrough: boolean;
  private readonly _zone: MemZone;
  private readonly _rng: Random;
  private readonly _isRx: boolean;
  private readonly _loss: number;
  private readonly _burstLoss: number;
  private readonly _burstMs: number;
  private _burstEnd = -Infinity;
  private readonly _duplicate: number;
  private readonly _corrupt: number;
  private readonly _reorder: number;
  private readonly _reorderFrames: number;
  private readonly _reorderMs: number;
  private readonly _delayMs: number;
  private readonly _jitterMs: number;
  private readonly _msPerByte: number;
  private readonly _overhead: number;
  private readonly _ceMark: number;
  private readonly _ceThresholdBytes: number;
  private readonly _queueBytesMax: number;

  // Slots: one per held record; a chain's further records are linked from its first.
  private readonly _handle: Uint32Array;
  private readonly _next: Int32Array; // the chain's next record's slot; -1: none
  private readonly _records: Int32Array; // of a frame's first slot: the frame's records
  private readonly _word1: Uint32Array;
  private readonly _word2: Uint32Array;
  private readonly _word3: Uint32Array;
  private readonly _release: Float64Array;
  private readonly _order: Float64Array;
  private readonly _free: Int32Array;
  private _freeTop: number;
  // Min-heap of slots on (release, order).
  private readonly _heap: Int32Array;
  private _heapSize = 0;
  // Frames reordered by count: not in the heap until enough frames pass them.
  private readonly _held: Int32Array;
  private readonly _heldLeft: Int32Array;
  private readonly _heldDeadline: Float64Array;
  private _heldCount = 0;

  private _nextOrder = 0;
  private _freeAt = 0;
  private _lastRelease = -Infinity;

  constructor(zone: MemZone, rng: Random, isRx: boolean, c: FaultConfig, holdLimit: number) {
    this._zone = zone;
    this._rng = rng;
    this._isRx = isRx;
    this._loss = c.loss;
    this._burstLoss = c.burstLoss;
    this._burstMs = c.burstMs;
    this._duplicate = c.duplicate;
    this._corrupt = c.corrupt;
    this._reorder = c.reorder;
    this._reorderFrames = c.reorderFrames;
    this._reorderMs = c.reorderMs;
    this._delayMs = c.delayMs;
    this._jitterMs = c.jitterMs;
    this._msPerByte = c.bandwidthBps > 0 ? 8000 / c.bandwidthBps : 0;
    this._overhead = c.overheadBytes;
    this._ceMark = c.ceMark;
    this._ceThresholdBytes = c.ceThresholdBytes;
    this._queueBytesMax = c.queueBytesMax;
    this.passthrough = c.loss === 0 && c.burstLoss === 0 && c.duplicate === 0 && c.corrupt === 0 && c.reorder === 0 &&
      c.delayMs === 0 && c.jitterMs === 0 && c.bandwidthBps === 0 && c.ceMark === 0;
    const n = this.passthrough ? 1 : holdLimit;
    this._handle = new Uint32Array(n);
    this._next = new Int32Array(n);
    this._records = new Int32Array(n);
    this._word1 = new Uint32Array(n);
    this._word2 = new Uint32Array(n);
    this._word3 = new Uint32Array(n);
    this._release = new Float64Array(n);
    this._order = new Float64Array(n);
    this._free = new Int32Array(n);
    for (let i = 0; i < n; i++) this._free[i] = n - 1 - i;
    this._freeTop = n;
    this._heap = new Int32Array(n);
    this._held = new Int32Array(n);
    this._heldLeft = new Int32Array(n);
    this._heldDeadline = new Float64Array(n);
  }

  /** Slots free now: records that can be admitted, if none is duplicated. */
  get room(): number {
    return this._freeTop;
  }

  /** Records held now (a frame's, where it is a chain). */
  get held(): number {
    return this._handle.length - this._freeTop;
  }

  /** Bytes queued for the rate limit at `now` (what a frame entering now would find ahead of it); 0 without one. */
  queuedBytes(now: number): number {
    return this._msPerByte > 0 && this._freeAt > now ? (this._freeAt - now) / this._msPerByte : 0;
  }

  /** Counts frames passed straight through (passthrough mode). */
  countPassed(descs: Uint32Array, n: number): void {
    const c = this.counters;
    const more = this._isRx ? RxFlag.more : TxFlag.more;
    let frames = 0;
    for (let k = 0; k < n; k++) {
      c.bytes += descs[k * DESC_WORDS + 1] >>> 16;
      if ((descs[k * DESC_WORDS + 2] & more) === 0) frames++;
    }
    c.frames += frames;
    c.delivered += frames;
  }

  /**
   * Applies the faults to the frame at record `at` of `descs` (`records`
   * records from there, a chain), seen at `now`, and holds what remains of
   * it. Needs `records` free slots; `reserve` more slots are kept free for
   * records of the same burst still to come.
   */
  admit(descs: Uint32Array, at: number, now: number, reserve: number, records = 1): void {
    const c = this.counters;
    const zone = this._zone;
    const rng = this._rng;
    let h = descs[at];
    const word1 = descs[at + 1];
    const flags = descs[at + 2];
    let word2 = flags;
    const word3 = descs[at + 3];
    const first = word1 >>> 16;
    let len = first;
    for (let r = 1; r < records; r++) len += descs[at + r * DESC_WORDS + 1] >>> 16;
    const start = zone.dataRoomOffset + (word1 & 0xffff); // from the handle to the frame
    c.frames++;
    c.bytes += len;

    if (this._burstLoss > 0 && now >= this._burstEnd && rng.chance(this._burstLoss)) {
      this._burstEnd = now + this._burstMs;
      c.bursts++;
    }
    if (now < this._burstEnd || rng.chance(this._loss)) {
      for (let r = 0; r < records; r++) zone.release(descs[at + r * DESC_WORDS]);
      c.lost++;
      return;
    }
    const queued = this.queuedBytes(now);
    if (this._queueBytesMax > 0 && queued >= this._queueBytesMax) {
      for (let r = 0; r < records; r++) zone.release(descs[at + r * DESC_WORDS]);
      c.queueDrops++;
      return;
    }
    if (
      (this._ceMark > 0 && rng.chance(this._ceMark)) ||
      (this._ceThresholdBytes > 0 && queued >= this._ceThresholdBytes)
    ) {
      const own = markCe(zone, h, start, first);
      if (own >= 0) {
        h = own;
        if (this._isRx) word2 &= ~rxChecksumGood;
        c.ceMarked++;
      } else if (own === -2) {
        c.skippedNoBuffer++;
      }
    }

    if (records > 1) {
      this._admitChain(descs, at, now, reserve, records, h, word2, len);
      return;
    }
    let dup = -1; // the duplicate's buffer, copied before any corruption
    if (rng.chance(this._duplicate)) {
      if (this._freeTop - 1 - reserve < 1) {
        c.skippedFull++;
      } else {
        dup = takeOrNone(zone);
        if (dup < 0) {
          c.skippedNoBuffer++;
        } else {
          zone.bytes.copyWithin(dup + start, h + start, h + start + len);
          c.duplicated++;
        }
      }
    }

    if (len > 0 && rng.chance(this._corrupt)) {
      const own = this._flipBit(h, start, len);
      if (own >= 0) {
        h = own;
        // A verdict the NIC gave before the flip no longer holds: let the stack check.
        if (this._isRx) word2 &= ~rxChecksumGood;
      }
    }

    const slot = this._store(h, word1, word2, word3);
    this._hold(slot, now, len);
    if (dup >= 0) {
      const td = this._departure(len, now);
      this._push(this._store(dup, word1, flags, word3), td); // the intact copy keeps the NIC's verdict
      this._passed(td);
    }
  }

  /**
   * {@link admit} for a chain of `records` records (`len` bytes), its first
   * record's handle `h` and flags `word2` as the CE fault left them: the
   * frame is duplicated and corrupted whole, the copy and the flipped bit in
   * fresh buffers of the zone where a buffer is shared.
   */
  private _admitChain(
    descs: Uint32Array,
    at: number,
    now: number,
    reserve: number,
    records: number,
    h: number,
    word2: number,
    len: number,
  ): void {
    const c = this.counters;
    const zone = this._zone;
    const rng = this._rng;
    const head = this._store(h, descs[at + 1], word2, descs[at + 3]);
    let prev = head;
    for (let r = 1; r < records; r++) {
      const d = at + r * DESC_WORDS;
      const s = this._store(descs[d], descs[d + 1], descs[d + 2], descs[d + 3]);
      this._next[prev] = s;
      prev = s;
    }
    this._records[head] = records;

    let dup = -1; // the duplicate's first slot, copied before any corruption
    if (rng.chance(this._duplicate)) {
      if (this._freeTop - records - reserve < records) c.skippedFull++;
      else if ((dup = this._copyChain(head, descs[at + 2])) < 0) c.skippedNoBuffer++;
      else c.duplicated++;
    }

    if (rng.chance(this._corrupt)) {
      // The bit's record, and its byte there.
      const from = len > ethernetHeaderLen ? ethernetHeaderLen : 0;
      let byte = from + rng.int(len - from);
      const bit = rng.int(8);
      let s = head;
      while (byte >= this._word1[s] >>> 16) {
        byte -= this._word1[s] >>> 16;
        s = this._next[s];
      }
      const start = zone.dataRoomOffset + (this._word1[s] & 0xffff);
      const own = this._flipBit(this._handle[s], start, this._word1[s] >>> 16, byte, bit);
      if (own >= 0) {
        this._handle[s] = own;
        if (this._isRx) this._word2[head] &= ~rxChecksumGood;
      }
    }

    this._hold(head, now, len);
    if (dup >= 0) {
      const td = this._departure(len, now);
      this._push(dup, td);
      this._passed(td);
    }
  }

  /**
   * A copy of the chain at slot `head` in fresh buffers and slots, its first
   * record's flags `flags` (the NIC's verdict, before any fault); returns its
   * first slot, or -1 when the zone had too few buffers (none is kept).
   */
  private _copyChain(head: number, flags: number): number {
    const zone = this._zone;
    let first = -1;
    let prev = -1;
    for (let s = head; s >= 0; s = this._next[s]) {
      const b = takeOrNone(zone);
      if (b < 0) {
        for (let q = first; q >= 0; q = this._next[q]) this._free[this._freeTop++] = q;
        for (let q = first; q >= 0; q = this._next[q]) zone.release(this._handle[q]);
        return -1;
      }
      const start = zone.dataRoomOffset + (this._word1[s] & 0xffff);
      zone.bytes.copyWithin(b + start, this._handle[s] + start, this._handle[s] + start + (this._word1[s] >>> 16));
      const q = this._store(b, this._word1[s], s === head ? flags : this._word2[s], this._word3[s]);
      if (prev >= 0) this._next[prev] = q;
      else first = q;
      prev = q;
    }
    this._records[first] = this._records[head];
    return first;
  }

  /**
   * Flips one bit of the `len` bytes at `start` of buffer `h`, drawn unless
   * given, past the Ethernet header; in a private copy when someone else
   * holds the buffer (a retransmission queue). Returns the buffer now
   * holding the frame, or -1 when no buffer was free for the copy.
   */
  private _flipBit(h: number, start: number, len: number, byte = -1, bit = -1): number {
    const c = this.counters;
    const zone = this._zone;
    if (byte < 0) {
      const from = len > ethernetHeaderLen ? ethernetHeaderLen : 0;
      byte = from + this._rng.int(len - from);
      bit = this._rng.int(8);
    }
    let own = h;
    if (zone.refcount(h) > 1) {
      own = takeOrNone(zone);
      if (own >= 0) {
        zone.bytes.copyWithin(own + start, h + start, h + start + len);
        zone.release(h);
      }
    }
    if (own < 0) {
      c.skippedNoBuffer++;
      return -1;
    }
    zone.bytes[own + start + byte] ^= 1 << bit;
    c.corrupted++;
    return own;
  }

  /** Times the frame at `slot` (`len` bytes, seen at `now`), reorders it or not, and holds it. */
  private _hold(slot: number, now: number, len: number): void {
    const c = this.counters;
    let t = this._departure(len, now);
    let countHold = false;
    if (this._rng.chance(this._reorder)) {
      c.reordered++;
      if (this._reorderFrames > 0) countHold = true;
      else t += this._reorderMs; // later frames, timed as usual, overtake it
    }
    if (countHold) {
      this._passed(t); // a held frame still counts as passing those held before it
      const i = this._heldCount++;
      this._held[i] = slot;
      this._heldLeft[i] = this._reorderFrames;
      this._heldDeadline[i] = this._reorderMs > 0 ? t + this._reorderMs : Infinity;
    } else {
      this._push(slot, t);
      this._passed(t);
    }
  }

  /** Moves count-held frames whose deadline has come into the heap. */
  expire(now: number): void {
    let j = 0;
    for (let i = 0; i < this._heldCount; i++) {
      const d = this._heldDeadline[i];
      if (d <= now) {
        this._push(this._held[i], d);
      } else {
        this._held[j] = this._held[i];
        this._heldLeft[j] = this._heldLeft[i];
        this._heldDeadline[j] = d;
        j++;
      }
    }
    this._heldCount = j;
  }

  /** When the next held frame is due; Infinity if none. */
  nextAt(): number {
    let t = this._heapSize > 0 ? this._release[this._heap[0]] : Infinity;
    for (let i = 0; i < this._heldCount; i++) if (this._heldDeadline[i] < t) t = this._heldDeadline[i];
    return t;
  }

  /**
   * Takes frames due by `now` off the heap, in order, into `slots`, as many
   * as fit in `max` records; returns how many frames.
   */
  popDue(now: number, slots: Int32Array, max: number): number {
    let k = 0;
    let records = 0;
    while (this._heapSize > 0 && this._release[this._heap[0]] <= now) {
      const r = this._records[this._heap[0]];
      if (records + r > max) break;
      records += r;
      slots[k++] = this._pop();
    }
    return k;
  }

  /** Writes the records of the frames `slots[0..k)` into `descs`, from record `first` on; returns how many. */
  write(slots: Int32Array, k: number, descs: Uint32Array, first: number): number {
    let at = first * DESC_WORDS;
    for (let i = 0; i < k; i++) {
      for (let s = slots[i]; s >= 0; s = this._next[s]) {
        descs[at] = this._handle[s];
        descs[at + 1] = this._word1[s];
        descs[at + 2] = this._word2[s];
        descs[at + 3] = this._word3[s];
        at += DESC_WORDS;
      }
    }
    return at / DESC_WORDS - first;
  }

  /** How many of the frames `slots[0..k)` the first `records` records hold whole. */
  framesIn(slots: Int32Array, k: number, records: number): number {
    let i = 0;
    for (; i < k && this._records[slots[i]] <= records; i++) records -= this._records[slots[i]];
    return i;
  }

  /** The frames of `slots[0..k)` were handed on: their slots are free. */
  handedOn(slots: Int32Array, k: number): void {
    for (let i = 0; i < k; i++) {
      for (let s = slots[i]; s >= 0; s = this._next[s]) this._free[this._freeTop++] = s;
    }
    this.counters.delivered += k;
  }

  /** The frames of `slots[from..to)` were refused: back on the heap, keeping their place. */
  refused(slots: Int32Array, from: number, to: number): void {
    for (let i = from; i < to; i++) this._siftUp(this._heapSize++, slots[i]);
  }

  /** Releases every held frame to the zone. */
  releaseAll(): void {
    while (this._heapSize > 0) this._drop(this._pop());
    for (let i = 0; i < this._heldCount; i++) this._drop(this._held[i]);
    this._heldCount = 0;
  }

  private _drop(slot: number): void {
    for (let s = slot; s >= 0; s = this._next[s]) {
      this._zone.release(this._handle[s]);
      this._free[this._freeTop++] = s;
    }
    this.counters.releasedOnClose++;
  }

  /** Release time of a frame of `len` bytes entering at `now`: rate limit, delay, jitter; never before an earlier frame. */
  private _departure(len: number, now: number): number {
    let t = now;
    if (this._msPerByte > 0) {
      let start = now;
      if (this._freeAt > now) {
        start = this._freeAt;
        this.counters.throttled++;
      }
      this._freeAt = start + (len + this._overhead) * this._msPerByte;
      t = this._freeAt;
    }
    if (this._delayMs > 0 || this._jitterMs > 0) {
      t += this._delayMs;
      if (this._jitterMs > 0) t += this._rng.float() * this._jitterMs;
      this.counters.delayed++;
    }
    if (t < this._lastRelease) t = this._lastRelease;
    this._lastRelease = t;
    return t;
  }

  /** A frame released at `t` entered after the count-held frames: those it was the last for follow it. */
  private _passed(t: number): void {
    let j = 0;
    for (let i = 0; i < this._heldCount; i++) {
      const left = this._heldLeft[i] - 1;
      if (left === 0) {
        const d = this._heldDeadline[i];
        this._push(this._held[i], d < t ? d : t);
      } else {
        this._held[j] = this._held[i];
        this._heldLeft[j] = left;
        this._heldDeadline[j] = this._heldDeadline[i];
        j++;
      }
    }
    this._heldCount = j;
  }

  private _store(h: number, word1: number, word2: number, word3: number): number {
    const slot = this._free[--this._freeTop];
    this._handle[slot] = h;
    this._word1[slot] = word1;
    this._word2[slot] = word2;
    this._word3[slot] = word3;
    this._next[slot] = -1;
    this._records[slot] = 1;
    return slot;
  }

  private _push(slot: number, release: number): void {
    this._release[slot] = release;
    this._order[slot] = this._nextOrder++;
    this._siftUp(this._heapSize++, slot);
  }

  private _before(a: number, b: number): boolean {
    const ra = this._release[a];
    const rb = this._release[b];
    return ra < rb || (ra === rb && this._order[a] < this._order[b]);
  }

  private _siftUp(i: number, slot: number): void {
    const heap = this._heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = heap[p];
      if (this._before(ps, slot)) break;
      heap[i] = ps;
      i = p;
    }
    heap[i] = slot;
  }

  private _pop(): number {
    const heap = this._heap;
    const top = heap[0];
    const last = heap[--this._heapSize];
    const n = this._heapSize;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this._before(heap[child + 1], heap[child])) child++;
      if (this._before(last, heap[child])) break;
      heap[i] = heap[child];
      i = child;
    }
    if (n > 0) heap[i] = last;
    return top;
  }
}

/** A buffer of `zone`, or -1 when it has none left. */
function takeOrNone(zone: MemZone): number {
  try {
    return zone.take();
  } catch (e) {
    if (e instanceof PoolExhaustedError) return -1;
    throw e;
  }
}

/**
 * Sets CE in the IPv4 header of an ECN-capable frame (RFC 3168 5: ECT(0) or
 * ECT(1) becomes CE) and updates the header checksum (RFC 1624). Returns the
 * frame's handle — a private copy when someone else holds the buffer (a
 * retransmission queue) — or -1 when the frame is no ECN-capable IPv4, -2
 * when no buffer was free for the copy.
 */
function markCe(zone: MemZone, h: number, start: number, len: number): number {
  const b = zone.bytes;
  const f = h + start;
  if (len < ethernetHeaderLen + 20 || b[f + 12] !== 0x08 || b[f + 13] !== 0x00) return -1;
  const tos = b[f + ethernetHeaderLen + 1];
  if ((tos & 3) === 0 || (tos & 3) === 3) return -1;
  let own = h;
  if (zone.refcount(h) > 1) {
    own = takeOrNone(zone);
    if (own < 0) return -2;
    b.copyWithin(own + start, f, f + len);
    zone.release(h);
  }
  const ip = own + start + ethernetHeaderLen;
  b[ip + 1] = tos | 3;
  const ck = (b[ip + 10] << 8) | b[ip + 11];
  if (ck !== 0) {
    // HC' = ~(~HC + ~m + m') over the 16-bit word holding the TOS byte.
    const m = (b[ip] << 8) | tos;
    let sum = (~ck & 0xffff) + (~m & 0xffff) + ((b[ip] << 8) | (tos | 3));
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    const v = ~sum & 0xffff;
    b[ip + 10] = v >>> 8;
    b[ip + 11] = v & 0xff;
  }
  return own;
}
