/**
 * The receive queue: in-order payload waiting for the application, as the
 * packet buffers it arrived in. Nothing is copied: the application reads
 * views of the zone and releases what it consumed.
 *
 * @module
 */
import type { MemZone } from "../mem/zone.ts";

/** In-order received payload, as (buffer, offset, length) pieces. */
export class RecvQueue {
  readonly #zone: MemZone;
  #h = new Uint32Array(64);
  #off = new Uint32Array(64);
  #len = new Uint32Array(64);
  #head = 0;
  #count = 0;
  /** Bytes held. */
  bytes = 0;

  constructor(zone: MemZone) {
    this.#zone = zone;
  }

  /** Pieces held. */
  get pieces(): number {
    return this.#count;
  }

  /** Appends a piece; the queue takes one reference to `h`. */
  push(h: number, off: number, len: number): void {
    if (this.#count === this.#h.length) this.#grow();
    const i = (this.#head + this.#count) & (this.#h.length - 1);
    this.#h[i] = h;
    this.#off[i] = off;
    this.#len[i] = len;
    this.#count++;
    this.bytes += len;
  }

  /** A view of the first piece (no copy); empty when the queue is. */
  peek(): Uint8Array {
    if (this.#count === 0) return this.#zone.bytes.subarray(0, 0);
    const i = this.#head;
    return this.#zone.bytes.subarray(this.#off[i], this.#off[i] + this.#len[i]);
  }

  /** Consumes `n` bytes from the front, releasing the buffers it empties. */
  consume(n: number): void {
    if (n > this.bytes) n = this.bytes;
    this.bytes -= n;
    const mask = this.#h.length - 1;
    while (n > 0) {
      const i = this.#head;
      const len = this.#len[i];
      if (n < len) {
        this.#off[i] += n;
        this.#len[i] = len - n;
        return;
      }
      n -= len;
      this.#zone.release(this.#h[i]);
      this.#head = (i + 1) & mask;
      this.#count--;
    }
  }

  /** Copies up to `out.length` bytes into `out` and consumes them; returns how many. */
  read(out: Uint8Array): number {
    let n = 0;
    while (n < out.length && this.#count > 0) {
      const view = this.peek();
      const k = Math.min(view.length, out.length - n);
      out.set(view.subarray(0, k), n);
      n += k;
      this.consume(k);
    }
    return n;
  }

  /** Releases everything. */
  clear(): void {
    this.consume(this.bytes);
  }

  #grow(): void {
    const n = this.#h.length;
    const h = new Uint32Array(n * 2);
    const off = new Uint32Array(n * 2);
    const len = new Uint32Array(n * 2);
    for (let k = 0; k < this.#count; k++) {
      const i = (this.#head + k) & (n - 1);
      h[k] = this.#h[i];
      off[k] = this.#off[i];
      len[k] = this.#len[i];
    }
    this.#h = h;
    this.#off = off;
    this.#len = len;
    this.#head = 0;
  }
}
