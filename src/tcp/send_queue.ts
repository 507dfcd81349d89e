/**
 * The send queue: the application's payload, as the buffers it filled, from
 * SND.UNA on. Nothing is copied in: a chunk is (buffer, offset, length) in
 * the zone, and segments are cut from the chunks when they are sent and
 * again when they are retransmitted. Acknowledged chunks are released.
 *
 * @module
 */
import { ChunkRing, H, LEN, OFF, W } from "./_chunk_ring.ts";

/** Chunks of unacknowledged and unsent payload, in sequence order. */
export class SendQueue extends ChunkRing {
  /** Buffer of the byte {@link find} found. */
  foundH = 0;
  /** Zone offset of the byte {@link find} found. */
  foundOff = 0;
  /** Bytes from it to the end of its chunk. */
  foundLen = 0;
  /** Whether it is the first byte of its chunk. */
  foundChunkStart = false;

  /**
   * Finds the byte `at` bytes from the front: sets {@link foundH},
   * {@link foundOff}, {@link foundLen} and {@link foundChunkStart}. Returns
   * false when `at` is past the end.
   */
  find(at: number): boolean {
    const mask = this.mask;
    const r = this.ring;
    const abs = this.consumedTotal + at; // stream offset of the byte asked for
    // Segments are cut front to back: start from the chunk the last search found
    // rather than from the head (not when that is the head, whose start moves with ACKs).
    let k = 0;
    const ck = this._cacheSerial - this.released;
    if (ck > 0 && ck < this.count && abs >= this._cacheStart) {
      k = ck;
      at = abs - this._cacheStart;
    }
    for (; k < this.count; k++) {
      const i = ((this.head + k) & mask) * W;
      const len = r[i + LEN];
      if (at < len) {
        this.foundH = r[i + H];
        this.foundOff = r[i + OFF] + at;
        this.foundLen = len - at;
        this.foundChunkStart = at === 0;
        this._cacheSerial = this.released + k;
        this._cacheStart = abs - at;
        return true;
      }
      at -= len;
    }
    return false;
  }

  private _cacheSerial = -1;
  private _cacheStart = 0;

  /** Empty, as made (a recycled control block's queue). */
  override reset(): void {
    super.reset();
    this.foundH = 0;
    this.foundOff = 0;
    this.foundLen = 0;
    this.foundChunkStart = false;
    this._cacheSerial = -1;
    this._cacheStart = 0;
  }

  /** Length of the last chunk (0 when empty). */
  tailLen(): number {
    return this.count === 0 ? 0 : this.ring[this._tail() + LEN];
  }

  /** Zone offset just past the last chunk's bytes. */
  tailEnd(): number {
    const i = this._tail();
    return this.ring[i + OFF] + this.ring[i + LEN];
  }

  /** Buffer of the last chunk. */
  tailHandle(): number {
    return this.ring[this._tail() + H];
  }

  /** The last chunk grew by `n` bytes written in place after it. */
  extendTail(n: number): void {
    this.ring[this._tail() + LEN] += n;
    this.bytes += n;
  }

  /** Word index of the last chunk. */
  private _tail(): number {
    return ((this.head + this.count - 1) & this.mask) * W;
  }
}
