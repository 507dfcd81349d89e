/**
 * The in-memory link: two {@link Device} endpoints joined by an ideal wire
 * that runs on virtual time. Nothing here reads a clock: `now` (milliseconds)
 * comes in through rx/tx/pollAt, a frame sent at `now` becomes receivable at
 * the far end at its arrival time, and `pollAt` says when that is.
 *
 * Per direction the wire has a propagation delay, an optional bandwidth limit
 * (each frame takes `(len + overheadBytes) * 8 / bps` seconds to serialize,
 * one after another) and a queue limit. Faults (loss, duplication, ...) are
 * not the link's business: wrap an endpoint in a FaultInjector.
 *
 * Buffers: a frame whose buffer the sender owns outright (reference count 1)
 * moves to the receiver as the same handle when both endpoints use one zone.
 * Otherwise (two zones: two hosts; or the sender kept a reference, say for a
 * retransmission) the receiver gets a copy in a fresh buffer of its own zone,
 * taken when the frame is received, and the sender's reference is released
 * then, as a NIC releases a transmitted buffer once it is done with it.
 *
 * Queue limit: a direction holds at most `queueLimit` records that were sent
 * and not yet received by the far end (on the wire, or arrived and waiting).
 * A frame sent to a full direction is tail-dropped, as a router queue drops:
 * tx still takes it (its buffer is released) and `droppedQueueFull` counts it.
 * tx never pushes back.
 *
 * Frame chains (`frameChains`): a frame longer than one buffer, up to the
 * MTU, goes as a chain of records (TxFlag.more) and arrives as one
 * (RxFlag.more), whole within one rx burst, as memif carries them at a
 * loopback-class MTU. A chain with a segmentation request whose payload
 * fits the MSS it gives goes whole, its checksums filled, as DPDK's shim
 * sends it; a copy into the receiver's zone fills as many buffers as the
 * frame needs. The receiving end verifies a chain's IPv4 and TCP checksums
 * and gives its verdict (RxFlag), since the stack does not sum a chain.
 *
 * @example
 * ```ts
 * import { createHeapZone } from "../../mem/heap.ts";
 * import { createMemoryLink } from "./link.ts";
 * const zone = createHeapZone({ count: 256 });
 * const [a, b] = createMemoryLink({ zone, delayMs: 5, bandwidthBps: 1e9 });
 * const descs = new Uint32Array(4 * 32);
 * // ... fill descs, then
 * a.tx(descs, 1, 0);
 * b.pollAt(0); // when the frame arrives
 * b.rx(descs, 32, 5.1);
 * ```
 *
 * @module
 */
import { BufferError, ConfigError, PoolExhaustedError } from "../../errors.ts";
import type { MemZone } from "../../mem/zone.ts";
import { copyBytes } from "../../util/bytes.ts";
import { DESC_WORDS, type Device, type DeviceOffloads, RxFlag } from "../device.ts";
import { chainRecords, chainVerdict, fillChainChecksums, isChain, TcpSegmenter } from "../segment.ts";

/** Properties of one direction of the link. */
export interface LinkDirectionOptions {
  /** Propagation delay, ms; default 0. */
  delayMs?: number;
  /** Bandwidth, bits per second; 0 (default) is unlimited. */
  bandwidthBps?: number;
  /** Bytes counted per frame on top of its length when serializing (24 models preamble, FCS and gap); default 0. */
  overheadBytes?: number;
  /** Frames sent and not yet received that the direction holds at most; default 1024. */
  queueLimit?: number;
}

