// A ring of (buffer, zone offset, length) chunks over the mem zone: what the
// send and the receive queue share. Private to src/tcp.
import type { MemZone } from "../mem/zone.ts";

const none = new Uint32Array(0);

/** Words per chunk in a ring: buffer handle, zone offset, length. */
export const H = 0, OFF = 1, LEN = 2, W = 3;

const minChunks = 8;
const maxPooledChunks = 1024;
/**
 * Spare rings by size (index log2(chunks / minChunks)), shared by every
 * queue of this thread: a queue that empties gives its ring back, so an idle
 * connection holds none and a busy one takes no new allocation per burst.
 */
const spares: Uint32Array[][] = [];
const sparesPerSize = 256;

/** log2(chunks / minChunks), for powers of two, in integer steps. */
const sizeIndex = (chunks: number) => Math.clz32(minChunks) - Math.clz32(chunks);

function takeRing(chunks: number): Uint32Array {
  const k = sizeIndex(chunks);
  const list = spares[k];
  if (list !== undefined && list.length > 0) return list.pop()!;
  return new Uint32Array(chunks * W);
}

/** Gives back `ring`, of `chunks` chunks (its length / W, passed in: no division per give). */
function giveRing(ring: Uint32Array, chunks: number): void {
  if (chunks > maxPooledChunks) return;
  const k = sizeIndex(chunks);
  const list = spares[k] ?? (spares[k] = []);
  if (list.length < sparesPerSize) list.push(ring);
}

/** Chunks of payload in sequence order; the ring holds one reference to each buffer. */
export class ChunkRing {
  protected readonly zone: MemZone;
  // Three words per chunk (H, OFF, LEN); none while the queue is empty.
  protected ring: Uint32Array = none;
  /** Ring capacity in chunks, minus one (a power of two minus one). */
  protected mask = -1;
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
    if (this.count === this.mask + 1) this._grow(this.mask === -1 ? minChunks : (this.mask + 1) * 2);
    const i = ((this.head + this.count) & this.mask) * W;
    const r = this.ring;
    r[i + H] = h;
    r[i + OFF] = off;
    r[i + LEN] = len;
    this.count++;
    this.bytes += len;
  }

  /**
   * Makes room for `chunks` chunks in all, so that pushing up to that many
   * grows the ring once at most: a 64 KiB write is 45 chunks, which would
   * otherwise grow an emptied queue's ring from 8 chunks three times.
   */
  reserve(chunks: number): void {
    const n = this.mask + 1;
    if (chunks <= n) return;
    let want = n === 0 ? minChunks : n * 2;
    while (want < chunks) want *= 2;
    this._grow(want);
  }

  /** Drops the first `n` bytes, releasing the buffers of chunks wholly gone. */
  consume(n: number): void {
    if (n > this.bytes) n = this.bytes;
    this.bytes -= n;
    this.consumedTotal += n;
    const r = this.ring;
    while (n > 0) {
      const i = this.head * W;
      const len = r[i + LEN];
      if (n < len) {
        r[i + OFF] += n;
        r[i + LEN] = len - n;
        return;
      }
      n -= len;
      this.zone.release(r[i + H]);
      this.head = (this.head + 1) & this.mask;
      this.count--;
      this.released++;
    }
    if (this.count === 0 && this.ring !== none) {
      giveRing(this.ring, this.mask + 1);
      this.ring = none;
      this.mask = -1;
      this.head = 0;
    }
  }

  /** Releases everything. */
  clear(): void {
    this.consume(this.bytes);
  }

  /** Empty, as made: its counts from 0 again (a recycled control block's queue). */
  reset(): void {
    this.clear();
    this.released = 0;
    this.consumedTotal = 0;
  }

  /** Moves the chunks to a ring of `chunks` (a power of two, at least twice the current one). */
  private _grow(chunks: number): void {
    const ring = takeRing(chunks);
    const old = this.ring;
    for (let k = 0; k < this.count; k++) {
      const from = ((this.head + k) & this.mask) * W;
      ring[k * W + H] = old[from + H];
      ring[k * W + OFF] = old[from + OFF];
      ring[k * W + LEN] = old[from + LEN];
    }
    if (old !== none) giveRing(old, this.mask + 1);
    this.ring = ring;
    this.mask = chunks - 1;
    this.head = 0;
  }
}
