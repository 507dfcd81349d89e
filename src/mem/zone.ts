/**
 * The mem zone: one region of packet buffers shared by the device, the stack
 * and the application. A buffer is an integer handle (its byte offset in the
 * zone); its bytes are read and written in place through {@link MemZone.bytes}
 * and {@link MemZone.view}. Taking and releasing buffers works "just like heap"
 * and, in steady state, never leaves TypeScript: released buffers go to a
 * local cache that later takes are served from.
 *
 * Ownership rule: a zone is used by one thread. Reference counts are kept in
 * place in each buffer's header and updated without atomics, which is sound
 * because a shared-nothing worker is the only user of its zone (a NIC that
 * still holds a buffer releases it on the same thread, in a later tx burst).
 *
 * @module
 */
import { BufferError, PoolExhaustedError } from "../errors.ts";
import { copyRange } from "../util/bytes.ts";

/** Where buffers come from when the local cache is empty, and go when it is full. */
export interface ZoneBackend {
  /** Fills `out[0..n)` with fresh buffers (reference count 1); false, taking none, if it cannot. */
  takeBulk(out: Uint32Array, n: number): boolean;
  /** Takes back buffers whose last reference was dropped (their count is 1 again). */
  giveBulk(handles: Uint32Array, n: number): void;
  /** Buffers the backend holds free now. */
  available(): number;
  /**
   * Copies `src` from `srcOff` on into buffers, as {@link MemZone.copyIn}
   * does, in one native call; a backend without it is copied to in
   * TypeScript, a range at a time.
   */
  copyIn?(src: Uint8Array, srcOff: number, dst: Uint32Array, n: number): void;
}

/** Shape of a zone's buffers, as its backend lays them out. */
export interface ZoneLayout {
  /** Name, for messages. */
  name: string;
  /** The whole zone. */
  buffer: ArrayBuffer;
  /** Number of buffers. */
  capacity: number;
  /** From a handle to the first byte of its data room. */
  dataRoomOffset: number;
  /** Bytes of data room per buffer. */
  dataRoomSize: number;
  /** Default data offset of a fresh buffer: room left for headers to be prepended. */
  headroom: number;
  /** Offset of the buffer's uint16 reference count from its handle (even). */
  refcntOffset: number;
  /** Buffers kept in the local cache at most; default 512. */
  cacheSize?: number;
  /**
   * The backend's marks of payload summed as it was copied in (one byte per
   * 64 bytes of the zone, at handle >> 6, at least that many): a buffer
   * handed out is unmarked, for whoever writes into it next. Absent: none.
   */
  sumMarks?: Uint8Array;
}

/** How a zone's buffers are accounted, as tests and stats read it. */
export interface ZoneAccounting {
  /** Buffers in the zone. */
  capacity: number;
  /** Buffers not held by anyone: in the backend or in the local cache. */
  free: number;
  /** Buffers held by the device, the stack or the application. */
  inUse: number;
  /** Of the free buffers, how many sit in the local cache. */
  cached: number;
}

const refillBatch = 64;

/** A zone of packet buffers; see the module documentation. */
export class MemZone {
  /** Name, for messages. */
  readonly name: string;
  /** The zone's bytes, mapped once. */
  readonly buffer: ArrayBuffer;
  /** Byte view over the whole zone. */
  readonly bytes: Uint8Array;
  /** DataView over the whole zone, for header fields. */
  readonly view: DataView;
  /** Number of buffers. */
  readonly capacity: number;
  /** From a handle to the first byte of its data room. */
  readonly dataRoomOffset: number;
  /** Bytes of data room per buffer. */
  readonly dataRoomSize: number;
  /** Default data offset of a fresh buffer. */
  readonly headroom: number;

  private readonly _backend: ZoneBackend;
  private readonly _refs: Uint16Array;
  private readonly _refHalf: number;
  /** See {@link ZoneLayout.sumMarks}: one of this zone's own where the backend keeps none. */
  private readonly _marks: Uint8Array;
  /** One past the largest valid handle (read once: an ArrayBuffer's length is dear to ask on every call). */
  private readonly _handleEnd: number;
  private readonly _cache: Uint32Array;
  /** What {@link _spill} gives back, copied out of the cache (no view made). */
  private readonly _spilled: Uint32Array;
  private _cached = 0;
  private _closed = false;
  /** The backend's free buffers as last counted for {@link freeCountThisPoll}; -1: count afresh. */
  private _backendFree = -1;