/** Options of {@link createMemoryLink}; the direction fields apply to both directions unless `aToB`/`bToA` override them. */
export interface MemoryLinkOptions extends LinkDirectionOptions {
  /** Zone of endpoint a, and of b unless `zoneB` is given. */
  zone: MemZone;
  /** Zone of endpoint b, when it is another host's. */
  zoneB?: MemZone;
  /** Names of the endpoints; default `["mem-a", "mem-b"]`. */
  names?: readonly [string, string];
  /** MAC address of a (6 bytes or `02:00:00:00:00:01`); default 02:00:00:00:00:01. */
  macA?: Uint8Array | string;
  /** MAC address of b; default 02:00:00:00:00:02. */
  macB?: Uint8Array | string;
  /** Largest IP packet, bytes; frames longer than mtu + 14 are dropped. Default 1500. */
  mtu?: number;
  /**
   * Frames longer than one buffer go and come as chains of records
   * (DeviceOffloads.frameChains; see the module documentation). Default off:
   * a frame is one buffer, and one longer than the receiver's is dropped.
   */
  frameChains?: boolean;
  /** Overrides for the direction from a to b. */
  aToB?: LinkDirectionOptions;
  /** Overrides for the direction from b to a. */
  bToA?: LinkDirectionOptions;
  /**
   * Emulates segmentation offload: each endpoint takes large TCP segments
   * of up to this many payload bytes (chains of records, see
   * DeviceOffloads.txSegmentMax) and cuts them into frames of the MSS asked,
   * with their checksums, as a NIC's TSO would. 0 (default): none.
   */
  segmentation?: number;
}

/** Counters of one direction of the link; the sender's `txCounters` and the receiver's `rxCounters` are this one object. */
export class LinkCounters {
  /** Frames tx took, dropped ones included. */
  sentFrames = 0;
  /** Bytes of those frames. */
  sentBytes = 0;
  /** Frames the far end received. */
  deliveredFrames = 0;
  /** Bytes of those frames. */
  deliveredBytes = 0;
  /** Of the delivered frames, how many were copied into a fresh buffer (the rest moved). */
  copiedFrames = 0;
  /** Frames tail-dropped because the direction held `queueLimit` frames. */
  droppedQueueFull = 0;
  /** Frames dropped for being longer than mtu + 14 or (without frame chains) than the receiver's data room. */
  droppedOversize = 0;
  /** Frames dropped because the receiver's zone had no buffer to copy them into. */
  droppedNoBuffer = 0;
  /** Frames dropped because the receiving endpoint was closed. */
  droppedClosed = 0;
}

const ethernetHeaderLen = 14;

/** One direction: a FIFO ring of records with their frames' arrival times. */
class Wire {
  readonly counters = new LinkCounters();
  private readonly _src: MemZone;
  private readonly _dst: MemZone;
  private readonly _handles: Uint32Array;
  private readonly _words: Uint32Array; // dataOff | len << 16
  private readonly _arrival: Float64Array;
  private readonly _more: Uint8Array; // 1: the next record continues the frame
  private readonly _chains: boolean;
  private readonly _cap: number;
  private readonly _delayMs: number;
  private readonly _msPerByte: number; // 0: unlimited
  private readonly _overhead: number;
  private readonly _maxFrame: number;
  private _head = 0;
  private _count = 0;
  private _freeAt = 0; // when the serializer is next idle
  private _lastArrival = 0;
  private _closed = false;

  constructor(
    src: MemZone,
    dst: MemZone,
    o: Required<LinkDirectionOptions>,
    maxFrame: number,
    chains: boolean,
  ) {
    this._src = src;
    this._dst = dst;
    this._cap = o.queueLimit;
    this._handles = new Uint32Array(o.queueLimit);
    this._words = new Uint32Array(o.queueLimit);
    this._arrival = new Float64Array(o.queueLimit);
    this._more = new Uint8Array(o.queueLimit);
    this._chains = chains;
    this._delayMs = o.delayMs;
    this._msPerByte = o.bandwidthBps > 0 ? 8000 / o.bandwidthBps : 0;
    this._overhead = o.overheadBytes;
    this._maxFrame = maxFrame;
  }

