/**
 * A fault injector: a {@link Device} that wraps any device and makes its link
 * worse, deterministically from a seed (after smoltcp's
 * `src/phy/fault_injector.rs`). Received and sent frames each have their own
 * faults and their own random stream, so traffic one way never changes the
 * faults the other way: the same seed and the same calls give the same
 * frames, byte for byte.
 *
 * Per frame, in this order: loss; duplication (the copy is taken now, in a
 * fresh buffer, before any corruption, and follows the original); corruption
 * (one bit flipped in a byte past the 14-byte Ethernet header, so the frame
 * still reaches the stack and the IPv4 or TCP/UDP checksum has to catch it;
 * a received frame loses its "checksum good" flags); the frame's release
 * time (rate limit, then delay plus jitter; frames keep their order); and
 * reordering (the frame is held back by `reorderMs`, or until `reorderFrames`
 * later frames have come, and at most `reorderMs` if that is given too;
 * frames held back by count count as coming for those held before them, so
 * at probability 1 every frame is late by that many frames, in order).
 *
 * Time is virtual: held received frames are handed out by a later `rx` at or
 * after their time, and held sent frames go to the wrapped device from the
 * first `rx` or `tx` call at or after theirs; `pollAt` says when. A direction
 * holds at most `holdLimit` frames: when it is full, `tx` takes fewer frames
 * (the caller keeps the rest) and `rx` pulls fewer from the wrapped device.
 *
 * Buffers are never lost: each is handed on, released to the zone (lost
 * frames, a corrupted shared buffer's original reference), or held until
 * `close()` releases it. A buffer someone else also holds (reference count
 * above 1) is never written: corruption flips a bit in a private copy.
 *
 * A frame chained over several records (frameChains: longer than a buffer)
 * is one frame to every fault: lost, duplicated, delayed or reordered
 * whole, a bit flipped in any of its records. Chains go to the wrapped
 * device whole, their checksums filled before the faults.
 *
 * On a device with transmit checksum offload, a frame corrupted on the tx
 * side gets fresh checksums from the NIC, so the corruption goes undetected,
 * as memory corruption before a NIC would.
 *
 * @example
 * ```ts
 * import { createHeapZone } from "../../mem/heap.ts";
 * import { createMemoryLink } from "../memory/link.ts";
 * import { FaultInjector } from "./injector.ts";
 * const [a, b] = createMemoryLink({ zone: createHeapZone({ count: 1024 }) });
 * const lossy = new FaultInjector(a, { seed: 7, tx: { loss: 0.01, delayMs: 2, jitterMs: 1 } });
 * ```
 *
 * @module
 */
import { ConfigError } from "../../errors.ts";
import type { MemZone } from "../../mem/zone.ts";
import { Random } from "../../util/random.ts";
import { BURST_MAX, DESC_WORDS, type Device, type DeviceOffloads, GSO_SEGS_MAX } from "../device.ts";
import { fillChainChecksums, isChain, receivedRecords, TcpSegmenter } from "../segment.ts";
import { type FaultConfig, faultConfig, FaultCounters, type FaultOptions, FaultPath } from "./_path.ts";

export { FaultCounters, type FaultOptions };

/** Options of a {@link FaultInjector}. */
export interface FaultInjectorOptions {
  /** Seed of the random streams; required, so that every run can be replayed. */
  seed: number;
  /** Faults of received frames. */
  rx?: FaultOptions;
  /** Faults of sent frames. */
  tx?: FaultOptions;
  /** Frames each direction holds at most; default 1024. */
  holdLimit?: number;
  /** Name; default the wrapped device's with `+faults`. */
  name?: string;
}

/** A device that wraps another and injects faults; see the module documentation. */
export class FaultInjector implements Device {
  readonly name: string;
  readonly zone: MemZone;
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly offloads: DeviceOffloads;
  /** The wrapped device. */
  readonly inner: Device;
  /** The seed the faults are drawn from; print it when a run fails. */
  readonly seed: number;
  /** Counters of received frames. */
  readonly rxCounters: FaultCounters;
  /** Counters of sent frames. */
  readonly txCounters: FaultCounters;
  private readonly _rx: FaultPath;
  private readonly _tx: FaultPath;
  private readonly _scratch = new Uint32Array(BURST_MAX * DESC_WORDS);
  private readonly _slots = new Int32Array(BURST_MAX);
  private readonly _segmenter: TcpSegmenter;
  private readonly _segOut = new Uint32Array(GSO_SEGS_MAX * DESC_WORDS);
  private _closed = false;

  /** Wraps `inner`; `close()` closes it too. */
  constructor(inner: Device, options: FaultInjectorOptions) {
    const seed = options?.seed;
    if (typeof seed !== "number" || !Number.isFinite(seed)) {
      throw new ConfigError("seed", `a fault injector needs a finite number as seed, got ${seed}`);
    }
    const holdLimit = options.holdLimit ?? 1024;
    if (!Number.isInteger(holdLimit) || holdLimit < 2 || holdLimit > 1 << 20) {
      throw new ConfigError("holdLimit", `expected an integer 2..${1 << 20}, got ${holdLimit}`);
    }
    const rx: FaultConfig = faultConfig("rx", options.rx);
    const tx: FaultConfig = faultConfig("tx", options.tx);
    this.inner = inner;
    this.name = options.name ?? `${inner.name}+faults`;
    this.zone = inner.zone;
    this.mac = inner.mac;
    this.mtu = inner.mtu;
    // Frames are corrupted here, before the wrapped device would fill their
    // checksums: with transmit offload the corruption would get a valid
    // checksum and go unnoticed. The stack fills them itself instead.
    // Large segments are cut here (in TypeScript, checksums filled) before
    // the faults, as a NIC cuts them before the wire.
    // Chains sent whole get their checksums here too, for the same reason.
    this.offloads = {
      rxChecksum: inner.offloads.rxChecksum,
      txChecksum: false,
      txSegmentMax: inner.offloads.txSegmentMax ?? 0,
      frameChains: inner.offloads.frameChains ?? false,
    };
    this._segmenter = new TcpSegmenter(inner.zone);
    this.seed = seed;
    this._rx = new FaultPath(inner.zone, new Random(seed, 1), true, rx, holdLimit);
    this._tx = new FaultPath(inner.zone, new Random(seed, 2), false, tx, holdLimit);
    this.rxCounters = this._rx.counters;
    this.txCounters = this._tx.counters;
  }

