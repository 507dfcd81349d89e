/**
 * TCP segments (RFC 9293 3.1): a view over the header in place, with the
 * IPv4 pseudo-header checksum, and a parsed representation with its options.
 * A segment's length is the IP payload length: attach the view with that,
 * never with what is left of the buffer (Ethernet pads short frames).
 *
 * @example
 * ```ts
 * import { TcpPacket, TcpRepr, TcpFlags } from "./tcp.ts";
 * import { Drop } from "./drop.ts";
 * const segment = new TcpPacket(); // one per worker, re-pointed per packet
 * const repr = new TcpRepr();
 * const bytes = new Uint8Array(64);
 * const src = 0xc6120001, dst = 0xc6120002;
 * segment.attach(bytes, 0, 20);
 * repr.flags = TcpFlags.syn;
 * repr.emit(segment, src, dst);
 * repr.parse(segment, src, dst); // Drop.none
 * ```
 *
 * @module
 */
import { internetChecksum, onesSum, pseudoHeaderSum } from "./checksum.ts";
import { Drop } from "./drop.ts";
import { WireView } from "./_view.ts";
import { IpProtocol } from "./ipv4.ts";
import { TcpOptions } from "./tcp_options.ts";
import { inBounds, needRoom, rd16, rd32, wr16, wr32 } from "./_bytes.ts";

/** Control bits of the flags byte (RFC 9293 3.1, RFC 3168 for ECE and CWR). */
export const TcpFlags = {
  /** No more data from sender. */
  fin: 0x01,
  /** Synchronize sequence numbers. */
  syn: 0x02,
  /** Reset the connection. */
  rst: 0x04,
  /** Push function. */
  psh: 0x08,
  /** Acknowledgment field is significant. */
  ack: 0x10,
  /** Urgent pointer field is significant. */
  urg: 0x20,
  /** ECN-Echo. */
  ece: 0x40,
  /** Congestion Window Reduced. */
  cwr: 0x80,
} as const;

/** Bytes of a TCP header without options. */
export const tcpHeaderLen = 20;

/** A view over a TCP segment in place; reusable, see {@link TcpPacket.wrap}. */
export class TcpPacket extends WireView {
  // attach and wrap again here, not only in WireView: one copy per class keeps the field stores
  // and the call to check() monomorphic on the per-frame path (one shared copy saw every view class).
  /** Points the view without checks (for building a header). */
  override attach(bytes: Uint8Array, offset: number, length: number): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Points the view at a received header and checks it: `Drop.none` if every accessor is safe. */
  override wrap(bytes: Uint8Array, offset: number, length: number): Drop {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this.check();
  }

  /** Validates the length and the data offset once; options and checksum are checked by {@link TcpRepr.parse}. */
  check(): Drop {
    if (!inBounds(this.bytes, this.offset, this.length) || this.length < tcpHeaderLen) return Drop.truncated;
    const headerLen = this.headerLen;
    if (headerLen < tcpHeaderLen || headerLen > this.length) return Drop.tcpBadDataOffset;
    return Drop.none;
  }

  /** Source port. */
  get srcPort(): number {
    return rd16(this.bytes, this.offset);
  }
  set srcPort(value: number) {
    wr16(this.bytes, this.offset, value);
  }

  /** Destination port. */
  get dstPort(): number {
    return rd16(this.bytes, this.offset + 2);
  }
  set dstPort(value: number) {
    wr16(this.bytes, this.offset + 2, value);
  }

  /** Sequence number (uint32). */
  get seq(): number {
    return rd32(this.bytes, this.offset + 4);
  }
  set seq(value: number) {
    wr32(this.bytes, this.offset + 4, value);
  }

  /** Acknowledgment number (uint32). */
  get ack(): number {
    return rd32(this.bytes, this.offset + 8);
  }
  set ack(value: number) {
    wr32(this.bytes, this.offset + 8, value);
  }

  /** Header length in bytes (data offset times 4); the setter takes a multiple of 4. */
  get headerLen(): number {
    return (this.bytes[this.offset + 12] >>> 4) << 2;
  }
  set headerLen(bytes: number) {
    const o = this.offset + 12;
    this.bytes[o] = (this.bytes[o] & 0x0f) | ((bytes >>> 2) << 4);
  }

  /** Control bits, see {@link TcpFlags}. */
  get flags(): number {
    return this.bytes[this.offset + 13];
  }
  set flags(value: number) {
    this.bytes[this.offset + 13] = value;
  }

  /** Window field, unscaled. */
  get window(): number {
    return rd16(this.bytes, this.offset + 14);
  }
  set window(value: number) {
    wr16(this.bytes, this.offset + 14, value);
  }

  /** Checksum field. */
  get checksum(): number {
    return rd16(this.bytes, this.offset + 16);
  }
  set checksum(value: number) {
    wr16(this.bytes, this.offset + 16, value);
  }

  /** Urgent pointer. */
  get urgent(): number {
    return rd16(this.bytes, this.offset + 18);
  }
  set urgent(value: number) {
    wr16(this.bytes, this.offset + 18, value);
  }

  /** Offset of the options in {@link bytes}. */
  get optionsOffset(): number {
    return this.offset + tcpHeaderLen;
  }