  /**
   * Takes the frames of records `descs[0..n)` sent at `now`; returns the
   * records taken: all but a chain that does not end by `n`.
   */
  push(descs: Uint32Array, n: number, now: number): number {
    const c = this.counters;
    const src = this._src;
    let k = 0;
    while (k < n) {
      const records = this._chains ? chainRecords(descs, k, n) : 1;
      if (records === 0) break;
      let len = 0;
      for (let r = k; r < k + records; r++) {
        const h = descs[r * DESC_WORDS];
        if (src.refcount(h) === 0) {
          throw new BufferError(`${src.name}: record ${r} of the burst sends released buffer ${h}`);
        }
        len += descs[r * DESC_WORDS + 1] >>> 16;
      }
      c.sentFrames++;
      c.sentBytes += len;
      const drop = this._closed ? 1 : len > this._maxFrame ? 2 : this._count + records > this._cap ? 3 : 0;
      if (drop !== 0) {
        for (let r = k; r < k + records; r++) src.release(descs[r * DESC_WORDS]);
        if (drop === 1) c.droppedClosed++;
        else if (drop === 2) c.droppedOversize++;
        else c.droppedQueueFull++;
        k += records;
        continue;
      }
      if (this._chains) fillChainChecksums(src, descs, k, records);
      let t = now;
      if (this._msPerByte > 0) {
        const start = this._freeAt > now ? this._freeAt : now;
        this._freeAt = start + (len + this._overhead) * this._msPerByte;
        t = this._freeAt;
      }
      t += this._delayMs;
      if (t < this._lastArrival) t = this._lastArrival; // a clock that steps back must not reorder
      this._lastArrival = t;
      for (let r = 0; r < records; r++, k++) {
        let tail = this._head + this._count;
        if (tail >= this._cap) tail -= this._cap;
        this._handles[tail] = descs[k * DESC_WORDS];
        this._words[tail] = descs[k * DESC_WORDS + 1];
        this._arrival[tail] = t;
        this._more[tail] = r + 1 < records ? 1 : 0;
        this._count++;
      }
    }
    return k;
  }

  /**
   * Moves the frames that have arrived by `now` into `descs`, as many as fit
   * in `max` records (a chain whole or not at all); returns the records.
   */
  pull(descs: Uint32Array, max: number, now: number): number {
    const c = this.counters;
    const src = this._src;
    const dst = this._dst;
    const cap = this._cap;
    let n = 0;
    while (n < max && this._count > 0) {
      const i = this._head;
      if (this._arrival[i] > now) break;
      let records = 1;
      let len = this._words[i] >>> 16;
      let own = src.refcount(this._handles[i]) === 1;
      for (let j = i; this._more[j] === 1; records++) {
        j = j + 1 === cap ? 0 : j + 1;
        len += this._words[j] >>> 16;
        if (src.refcount(this._handles[j]) !== 1) own = false;
      }
      const move = src === dst && own;
      const room = dst.dataRoomSize - dst.headroom;
      const out = move ? records : len <= dst.dataRoomSize ? 1 : this._chains ? Math.ceil(len / room) : 0;
      if (out === 0) {
        // Longer than the receiver's buffers, which it does not chain.
        this._head = i + 1 === cap ? 0 : i + 1;
        this._count--;
        src.release(this._handles[i]);
        c.droppedOversize++;
        continue;
      }
      if (n + out > max) break; // the next burst takes it (the loop's bursts hold a frame of the MTU)
      this._head = (i + records) % cap;
      this._count -= records;
      if (move) {
        for (let r = 0, j = i; r < records; r++, j = j + 1 === cap ? 0 : j + 1) {
          const at = (n + r) * DESC_WORDS;
          descs[at] = this._handles[j];
          descs[at + 1] = this._words[j];
          descs[at + 2] = r + 1 < records ? RxFlag.more : 0;
          descs[at + 3] = 0;
        }
      } else if (!this._copy(i, len, out, descs, n)) {
        for (let r = 0, j = i; r < records; r++, j = j + 1 === cap ? 0 : j + 1) src.release(this._handles[j]);
        c.droppedNoBuffer++;
        continue;
      } else {
        c.copiedFrames++;
        for (let r = 0, j = i; r < records; r++, j = j + 1 === cap ? 0 : j + 1) src.release(this._handles[j]);
      }
      // A chain is not summed in place by the stack: the receiving end gives its verdict, as memif's does.
      if (out > 1) descs[n * DESC_WORDS + 2] |= chainVerdict(dst, descs, n, out);
      c.deliveredFrames++;
      c.deliveredBytes += len;
      n += out;
    }
    return n;
  }

