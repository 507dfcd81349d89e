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
import { DESC_WORDS, RxFlag } from "../device/device.ts";
import type { MemZone } from "../mem/zone.ts";
import { Drop, IpProtocol, ipv4HeaderLen, type Ipv4Packet } from "../wire/mod.ts";

/** Links one chain may have beyond its first buffer (a burst's records bound it). */
export const chainLinksMax = 511;

/** The further links of the frame being received; see the module documentation. */
export class RxChain {
  /** Links held beyond the first buffer (0: the frame is one buffer). */
  count = 0;
  /** Bytes in those links. */
  bytes = 0;
  /** Per link: buffer handle, zone offset of its first byte, length. */
  readonly words: Uint32Array = new Uint32Array(3 * chainLinksMax);
  /** Per link: 1 once a layer above kept its reference. */
  readonly taken: Uint8Array = new Uint8Array(chainLinksMax);

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

  /**
   * Takes the further links of the frame whose first record is `k` of
   * `descs[0..n)` (RxFlag.more). Returns the index of its last record; or,
   * when the burst cuts the chain short or a link lies outside its buffer
   * (the links it could hold are then the chain's, the others released),
   * `-(index of the last record looked at) - 1`.
   */
  gather(descs: Uint32Array, k: number, n: number, zone: MemZone): number {
    let sane = true;
    for (let j = k + 1; j < n; j++) {
      const w = j * DESC_WORDS;
      const h = descs[w];
      const off = descs[w + 1] & 0xffff;
      const len = descs[w + 1] >>> 16;
      if (this.count === chainLinksMax || off + len > zone.dataRoomSize) {
        sane = false;
        zone.release(h);
      } else {
        this.add(h, zone.dataStart(h) + off, len);
      }
      if ((descs[w + 2] & RxFlag.more) === 0) return sane ? j : -j - 1;
    }
    return -(n - 1) - 1;
  }

  /**
   * Points `ip` at the IPv4 header in the chained frame's first buffer (`len`
   * bytes from `off` of `bytes`) and checks it: TCP, not a fragment, the IPv4
   * and a TCP header's 20 bytes in that buffer, the links adding up to the
   * total length exactly, and the device's verdict on both checksums (a
   * chain is not summed in place). Returns a drop reason or `Drop.none`.
   */
  wrapIpv4(ip: Ipv4Packet, bytes: Uint8Array, off: number, len: number, flags: number): Drop {
    ip.attach(bytes, off, len);
    if (len < ipv4HeaderLen || ip.version !== 4) return Drop.chainMalformed;
    const hl = ip.headerLen;
    if (hl < ipv4HeaderLen || hl + 20 > len || ip.totalLen !== len + this.bytes) return Drop.chainMalformed;
    if (ip.protocol !== IpProtocol.tcp || ip.isFragment) return Drop.chainMalformed;
    if ((flags & (RxFlag.ipCksumGood | RxFlag.ipCksumBad)) === 0) return Drop.chainUnverified;
    if ((flags & (RxFlag.l4CksumGood | RxFlag.l4CksumBad)) === 0) return Drop.chainUnverified;
    return Drop.none;
  }

  /** Releases every link nobody took, and empties the chain. */
  releaseUntaken(zone: MemZone): void {
    for (let i = 0; i < this.count; i++) if (this.taken[i] === 0) zone.release(this.words[3 * i]);
    this.reset();
  }
}
