/**
 * The links of a received chained frame (a frame longer than one buffer, or
 * segments coalesced by the port's LRO, the shim's GRO or the in-memory
 * link's emulation of it) beyond its first buffer, while the receive path
 * carries it up. The first buffer is the frame's handle as for any frame;
 * each further link is one buffer of the zone holding payload only.
 *
 * Ownership: the IP layer holds one reference to each link. A layer above
 * that keeps a link (the TCP receive queue) marks it {@link take}n; once the
 * frame is handled, the IP layer releases every link left untaken, so that
 * every path (a drop, a duplicate, a trim) returns every buffer exactly once.
 *
 * @module
 */
import type { MemZone } from "../mem/zone.ts";

/** Links one chain may have beyond its first buffer (a burst's records bound it). */
export const chainLinksMax = 511;

/** The further links of the frame being received; see the module documentation. */
export class RxChain {
  /** Links held beyond the first buffer (0: the frame is one buffer). */
  count = 0;
  /** Bytes in those links. */
  bytes = 0;
  /** Per link: buffer handle, zone offset of its first byte, length. */
  readonly words = new Uint32Array(3 * chainLinksMax);
  /** Per link: 1 once a layer above kept its reference. */
  readonly taken = new Uint8Array(chainLinksMax);

  /** Empties the chain (its links were released or kept). */
  reset(): void {
    this.count = 0;
    this.bytes = 0;
  }

  /** Appends a link: `len` bytes at zone offset `off` of buffer `h`, its reference the chain's. */
  add(h: number, off: number, len: number): void {
    const i = this.count;
    this.words[3 * i] = h;
    this.words[3 * i + 1] = off;
    this.words[3 * i + 2] = len;
    this.taken[i] = 0;
    this.count = i + 1;
    this.bytes += len;
  }

  /** Buffer of link `i`. */
  handle(i: number): number {
    return this.words[3 * i];
  }

  /** Zone offset of link `i`'s first byte. */
  offset(i: number): number {
    return this.words[3 * i + 1];
  }

  /** Bytes in link `i`. */
  length(i: number): number {
    return this.words[3 * i + 2];
  }

  /** Marks link `i` kept by the caller, who now owns its reference. */
  take(i: number): void {
    this.taken[i] = 1;
  }

  /** Releases every link nobody took, and empties the chain. */
  releaseUntaken(zone: MemZone): void {
    for (let i = 0; i < this.count; i++) if (this.taken[i] === 0) zone.release(this.words[3 * i]);
    this.reset();
  }
}