  /**
   * Copies the frame from ring slot `i` on (`len` bytes, its records linked
   * by the ring's `more` marks) into `out` fresh buffers of the receiver's zone, written to `descs` from
   * record `at`. False when the zone had too few buffers (none is kept).
   */
  private _copy(i: number, len: number, out: number, descs: Uint32Array, at: number): boolean {
    const src = this._src;
    const dst = this._dst;
    for (let r = 0; r < out; r++) {
      const h = takeOrNone(dst);
      if (h < 0) {
        for (let q = 0; q < r; q++) dst.release(descs[(at + q) * DESC_WORDS]);
        return false;
      }
      descs[(at + r) * DESC_WORDS] = h;
    }
    // One buffer: at the headroom, or as far in as the frame fits. Several: each filled from the headroom.
    let dataOff = dst.headroom;
    if (out === 1 && dataOff + len > dst.dataRoomSize) dataOff = dst.dataRoomSize - len;
    const room = dst.dataRoomSize - dataOff;
    let j = i;
    let pos = 0; // bytes of slot j's record copied
    for (let r = 0, left = len; r < out; r++) {
      const d = (at + r) * DESC_WORDS;
      const take = left < room ? left : room;
      let o = dst.dataStart(descs[d]) + dataOff;
      for (let m = take; m > 0;) {
        const w = this._words[j];
        const rlen = w >>> 16;
        if (pos === rlen) {
          j = j + 1 === this._cap ? 0 : j + 1;
          pos = 0;
          continue;
        }
        const piece = m < rlen - pos ? m : rlen - pos;
        const h = this._handles[j];
        copyBytes(
          dst.bytes,
          dst.view,
          o,
          src.bytes,
          src.view,
          h + src.dataRoomOffset + (w & 0xffff) + pos,
          piece,
        );
        o += piece;
        pos += piece;
        m -= piece;
      }
      descs[d + 1] = dataOff | (take << 16);
      descs[d + 2] = r + 1 < out ? RxFlag.more : 0;
      descs[d + 3] = 0;
      left -= take;
    }
    return true;
  }

  /** Arrival time of the next frame; Infinity if none. */
  nextArrival(): number {
    return this._count > 0 ? this._arrival[this._head] : Infinity;
  }

  /** Frames in the direction now. */
  get pending(): number {
    return this._count;
  }