  /** A zone over `backend`'s buffers, laid out as `layout` says. */
  constructor(layout: ZoneLayout, backend: ZoneBackend) {
    if (layout.refcntOffset % 2 !== 0) throw new RangeError("refcntOffset must be even");
    this.name = layout.name;
    this.buffer = layout.buffer;
    this.bytes = new Uint8Array(layout.buffer);
    this.view = new DataView(layout.buffer);
    this.capacity = layout.capacity;
    this.dataRoomOffset = layout.dataRoomOffset;
    this.dataRoomSize = layout.dataRoomSize;
    this.headroom = layout.headroom;
    this._backend = backend;
    this._refs = new Uint16Array(layout.buffer, 0, layout.buffer.byteLength >>> 1);
    this._refHalf = layout.refcntOffset >>> 1;
    const marksLen = Math.floor(layout.buffer.byteLength / 64) + 1;
    if (layout.sumMarks !== undefined && layout.sumMarks.length < marksLen) {
      throw new RangeError(
        `${layout.name}: ${layout.sumMarks.length} sum marks for ${marksLen} 64-byte lines`,
      );
    }
    this._marks = layout.sumMarks ?? new Uint8Array(marksLen);
    this._handleEnd = layout.buffer.byteLength - layout.dataRoomOffset + 1;
    this._cache = new Uint32Array(Math.max(refillBatch * 2, layout.cacheSize ?? 512));
    this._spilled = new Uint32Array(this._cache.length);
  }

  /** Takes one buffer, with reference count 1. Throws {@link PoolExhaustedError} if none is left. */
  take(): number {
    if (this._cached === 0) this._refill(1);
    const h = this._cache[--this._cached];
    this._refs[(h >>> 1) + this._refHalf] = 1;
    this._marks[h >>> 6] = 0;
    return h;
  }

  /** Takes one buffer like {@link take}, or returns -1 when none is left (for paths that must not throw). */
  tryTake(): number {
    if (this._cached === 0) {
      if (this._closed) throw this._closedError();
      this._backendFree = -1;
      const dst = this._cache;
      if (this._backend.takeBulk(dst, refillBatch)) this._admit(refillBatch);
      else if (this._backend.takeBulk(dst, 1)) this._admit(1);
      else return -1;
    }
    const h = this._cache[--this._cached];
    this._refs[(h >>> 1) + this._refHalf] = 1;
    this._marks[h >>> 6] = 0;
    return h;
  }

  /** Takes `n` buffers into `out[0..n)`: all of them, or none and a {@link PoolExhaustedError}. */
  takeBulk(out: Uint32Array, n: number): void {
    if (n > out.length) throw new RangeError(`takeBulk: ${n} buffers asked, room for ${out.length}`);
    if (this._cached < n) this._refill(n);
    for (let i = 0; i < n; i++) {
      const h = this._cache[--this._cached];
      this._refs[(h >>> 1) + this._refHalf] = 1;
      this._marks[h >>> 6] = 0;
      out[i] = h;
    }
  }

  /** Adds a reference: the buffer survives one more {@link release}. */
  retain(h: number): void {
    const i = this._refIndex(h);
    const r = this._refs[i];
    if (r === 0) throw new BufferError(`${this.name}: buffer ${h} retained after its release`);
    if (r === 0xffff) throw new BufferError(`${this.name}: buffer ${h} has too many references`);
    this._refs[i] = r + 1;
  }

  /** Drops a reference; the last one returns the buffer to the zone. */
  release(h: number): void {
    if (this._closed) throw this._closedError();
    const i = this._refIndex(h);
    const r = this._refs[i];
    if (r > 1) {
      this._refs[i] = r - 1;
      return;
    }
    if (r === 0) throw new BufferError(`${this.name}: buffer ${h} released twice`);
    this._refs[i] = 0;
    if (this._cached === this._cache.length) this._spill(this._cache.length >>> 1);
    this._cache[this._cached++] = h;
  }

  /** Releases `handles[0..n)`. */
  releaseBulk(handles: Uint32Array, n: number): void {
    for (let i = 0; i < n; i++) this.release(handles[i]);
  }

  /** References the buffer has now (0: free). */
  refcount(h: number): number {
    return this._refs[this._refIndex(h)];
  }

  /** First byte of the buffer's data room, as an offset into {@link bytes}. */
  dataStart(h: number): number {
    return h + this.dataRoomOffset;
  }

  /** A view of `len` bytes of the buffer starting `dataOff` into its data room; no copy. */
  data(h: number, dataOff: number, len: number): Uint8Array {
    if (dataOff < 0 || len < 0 || dataOff + len > this.dataRoomSize) {
      throw new RangeError(
        `${this.name}: bytes ${dataOff}..${dataOff + len} outside the ${this.dataRoomSize}-byte data room`,
      );
    }
    return this.bytes.subarray(h + this.dataRoomOffset + dataOff, h + this.dataRoomOffset + dataOff + len);
  }

