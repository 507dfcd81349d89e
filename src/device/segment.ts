/**
 * Segmentation of chained transmit records in TypeScript, for devices that
 * have no shim below them (the in-memory link, the fault injector): what a
 * NIC's TSO or the shim's GSO does, done by copying. A packet spanning
 * records (TxFlag.more) with a segmentation request (TxFlag.tcpSeg, the MSS
 * in word 2's high bits) becomes frames of at most the MSS of payload, each
 * with a copy of the headers: IPv4 total length and identification, TCP
 * sequence number, FIN and PSH (on the last segment only) and both
 * checksums fixed. A chain without a request becomes one frame.
 *
 * Each record of a chain holds one reference of its buffer; the segmenter
 * releases them all, and each frame it makes is a fresh buffer of the zone.
 *
 * @module
 */
import { SEG_MSS_SHIFT } from "../../ffi/symbols.ts";
import type { MemZone } from "../mem/zone.ts";
import { onesFold, onesSum, pseudoHeaderSum } from "../wire/checksum.ts";
import { IpProtocol, Ipv4Packet, TcpFlags, TcpPacket } from "../wire/mod.ts";
import { DESC_WORDS, RxFlag, TxFlag } from "./device.ts";

/** Whether record `k` of `descs` begins a packet that spans records or asks for segmentation. */
export function isChain(descs: Uint32Array, k: number): boolean {
  return (descs[k * DESC_WORDS + 2] & (TxFlag.more | TxFlag.tcpSeg)) !== 0;
}

/**
 * Records of the packet starting at record `k` of `descs[0..n)`: up to the
 * first without TxFlag.more. 0 when its chain does not end by `n`.
 */
export function chainRecords(descs: Uint32Array, k: number, n: number): number {
  for (let r = k; r < n; r++) if ((descs[r * DESC_WORDS + 2] & TxFlag.more) === 0) return r - k + 1;
  return 0;
}

/**
 * Records of the received frame starting at record `k` of `descs[0..n)`: up
 * to the first without RxFlag.more, or to the burst's end.
 */
export function receivedRecords(descs: Uint32Array, k: number, n: number): number {
  let r = k;
  while (r + 1 < n && (descs[r * DESC_WORDS + 2] & RxFlag.more) !== 0) r++;
  return r - k + 1;
}

const tcpChecksumAt = 16;
const ethernetHeaderLen = 14;

/**
 * One's-complement sum of the chain of `records` records from record `k`,
 * from zone offset `from` of the first record's bytes to the chain's end.
 * A record that follows an odd number of bytes is summed byte-swapped
 * (RFC 1071 2(B)).
 */
function chainSum(
  zone: MemZone,
  descs: Uint32Array,
  k: number,
  records: number,
  from: number,
  initial: number,
): number {
  const bytes = zone.bytes;
  let sum = initial;
  let odd = false; // the bytes summed so far are odd in number
  for (let r = 0; r < records; r++) {
    const d = (k + r) * DESC_WORDS;
    const start = zone.dataStart(descs[d]) + (descs[d + 1] & 0xffff);
    const end = start + (descs[d + 1] >>> 16);
    const at = r === 0 ? from : start;
    if (end <= at) continue;
    let part = onesSum(bytes, at, end);
    if (odd) part = ((part & 0xff) << 8) | (part >>> 8);
    sum = onesFold(sum + part);
    if (((end - at) & 1) !== 0) odd = !odd;
  }
  return sum;
}

/** The IPv4 header view the two functions below attach to a chain's first record (held by neither). */
const chainIp = new Ipv4Packet();

function chainBytes(descs: Uint32Array, k: number, records: number): number {
  let len = 0;
  for (let r = 0; r < records; r++) len += descs[(k + r) * DESC_WORDS + 1] >>> 16;
  return len;
}

/**
 * Fills the checksums a chain of `records` records from record `k` asks for
 * (TxFlag.ipCksum, TxFlag.tcpCksum on its first record), as a device that
 * sends the chain whole fills them: the IPv4 header's, in the first record,
 * and the TCP checksum over every record's bytes. Clears the request bits,
 * so that a device below does not sum again.
 */
