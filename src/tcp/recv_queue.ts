/**
 * The receive queue: in-order payload waiting for the application, as the
 * packet buffers it arrived in. Nothing is copied: the application reads
 * views of the zone and releases what it consumed.
 *
 * @module
 */
import { copyRange } from "../util/bytes.ts";
import { ChunkRing, LEN, OFF, W } from "./_chunk_ring.ts";

const empty = new Uint8Array(0);

/** In-order received payload, as (buffer, offset, length) pieces. */
export class RecvQueue extends ChunkRing {
  /** Pieces held. */
  get pieces(): number {
    return this.count;
  }

  /** A view of the first piece (no copy); empty when the queue is. */
  peek(): Uint8Array {
    if (this.count === 0) return empty;
    const i = this.head * W;
    const off = this.ring[i + OFF];
    return this.zone.bytes.subarray(off, off + this.ring[i + LEN]);
  }

  /** Length of the first piece (0 when the queue is empty). */
  headLength(): number {
    return this.count === 0 ? 0 : this.ring[this.head * W + LEN];
  }

  /** Zone offset of the first piece's first byte (0 when the queue is empty). */
  headOffset(): number {
    return this.count === 0 ? 0 : this.ring[this.head * W + OFF];
  }

  /** The zone's bytes, where {@link headOffset} points. */
  get zoneBytes(): Uint8Array {
    return this.zone.bytes;
  }

  /** Copies up to `out.length` bytes into `out` and consumes them; returns how many. */
  read(out: Uint8Array): number {
    let n = 0;
    while (n < out.length && this.count > 0) {
      const i = this.head * W;
      const k = Math.min(this.ring[i + LEN], out.length - n);
      copyRange(out, n, this.zone.bytes, this.ring[i + OFF], k);
      n += k;
      this.consume(k);
    }
    return n;
  }
}