  /**
   * Copies bytes of `src`, from `srcOff` on, into the zone: `n` records of
   * three words in `dst` (buffer handle, offset in {@link bytes}, length),
   * each range within its buffer's data room, filled in order. What a write
   * that fills dozens of buffers copies: one native call where the backend
   * has one (no view made per buffer).
   */
  copyIn(src: Uint8Array, srcOff: number, dst: Uint32Array, n: number): void {
    if (this._backend.copyIn !== undefined) {
      this._backend.copyIn(src, srcOff, dst, n);
      return;
    }
    for (let i = 0; i < n; i++) {
      const off = dst[3 * i + 1];
      const len = dst[3 * i + 2];
      copyRange(this.bytes, off, src, srcOff, len);
      srcOff += len;
    }
  }

  /** Returns every cached buffer to the backend. */
  flush(): void {
    this._spill(this._cached);
  }

  /**
   * Closes the zone with its backend: every later call throws instead of
   * touching memory that may be gone. Views taken of {@link bytes} before
   * must not be used after it.
   */
  close(): void {
    if (this._closed) return;
    this.flush();
    this._closed = true;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this._closed;
  }

  /** Buffers not held by anyone, counted now (what {@link accounting} says as `free`, without an object). */
  freeCount(): number {
    if (this._closed) throw this._closedError();
    return this._backend.available() + this._cached;
  }

  /**
   * {@link freeCount} with the backend counted once per loop iteration: the
   * device's bursts take and free buffers outside TypeScript, and the loop
   * says when one may have ({@link newPoll}); in between, the backend changes
   * only through this zone's own refills and spills, which say so too. The
   * local cache is read live. Counting a DPDK pool is a native call that
   * reads the pool's ring and per-core caches: an application that asks
   * before every answer (apps/app.ts ZoneBudget) asks this instead. Another
   * thread taking from the same pool (workers) is seen at the next iteration.
   */
  freeCountThisPoll(): number {
    if (this._closed) throw this._closedError();
    let b = this._backendFree;
    if (b < 0) b = this._backendFree = this._backend.available();
    return b + this._cached;
  }

  /**
   * A loop iteration begins, or something else may have moved buffers outside this zone: the
   * next {@link freeCountThisPoll} counts the backend afresh.
   */
  newPoll(): void {
    this._backendFree = -1;
  }

  /** Buffers free and in use, counted now. */
  accounting(): ZoneAccounting {
    const free = this.freeCount();
    return { capacity: this.capacity, free, inUse: this.capacity - free, cached: this._cached };
  }

  /** Index of handle `h` in the reference counts. */
  private _refIndex(h: number): number {
    if (!(h >= 0 && h < this._handleEnd) || (h & 63) !== 0) {
      throw new BufferError(`${this.name}: ${h} is not a buffer handle of this zone`);
    }
    return (h >>> 1) + this._refHalf;
  }

  /** The error every call after close throws. */
  private _closedError(): BufferError {
    return new BufferError(`${this.name}: the zone is closed`);
  }

  /**
   * Takes at least `need` buffers from the backend into the local cache. The
   * backend fills the cache's first entries (the cached ones move up first):
   * no view of the cache is made, so refilling allocates nothing.
   */
  private _refill(need: number): void {
    if (this._closed) throw this._closedError();
    this._backendFree = -1;
    const c = this._cache;
    const cached = this._cached;
    const want = Math.min(c.length - cached, Math.max(need - cached, refillBatch));
    if (cached > 0) c.copyWithin(want, 0, cached);
    if (this._backend.takeBulk(c, want)) {
      this._admit(want);
      return;
    }
    const short = need - cached;
    if (short > 0 && short < want) {
      if (cached > 0) c.copyWithin(short, want, want + cached);
      if (this._backend.takeBulk(c, short)) {
        this._admit(short);
        return;
      }
      if (cached > 0) c.copyWithin(0, short, short + cached);
    } else if (cached > 0) c.copyWithin(0, want, want + cached);
    throw new PoolExhaustedError(this.name, this.capacity, need);
  }

  /** The cache's first `n` entries came from the backend: free, count 0, so a stray release of one is caught. */
  private _admit(n: number): void {
    const c = this._cache;
    for (let i = 0; i < n; i++) this._refs[(c[i] >>> 1) + this._refHalf] = 0;
    this._cached += n;
  }

  /**
   * Gives `n` buffers of the local cache back to the backend: the last `n`,
   * the most recently released. Their headers are still in the CPU's cache
   * for the backend's free, which touches each; and a DPDK pool hands its
   * newest buffers out first, to the next receive burst, whose copy then
   * writes into memory still cached. (A receiver releases far more than it
   * takes: its spills are most of what its buffers do after being read.)
   */
  private _spill(n: number): void {
    if (n === 0) return;
    const c = this._cache;
    const out = this._spilled;
    const from = this._cached - n;
    for (let i = 0; i < n; i++) {
      const h = c[from + i];
      this._refs[(h >>> 1) + this._refHalf] = 1;
      out[i] = h;
    }
    this._backendFree = -1;
    this._backend.giveBulk(out, n);
    this._cached = from;
  }
}