  /** The receiver is gone: release what waits for it and drop what comes later. */
  close(): void {
    this._closed = true;
    while (this._count > 0) {
      this._src.release(this._handles[this._head]);
      this._head = this._head + 1 === this._cap ? 0 : this._head + 1;
      this._count--;
      this.counters.droppedClosed++;
    }
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

const noOffloads: DeviceOffloads = Object.freeze({ rxChecksum: false, txChecksum: false, txSegmentMax: 0 });

/** One end of a memory link; see the module documentation. */
export class MemoryEndpoint implements Device {
  readonly name: string;
  readonly zone: MemZone;
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly offloads: DeviceOffloads;
  /** Counters of the direction this endpoint sends on. */
  readonly txCounters: LinkCounters;
  /** Counters of the direction this endpoint receives from. */
  readonly rxCounters: LinkCounters;
  private readonly _out: Wire;
  private readonly _in: Wire;
  private readonly _segmenter: TcpSegmenter | undefined;
  private readonly _chains: boolean;
  private _segOut = new Uint32Array(0);
  private _closed = false;

  /** Use {@link createMemoryLink}. */
  constructor(
    name: string,
    zone: MemZone,
    mac: Uint8Array,
    mtu: number,
    out: Wire,
    inbound: Wire,
    segmentation = 0,
    frameChains = false,
  ) {
    this.name = name;
    this.offloads = segmentation > 0 || frameChains
      ? Object.freeze({ rxChecksum: false, txChecksum: false, txSegmentMax: segmentation, frameChains })
      : noOffloads;
    this._chains = frameChains;
    this._segmenter = segmentation > 0 ? new TcpSegmenter(zone) : undefined;
    this.zone = zone;
    this.mac = mac;
    this.mtu = mtu;
    this._out = out;
    this._in = inbound;
    this.txCounters = out.counters;
    this.rxCounters = inbound.counters;
  }

  /** Receives frames that have arrived by `now`; none once closed. */
  rx(descs: Uint32Array, max: number, now: number): number {
    checkBurst("rx", descs, max);
    if (this._closed) return 0;
    return this._in.pull(descs, max, now);
  }

  /**
   * Sends every frame (tail-dropping those a full queue cannot hold); takes
   * none once closed. With segmentation, chains are cut into frames first,
   * but for those that go whole as chains (frameChains: no cut asked, or
   * their payload fits the MSS). A chain that does not end by `n` stays the
   * caller's.
   */
  tx(descs: Uint32Array, n: number, now: number): number {
    checkBurst("tx", descs, n);
    if (this._closed) return 0;
    const seg = this._segmenter;
    let chains = false;
    if (seg !== undefined) { for (let k = 0; k < n && !chains; k++) chains = isChain(descs, k); }
    if (!chains) return this._out.push(descs, n, now);
    let k = 0;
    let m = 0;
    while (k < n) {
      const need = isChain(descs, k) ? seg!.frames(descs, k, n) : 1;
      if (need === 0) break; // a chain that ends in a later burst
      this._segRoom(m, need);
      if (need === 1 && !isChain(descs, k)) {
        this._segOut.set(descs.subarray(k * DESC_WORDS, (k + 1) * DESC_WORDS), m * DESC_WORDS);
        m++;
        k++;
      } else if (need === 1 && this._chains) {
        const r = seg!.records;
        this._segRoom(m, r);
        this._segOut.set(descs.subarray(k * DESC_WORDS, (k + r) * DESC_WORDS), m * DESC_WORDS);
        m += r;
        k += r;
      } else {
        m += seg!.cut(descs, k, n, this._segOut, m);
        k += seg!.records;
      }
    }
    this._out.push(this._segOut, m, now);
    return k;
  }

  /** Grows the segmentation output, keeping its first `m` records, to hold `more` after them. */
  private _segRoom(m: number, more: number): void {
    if ((m + more) * DESC_WORDS <= this._segOut.length) return;
    const grown = new Uint32Array(
      Math.max(2 * this._segOut.length, (m + more) * DESC_WORDS, 256 * DESC_WORDS),
    );
    grown.set(this._segOut.subarray(0, m * DESC_WORDS));
    this._segOut = grown;
  }

  /** Packets this endpoint cut into frames (segmentation), and the frames they became. */
  get segmentation(): { packets: number; segments: number } {
    return { packets: this._segmenter?.packets ?? 0, segments: this._segmenter?.segments ?? 0 };
  }

  /** Arrival time of the next frame for this endpoint (possibly already past); Infinity if none. */
  pollAt(_now: number): number {
    return this._closed ? Infinity : this._in.nextArrival();
  }

  /** Frames sent to this endpoint and not yet received. */
  pending(): number {
    return this._in.pending;
  }

  /**
   * Releases the frames waiting for this endpoint; frames sent to it later
   * are dropped. Frames it sent earlier still reach the other end.
   */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._in.close();
  }
}

function checkBurst(op: string, descs: Uint32Array, n: number): void {
  if (!(n >= 0) || n * DESC_WORDS > descs.length) {
    throw new RangeError(`${op}: ${n} records asked, room for ${Math.floor(descs.length / DESC_WORDS)}`);
  }
}

/**
 * Creates a link and returns its two endpoints `[a, b]`.
 *
 * @example
 * ```ts
 * import { createHeapZone } from "../../mem/heap.ts";
 * const [a, b] = createMemoryLink({ zone: createHeapZone({ count: 64 }), aToB: { delayMs: 10 } });
 * ```
 */
export function createMemoryLink(options: MemoryLinkOptions): [MemoryEndpoint, MemoryEndpoint] {
  const zoneA = options.zone;
  const zoneB = options.zoneB ?? zoneA;
  const mtu = options.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535 - ethernetHeaderLen) {
    throw new ConfigError("mtu", `expected an integer 68..${65535 - ethernetHeaderLen}, got ${mtu}`);
  }
  const [nameA, nameB] = options.names ?? ["mem-a", "mem-b"];
  const macA = macBytes("macA", options.macA ?? "02:00:00:00:00:01");
  const macB = macBytes("macB", options.macB ?? "02:00:00:00:00:02");
  const ab = direction("aToB", options, options.aToB);
  const ba = direction("bToA", options, options.bToA);
  const maxFrame = mtu + ethernetHeaderLen;
  const segmentation = options.segmentation ?? 0;
  if (!Number.isInteger(segmentation) || segmentation < 0 || segmentation > 65535) {
    throw new ConfigError("segmentation", `expected an integer 0..65535 (0: none), got ${segmentation}`);
  }
  const chains = options.frameChains ?? false;
  const wireAB = new Wire(zoneA, zoneB, ab, maxFrame, chains);
  const wireBA = new Wire(zoneB, zoneA, ba, maxFrame, chains);
  return [
    new MemoryEndpoint(nameA, zoneA, macA, mtu, wireAB, wireBA, segmentation, chains),
    new MemoryEndpoint(nameB, zoneB, macB, mtu, wireBA, wireAB, segmentation, chains),
  ];
}

