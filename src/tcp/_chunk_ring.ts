// A ring of (buffer, zone offset, length) chunks over the mem zone: what the
// send and the receive queue share. Private to src/tcp.
import type { MemZone } from "../mem/zone.ts";

const none = new Uint32Array(0);

/** Chunks of payload in sequence order; the ring holds one reference to each buffer. */
export class ChunkRing {
  protected readonly zone: MemZone;
  // Allocated on first use: an idle connection holds no ring (memory per connection).
  protected h: Uint32Array = none;
  protected off: Uint32Array = none;
  protected len: Uint32Array = none;
  protected head = 0;
  protected count = 0;
  /** Bytes held. */
  bytes = 0;
  /** Chunks released from the front since the ring was made: the serial number of the head. */
  protected released = 0;
  /** Bytes consumed from the front since the ring was made: the stream offset of the first byte held. */
  protected consumedTotal = 0;

  constructor(zone: MemZone) {
    this.zone = zone;
  }

  /** Chunks held. */
  get chunks(): number {
    return this.count;
  }

  /** Appends `len` bytes at zone offset `off` of buffer `h`, taking the caller's reference. */
  push(h: number, off: number, len: number): void {
    if (len === 0) {
      this.zone.release(h);
      return;
    }
    if (this.count === this.h.length) this._grow();
    const i = (this.head + this.count) & (this.h.length - 1);
    this.h[i] = h;
    this.off[i] = off;
    this.len[i] = len;
    this.count++;
    this.bytes += len;
  }

  /** Drops the first `n` bytes, releasing the buffers of chunks wholly gone. */
  consume(n: number): void {
    if (n > this.bytes) n = this.bytes;
    this.bytes -= n;
    this.consumedTotal += n;
    const mask = this.h.length - 1;
    while (n > 0) {
      const i = this.head;
      const len = this.len[i];
      if (n < len) {
        this.off[i] += n;
        this.len[i] = len - n;
        return;
      }
      n -= len;
      this.zone.release(this.h[i]);
      this.head = (i + 1) & mask;
      this.count--;
      this.released++;
    }
  }

  /** Releases everything. */
  clear(): void {
    this.consume(this.bytes);
  }

  private _grow(): void {
    const n = this.h.length;
    const size = n === 0 ? 8 : n * 2;
    const h = new Uint32Array(size);
    const off = new Uint32Array(size);
    const len = new Uint32Array(size);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & (n - 1);
      h[k] = this.h[i];
      off[k] = this.off[i];
      len[k] = this.len[i];
    }
    this.h = h;
    this.off = off;
    this.len = len;
    this.head = 0;
  }
}