  /** Receives frames whose time has come, after sending held frames that are due. */
  rx(descs: Uint32Array, max: number, now: number): number {
    checkBurst("rx", descs, max);
    if (this._closed) return 0;
    this._flushTx(now);
    const p = this._rx;
    if (p.passthrough) {
      const n = this.inner.rx(descs, max, now);
      p.countPassed(descs, n);
      return n;
    }
    p.expire(now);
    let room = p.room;
    if (room > max) room = max;
    if (room > BURST_MAX) room = BURST_MAX;
    if (room > 0) {
      const got = this.inner.rx(this._scratch, room, now);
      for (let k = 0; k < got;) {
        const records = receivedRecords(this._scratch, k, got);
        p.admit(this._scratch, k * DESC_WORDS, now, got - k - records, records);
        k += records;
      }
    }
    const slots = this._slots;
    let n = 0;
    while (n < max) {
      const want = max - n < BURST_MAX ? max - n : BURST_MAX;
      const k = p.popDue(now, slots, want);
      if (k === 0) break;
      n += p.write(slots, k, descs, n);
      p.handedOn(slots, k);
    }
    return n;
  }

  /** Takes frames to send (fewer when the direction is full) and sends those that are due. */
  tx(descs: Uint32Array, n: number, now: number): number {
    checkBurst("tx", descs, n);
    if (this._closed) return 0;
    const p = this._tx;
    if (p.passthrough) {
      const sent = this.inner.tx(descs, n, now);
      p.countPassed(descs, sent);
      return sent;
    }
    p.expire(now);
    let take = 0;
    let chains = false;
    for (let k = 0; k < n && !chains; k++) chains = isChain(descs, k);
    if (!chains) {
      take = n < p.room ? n : p.room;
      for (let k = 0; k < take; k++) p.admit(descs, k * DESC_WORDS, now, take - 1 - k);
    } else {
      // Whole packets only: a chain is cut into frames when they all fit.
      const seg = this._segmenter;
      while (take < n) {
        if (!isChain(descs, take)) {
          if (p.room < 1) break;
          p.admit(descs, take * DESC_WORDS, now, 0);
          take++;
          continue;
        }
        const f = seg.frames(descs, take, n);
        if (f === 0 || f > p.room) break;
        if (f === 1 && this.offloads.frameChains) {
          // Whole, as the device below would send it: summed here, before the faults.
          const records = seg.records;
          if (records > p.room) break;
          fillChainChecksums(this.zone, descs, take, records);
          p.admit(descs, take * DESC_WORDS, now, 0, records);
          take += records;
          continue;
        }
        const w = seg.cut(descs, take, n, this._segOut, 0);
        for (let j = 0; j < w; j++) p.admit(this._segOut, j * DESC_WORDS, now, w - 1 - j);
        take += seg.records;
      }
    }
    this._flushTx(now);
    return take;
  }

  /** The wrapped device's, when frames pass straight to it (else it is given no large segments). */
  get txPending(): boolean {
    return this._tx.passthrough && this.inner.txPending === true;
  }

  /** The earliest of the wrapped device's time and the held frames' times. */
  pollAt(now: number): number {
    if (this._closed) return Infinity;
    let t = this.inner.pollAt(now);
    const r = this._rx.nextAt();
    if (r < t) t = r;
    const s = this._tx.nextAt();
    if (s < t) t = s;
    return t;
  }

  /** Frames held now, received and sent. */
  held(): { rx: number; tx: number } {
    return { rx: this._rx.held, tx: this._tx.held };
  }

  /**
   * Bytes queued for the rate limit (`bandwidthBps`) of `direction` at `now`:
   * the occupancy of the bounded queue that `queueBytesMax` and
   * `ceThresholdBytes` measure; 0 in a direction without a rate limit.
   */
  queuedBytes(direction: "rx" | "tx", now: number): number {
    return (direction === "rx" ? this._rx : this._tx).queuedBytes(now);
  }

  /** Releases every held frame, then closes the wrapped device. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._rx.releaseAll();
    this._tx.releaseAll();
    this.inner.close();
  }

  /** Sends held frames that are due, until the wrapped device refuses one. */
  private _flushTx(now: number): void {
    const p = this._tx;
    if (p.passthrough) return;
    p.expire(now);
    const slots = this._slots;
    for (;;) {
      const k = p.popDue(now, slots, BURST_MAX);
      if (k === 0) return;
      const records = p.write(slots, k, this._scratch, 0);
      const sent = p.framesIn(slots, k, this.inner.tx(this._scratch, records, now));
      p.handedOn(slots, sent);
      if (sent < k) {
        p.refused(slots, sent, k);
        return;
      }
    }
  }
}

function checkBurst(op: string, descs: Uint32Array, n: number): void {
  if (!(n >= 0) || n * DESC_WORDS > descs.length) {
    throw new RangeError(`${op}: ${n} records asked, room for ${Math.floor(descs.length / DESC_WORDS)}`);
  }
}