  /** Bytes of options (and their padding). */
  get optionsLen(): number {
    return this.headerLen - tcpHeaderLen;
  }

  /** Offset of the payload in {@link bytes}. */
  get payloadOffset(): number {
    return this.offset + this.headerLen;
  }

  /** Bytes of payload. */
  get payloadLen(): number {
    return this.length - this.headerLen;
  }

  /** Computes the checksum over the pseudo-header and the whole segment and writes it. */
  fillChecksum(src: number, dst: number): void {
    this.checksum = 0;
    this.checksum = internetChecksum(
      this.bytes,
      this.offset,
      this.offset + this.length,
      pseudoHeaderSum(src, dst, IpProtocol.tcp, this.length),
    );
  }

  /**
   * Writes the pseudo-header sum, uncomplemented, in the checksum field: what
   * a NIC's TCP checksum offload expects to find there (DPDK's
   * rte_ipv4_phdr_cksum).
   */
  fillPseudoHeaderSum(src: number, dst: number): void {
    this.checksum = pseudoHeaderSum(src, dst, IpProtocol.tcp, this.length);
  }

  /** Whether the checksum verifies. */
  verifyChecksum(src: number, dst: number): boolean {
    const sum = onesSum(
      this.bytes,
      this.offset,
      this.offset + this.length,
      pseudoHeaderSum(src, dst, IpProtocol.tcp, this.length),
    );
    return sum === 0xffff;
  }
}

/** A TCP header as values, options included; the payload stays in the buffer. */
export class TcpRepr {
  /** Source port. */
  srcPort = 0;
  /** Destination port. */
  dstPort = 0;
  /** Sequence number. */
  seq = 0;
  /** Acknowledgment number (meaningful with {@link TcpFlags.ack}). */
  ack = 0;
  /** Control bits, see {@link TcpFlags}. */
  flags = 0;
  /** Window field, unscaled. */
  window = 0;
  /** Urgent pointer. */
  urgent = 0;
  /** Options. */
  readonly options: TcpOptions = new TcpOptions();
  /** Bytes of payload after the header. */
  payloadLen = 0;

  /**
   * Reads a segment into this representation: {@link Drop.none}, or why it
   * is dropped (length, data offset, checksum unless `verifyChecksum` is
   * false, option lengths).
   */
  parse(packet: TcpPacket, src: number, dst: number, verifyChecksum = true): Drop {
    const why = packet.check();
    if (why !== Drop.none) return why;
    if (verifyChecksum && !packet.verifyChecksum(src, dst)) return Drop.tcpBadChecksum;
    const headerLen = packet.headerLen;
    this.srcPort = packet.srcPort;
    this.dstPort = packet.dstPort;
    this.seq = packet.seq;
    this.ack = packet.ack;
    this.flags = packet.flags;
    this.window = packet.window;
    this.urgent = packet.urgent;
    this.payloadLen = packet.length - headerLen;
    return this.options.parse(packet.bytes, packet.offset + tcpHeaderLen, packet.offset + headerLen);
  }

  /**
   * Writes the header and options at the start of `packet` and, unless
   * `fillChecksum` is false, the checksum over them and the {@link payloadLen}
   * bytes already after them. Throws a RangeError if `packet` holds less
   * than {@link bufferLen} bytes.
   */
  emit(packet: TcpPacket, src: number, dst: number, fillChecksum = true): void {
    const b = packet.bytes;
    const o = packet.offset;
    const headerLen = this.headerLen(); // counted once: options.emit writes as many bytes
    needRoom("TCP", b, o, packet.length, headerLen + this.payloadLen);
    wr16(b, o, this.srcPort);
    wr16(b, o + 2, this.dstPort);
    wr32(b, o + 4, this.seq);
    wr32(b, o + 8, this.ack);
    this.options.emit(b, o + tcpHeaderLen);
    b[o + 12] = (headerLen >>> 2) << 4;
    b[o + 13] = this.flags;
    wr16(b, o + 14, this.window);
    wr16(b, o + 16, 0);
    wr16(b, o + 18, this.urgent);
    if (fillChecksum) {
      const len = headerLen + this.payloadLen;
      wr16(b, o + 16, internetChecksum(b, o, o + len, pseudoHeaderSum(src, dst, IpProtocol.tcp, len)));
    }
  }

  /** Bytes of the header, options included. */
  headerLen(): number {
    return tcpHeaderLen + this.options.emitLen();
  }

  /** Bytes the segment takes, header and payload. */
  bufferLen(): number {
    return this.headerLen() + this.payloadLen;
  }

  /** Sequence space the segment takes: payload, plus one each for SYN and FIN (RFC 9293 3.4). */
  segmentLen(): number {
    return this.payloadLen + (this.flags & TcpFlags.syn ? 1 : 0) + (this.flags & TcpFlags.fin ? 1 : 0);
  }

  /** Copies every field from `other`. */
  copyFrom(other: TcpRepr): void {
    this.srcPort = other.srcPort;
    this.dstPort = other.dstPort;
    this.seq = other.seq;
    this.ack = other.ack;
    this.flags = other.flags;
    this.window = other.window;
    this.urgent = other.urgent;
    this.options.copyFrom(other.options);
    this.payloadLen = other.payloadLen;
  }
}