export function fillChainChecksums(zone: MemZone, descs: Uint32Array, k: number, records: number): void {
  const i0 = k * DESC_WORDS;
  const w2 = descs[i0 + 2];
  if ((w2 & (TxFlag.ipCksum | TxFlag.tcpCksum)) === 0) return;
  const bytes = zone.bytes;
  const w3 = descs[i0 + 3];
  const l2 = w3 & 0x7f;
  const l3 = (w3 >>> 8) & 0x1ff;
  const ip = chainIp.attach(bytes, zone.dataStart(descs[i0]) + (descs[i0 + 1] & 0xffff) + l2, l3);
  if ((w2 & TxFlag.ipCksum) !== 0) ip.fillChecksum();
  if ((w2 & TxFlag.tcpCksum) !== 0) {
    const tcp = ip.offset + l3;
    const tcpLen = chainBytes(descs, k, records) - l2 - l3;
    bytes[tcp + tcpChecksumAt] = 0;
    bytes[tcp + tcpChecksumAt + 1] = 0;
    const pseudo = pseudoHeaderSum(ip.src, ip.dst, IpProtocol.tcp, tcpLen);
    const ck = ~chainSum(zone, descs, k, records, tcp, pseudo) & 0xffff;
    bytes[tcp + tcpChecksumAt] = ck >>> 8;
    bytes[tcp + tcpChecksumAt + 1] = ck & 0xff;
  }
  descs[i0 + 2] = w2 & ~(TxFlag.ipCksum | TxFlag.tcpCksum);
}

/**
 * The checksum verdict (RxFlag bits) a receiving device gives the IPv4/TCP
 * frame chained over `records` records from record `k`, as a NIC verifies
 * what it cannot hand up for the stack to sum in place; 0 (no verdict) for
 * any other frame, or one whose headers are not in its first record.
 */
export function chainVerdict(zone: MemZone, descs: Uint32Array, k: number, records: number): number {
  const i0 = k * DESC_WORDS;
  const bytes = zone.bytes;
  const f = zone.dataStart(descs[i0]) + (descs[i0 + 1] & 0xffff);
  const first = descs[i0 + 1] >>> 16;
  if (first < ethernetHeaderLen + 20 || bytes[f + 12] !== 0x08 || bytes[f + 13] !== 0x00) return 0;
  const ip = chainIp.attach(bytes, f + ethernetHeaderLen, first - ethernetHeaderLen);
  const l3 = ip.headerLen;
  if (ip.version !== 4 || l3 < 20 || ethernetHeaderLen + l3 + 20 > first || ip.protocol !== IpProtocol.tcp) {
    return 0;
  }
  const ipGood = ip.verifyChecksum();
  const tcpLen = ip.totalLen - l3;
  if (tcpLen !== chainBytes(descs, k, records) - ethernetHeaderLen - l3) {
    return RxFlag.ipCksumBad | RxFlag.l4CksumBad; // the IP layer drops it as malformed
  }
  const pseudo = pseudoHeaderSum(ip.src, ip.dst, IpProtocol.tcp, tcpLen);
  const tcpGood = chainSum(zone, descs, k, records, ip.offset + l3, pseudo) === 0xffff;
  return (ipGood ? RxFlag.ipCksumGood : RxFlag.ipCksumBad) |
    (tcpGood ? RxFlag.l4CksumGood : RxFlag.l4CksumBad);
}

/** Cuts chained records into frames; see the module documentation. */
export class TcpSegmenter {
  /** Records the last {@link frames} or {@link cut} call looked at: the packet's length in records. */
  records = 0;
  /** Packets cut into more than one frame, and the frames they became. */
  packets = 0;
  segments = 0;
  /** Frames lost because the zone had no buffer for them. */
  noBufferDrops = 0;
  private readonly _zone: MemZone;
  private readonly _ip = new Ipv4Packet();
  private readonly _tcp = new TcpPacket();

  constructor(zone: MemZone) {
    this._zone = zone;
  }

