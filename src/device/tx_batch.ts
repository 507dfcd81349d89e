/**
 * Frames waiting to leave: collected during a loop iteration, handed to the
 * device in one burst, and kept (bounded) when the device takes fewer.
 *
 * @module
 */
import { BURST_MAX, DESC_WORDS, type Device, TxFlag } from "./device.ts";

/** A bounded batch of descriptor records for one device. */
export class TxBatch {
  private readonly _device: Device;
  private readonly _descs: Uint32Array;
  private readonly _capacity: number;
  private _count = 0;
  /** Frames (a chain is one) queued since the last flush. */
  private _fresh = 0;
  /** Frames dropped because the batch was full and the device would not take more. */
  dropped = 0;
  /** Frames the device took. */
  sentFrames = 0;
  /** Bytes of the frames the device took. */
  sentBytes = 0;
  /** Transmit bursts handed to the device (flushes with frames waiting). */
  bursts = 0;
  /** Records the device refused at the last flush (they wait in the batch). */
  private _refused = 0;

  constructor(device: Device, capacity = BURST_MAX) {
    this._device = device;
    this._capacity = Math.max(1, Math.min(capacity, BURST_MAX));
    this._descs = new Uint32Array(this._capacity * DESC_WORDS);
  }

  /** Frames the batch holds at most. */
  get capacity(): number {
    return this._capacity;
  }

  /** Frames waiting. */
  get length(): number {
    return this._count;
  }

  /**
   * Frames queued since the last flush: those the device refused then are not
   * counted, and a chain counts once (a large segment is one frame).
   */
  get fresh(): number {
    return this._fresh;
  }

  /**
   * Whether the device is behind: it refused frames at the last flush, or holds
   * some it took in part ({@link Device.txPending}). Frames pushed now wait.
   */
  get behind(): boolean {
    return this._refused > 0 || this._device.txPending === true;
  }

  /**
   * Queues a frame: buffer `h`, `len` bytes from `dataOff` into its data room,
   * with transmit flags and header lengths for offloads. The batch owns the
   * buffer from now on. Returns false (and releases the buffer) if it had to
   * drop the frame.
   */
  push(h: number, dataOff: number, len: number, flags: number, lens: number, now: number): boolean {
    if (this._count === this._capacity) {
      this.flush(now);
      if (this._count === this._capacity) {
        this._device.zone.release(h);
        this.dropped++;
        return false;
      }
    }
    const d = this._descs;
    const i = this._count * DESC_WORDS;
    d[i] = h;
    d[i + 1] = dataOff | (len << 16);
    d[i + 2] = flags;
    d[i + 3] = lens;
    this._count++;
    if ((flags & TxFlag.more) === 0) this._fresh++;
    return true;
  }

  /**
   * Makes room for `k` records (a chain that must go whole): flushes if the
   * batch lacks it; false if the device would not take enough.
   */
  reserve(k: number, now: number): boolean {
    if (this._capacity - this._count >= k) return true;
    this.flush(now);
    return this._capacity - this._count >= k;
  }

  /** Hands the waiting frames to the device; those it does not take wait for the next flush. */
  flush(now: number): number {
    const n = this._count;
    const d = this._descs;
    this._fresh = 0;
    this._refused = 0;
    if (n === 0) {
      if (this._device.txPending === true) this._device.tx(d, 0, now);
      return 0;
    }
    const sent = this._device.tx(d, n, now);
    this.bursts++;
    let frames = 0;
    for (let k = 0; k < sent; k++) {
      const i = k * DESC_WORDS;
      this.sentBytes += d[i + 1] >>> 16;
      if ((d[i + 2] & TxFlag.more) === 0) frames++; // a chain is one packet
    }
    this.sentFrames += frames;
    if (sent < n) d.copyWithin(0, sent * DESC_WORDS, n * DESC_WORDS);
    this._count = this._refused = n - sent;
    return sent;
  }

  /** Releases every waiting frame (on close). */
  discard(): void {
    for (let k = 0; k < this._count; k++) this._device.zone.release(this._descs[k * DESC_WORDS]);
    this._count = this._fresh = this._refused = 0;
  }
}