function direction(
  field: string,
  base: LinkDirectionOptions,
  over: LinkDirectionOptions | undefined,
): Required<LinkDirectionOptions> {
  const o = {
    delayMs: over?.delayMs ?? base.delayMs ?? 0,
    bandwidthBps: over?.bandwidthBps ?? base.bandwidthBps ?? 0,
    overheadBytes: over?.overheadBytes ?? base.overheadBytes ?? 0,
    queueLimit: over?.queueLimit ?? base.queueLimit ?? 1024,
  };
  if (!(o.delayMs >= 0 && o.delayMs < Infinity)) {
    throw new ConfigError(`${field}.delayMs`, `expected a finite number >= 0, got ${o.delayMs}`);
  }
  if (!(o.bandwidthBps >= 0 && o.bandwidthBps < Infinity)) {
    throw new ConfigError(
      `${field}.bandwidthBps`,
      `expected a finite number >= 0 (0: unlimited), got ${o.bandwidthBps}`,
    );
  }
  if (!Number.isInteger(o.overheadBytes) || o.overheadBytes < 0) {
    throw new ConfigError(`${field}.overheadBytes`, `expected an integer >= 0, got ${o.overheadBytes}`);
  }
  if (!Number.isInteger(o.queueLimit) || o.queueLimit < 1 || o.queueLimit > 1 << 20) {
    throw new ConfigError(`${field}.queueLimit`, `expected an integer 1..${1 << 20}, got ${o.queueLimit}`);
  }
  return o;
}

const macPattern = /^([0-9a-f]{2})([:-][0-9a-f]{2}){5}$/i;

function macBytes(field: string, mac: Uint8Array | string): Uint8Array {
  if (typeof mac !== "string") {
    if (mac.length !== 6) throw new ConfigError(field, `expected 6 bytes, got ${mac.length}`);
    return Uint8Array.from(mac);
  }
  if (!macPattern.test(mac)) {
    throw new ConfigError(field, `'${mac}' is not a MAC address (expected six hex bytes: 02:00:00:00:00:01)`);
  }
  return Uint8Array.from(mac.split(/[:-]/), (x) => parseInt(x, 16));
}
