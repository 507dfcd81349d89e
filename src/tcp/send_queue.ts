/**
 * The send queue: the application's payload, as the buffers it filled, from
 * SND.UNA on. Nothing is copied in: a chunk is (buffer, offset, length) in
 * the zone, and segments are cut from the chunks when they are sent and
 * again when they are retransmitted. Acknowledged chunks are released.
 *
 * @module
 */
import type { MemZone } from "../mem/zone.ts";

/** Chunks of unacknowledged and unsent payload, in sequence order. */
export class SendQueue {
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

  /** Chunks held. */
  get chunks(): number {
    return this.#count;
  }

  /** Appends `len` bytes at zone offset `off` of buffer `h`; the queue takes the caller's reference. */
  push(h: number, off: number, len: number): void {
    if (this.#count === this.#h.length) this.#grow();
    const i = (this.#head + this.#count) & (this.#h.length - 1);
    this.#h[i] = h;
    this.#off[i] = off;
    this.#len[i] = len;
    this.#count++;
    this.bytes += len;
  }

  /** Length of the last chunk (0 when empty). */
  tailLen(): number {
    if (this.#count === 0) return 0;
    return this.#len[(this.#head + this.#count - 1) & (this.#h.length - 1)];
  }

  /** Zone offset just past the last chunk's bytes. */
  tailEnd(): number {
    const i = (this.#head + this.#count - 1) & (this.#h.length - 1);
    return this.#off[i] + this.#len[i];
  }

  /** Buffer of the last chunk. */
  tailHandle(): number {
    return this.#h[(this.#head + this.#count - 1) & (this.#h.length - 1)];
  }

  /** The last chunk grew by `n` bytes written in place after it. */
  extendTail(n: number): void {
    this.#len[(this.#head + this.#count - 1) & (this.#h.length - 1)] += n;
    this.bytes += n;
  }

  /** Drops the first `n` bytes (acknowledged), releasing chunks that are wholly gone. */
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

  /**
   * Finds the byte `at` bytes from the front: sets {@link foundH},
   * {@link foundOff} (its zone offset) and {@link foundLen} (bytes left in its
   * chunk). Returns false when `at` is past the end.
   */
  find(at: number): boolean {
    const mask = this.#h.length - 1;
    for (let k = 0; k < this.#count; k++) {
      const i = (this.#head + k) & mask;
      const len = this.#len[i];
      if (at < len) {
        this.foundH = this.#h[i];
        this.foundOff = this.#off[i] + at;
        this.foundLen = len - at;
        this.foundChunkStart = at === 0;
        return true;
      }
      at -= len;
    }
    return false;
  }
  /** Buffer of the byte {@link find} found. */
  foundH = 0;
  /** Zone offset of the byte {@link find} found. */
  foundOff = 0;
  /** Bytes from it to the end of its chunk. */
  foundLen = 0;
  /** Whether it is the first byte of its chunk. */
  foundChunkStart = false;

  /** Releases everything (on abort or close). */
  clear(): void {
    this.consume(this.bytes);
    const mask = this.#h.length - 1;
    while (this.#count > 0) {
      this.#zone.release(this.#h[this.#head]); // zero-length chunks
      this.#head = (this.#head + 1) & mask;
      this.#count--;
    }
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