  /**
   * How many frames the packet starting at record `k` of `descs[0..n)` will
   * become; sets {@link records}. 0 when its chain does not end by `n`.
   */
  frames(descs: Uint32Array, k: number, n: number): number {
    let r = k;
    let bytes = 0;
    while (r < n) {
      bytes += descs[r * DESC_WORDS + 1] >>> 16;
      if ((descs[r * DESC_WORDS + 2] & TxFlag.more) === 0) break;
      r++;
    }
    if (r === n) return (this.records = 0);
    this.records = r - k + 1;
    const w2 = descs[k * DESC_WORDS + 2];
    const w3 = descs[k * DESC_WORDS + 3];
    const hdr = (w3 & 0x7f) + ((w3 >>> 8) & 0x1ff) + ((w3 >>> 20) & 0xff);
    const mss = (w2 & TxFlag.tcpSeg) !== 0 ? w2 >>> SEG_MSS_SHIFT : 0;
    const payload = bytes - hdr;
    return mss === 0 || payload <= mss ? 1 : Math.ceil(payload / mss);
  }

  /**
   * Cuts the packet starting at record `k` (its {@link frames} known to be
   * above 0) into single-buffer records written to `out` from record `at`;
   * returns how many it wrote. The packet's buffers are released.
   */
  cut(descs: Uint32Array, k: number, n: number, out: Uint32Array, at: number): number {
    const count = this.frames(descs, k, n);
    const zone = this._zone;
    const bytes = zone.bytes;
    const i0 = k * DESC_WORDS;
    const h0 = descs[i0];
    const w1 = descs[i0 + 1];
    const w3 = descs[i0 + 3];
    const l2 = w3 & 0x7f;
    const l3 = (w3 >>> 8) & 0x1ff;
    const hdr = l2 + l3 + ((w3 >>> 20) & 0xff);
    const src = zone.dataStart(h0) + (w1 & 0xffff);
    let total = -hdr;
    for (let r = 0; r < this.records; r++) total += descs[(k + r) * DESC_WORDS + 1] >>> 16;
    const mss = count === 1 ? total : (descs[i0 + 2] >>> SEG_MSS_SHIFT);
    const ip = this._ip.attach(bytes, src + l2, l3);
    const ident = ip.ident;
    const tcp0 = this._tcp.attach(bytes, src + l2 + l3, hdr - l2 - l3);
    const seq = tcp0.seq;
    const flags = tcp0.flags;
    // Where the payload is read from: record r, byte `pos` of its data.
    let r = k;
    let pos = hdr;
    let written = 0;
    for (let s = 0, done = 0; s < count; s++) {
      const len = Math.min(mss, total - done);
      const h = zone.tryTake();
      const dst = h < 0 ? -1 : zone.dataStart(h) + zone.headroom;
      if (h >= 0) bytes.copyWithin(dst, src, src + hdr);
      for (let left = len, o = dst + hdr; left > 0;) {
        const d = r * DESC_WORDS;
        const rlen = descs[d + 1] >>> 16;
        if (pos === rlen) {
          r++;
          pos = 0;
          continue;
        }
        const m = Math.min(left, rlen - pos);
        if (h >= 0) {
          const from = zone.dataStart(descs[d]) + (descs[d + 1] & 0xffff) + pos;
          bytes.copyWithin(o, from, from + m);
        }
        o += m;
        pos += m;
        left -= m;
      }
      if (h < 0) {
        this.noBufferDrops++;
      } else {
        const last = s === count - 1;
        const ipo = this._ip.attach(bytes, dst + l2, l3 + (hdr - l2 - l3) + len);
        ipo.totalLen = hdr - l2 + len;
        ipo.ident = (ident + s) & 0xffff;
        ipo.fillChecksum();
        const t = this._tcp.attach(bytes, dst + l2 + l3, hdr - l2 - l3 + len);
        t.seq = (seq + done) >>> 0;
        t.flags = last ? flags : flags & ~(TcpFlags.fin | TcpFlags.psh);
        t.fillChecksum(ipo.src, ipo.dst);
        const o = (at + written) * DESC_WORDS;
        out[o] = h;
        out[o + 1] = zone.headroom | ((hdr + len) << 16);
        out[o + 2] = 0;
        out[o + 3] = 0;
        written++;
      }
      done += len;
    }
    if (count > 1) {
      this.packets++;
      this.segments += count;
    }
    for (let q = 0; q < this.records; q++) zone.release(descs[(k + q) * DESC_WORDS]);
    return written;
  }
}
