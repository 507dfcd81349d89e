/**
 * UDP (RFC 768): a minimal view over the 8-byte header with the IPv4
 * pseudo-header checksum, and a parsed representation. The stack hands UDP to
 * the kernel; this is here for the classifier and for tests.
 *
 * @module
 */
import { internetChecksum, onesSum, pseudoHeaderSum } from "./checksum.ts";
import { Drop } from "./drop.ts";
import { WireView } from "./_view.ts";
import { IpProtocol } from "./ipv4.ts";
import { inBounds, needRoom, rd16, wr16 } from "./_bytes.ts";

/** Bytes of a UDP header. */
export const udpHeaderLen = 8;

/** A view over a UDP datagram in place; reusable, see {@link UdpPacket.wrap}. */
export class UdpPacket extends WireView {
  /** Validates the header and the length field against the buffer, once. */
  check(): Drop {
    if (!inBounds(this.bytes, this.offset, this.length) || this.length < udpHeaderLen) return Drop.truncated;
    const len = this.udpLen;
    if (len < udpHeaderLen || len > this.length) return Drop.udpBadLength;
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

  /** The length field: header and data in bytes. */
  get udpLen(): number {
    return rd16(this.bytes, this.offset + 4);
  }
  set udpLen(value: number) {
    wr16(this.bytes, this.offset + 4, value);
  }

  /** Checksum field (0: the sender computed none). */
  get checksum(): number {
    return rd16(this.bytes, this.offset + 6);
  }
  set checksum(value: number) {
    wr16(this.bytes, this.offset + 6, value);
  }

  /** Offset of the payload in {@link bytes}. */
  get payloadOffset(): number {
    return this.offset + udpHeaderLen;
  }

  /** Bytes of payload, from the length field. */
  get payloadLen(): number {
    return this.udpLen - udpHeaderLen;
  }

  /** Computes the checksum over the pseudo-header and the datagram and writes it (0 goes out as 0xffff, RFC 768). */
  fillChecksum(src: number, dst: number): void {
    const len = this.udpLen;
    this.checksum = 0;
    const sum = internetChecksum(
      this.bytes,
      this.offset,
      this.offset + len,
      pseudoHeaderSum(src, dst, IpProtocol.udp, len),
    );
    this.checksum = sum === 0 ? 0xffff : sum;
  }

  /** Whether the checksum verifies; a zero checksum (none sent) does. */
  verifyChecksum(src: number, dst: number): boolean {
    if (this.checksum === 0) return true;
    const len = this.udpLen;
    return onesSum(
      this.bytes,
      this.offset,
      this.offset + len,
      pseudoHeaderSum(src, dst, IpProtocol.udp, len),
    ) === 0xffff;
  }
}

/** A UDP header as values; the payload stays in the buffer. */
export class UdpRepr {
  /** Source port. */
  srcPort = 0;
  /** Destination port. */
  dstPort = 0;
  /** Bytes of payload. */
  payloadLen = 0;

  /** Reads a datagram into this representation, checking its checksum unless `verifyChecksum` is false. */
  parse(packet: UdpPacket, src: number, dst: number, verifyChecksum = true): Drop {
    const why = packet.check();
    if (why !== Drop.none) return why;
    if (verifyChecksum && !packet.verifyChecksum(src, dst)) return Drop.udpBadChecksum;
    this.srcPort = packet.srcPort;
    this.dstPort = packet.dstPort;
    this.payloadLen = packet.payloadLen;
    return Drop.none;
  }

  /**
   * Writes the header at the start of `packet` and, unless `fillChecksum` is
   * false, the checksum over it and the {@link payloadLen} bytes after it.
   * Throws a RangeError if `packet` holds less than {@link bufferLen} bytes.
   */
  emit(packet: UdpPacket, src: number, dst: number, fillChecksum = true): void {
    needRoom("UDP", packet.bytes, packet.offset, packet.length, udpHeaderLen + this.payloadLen);
    packet.srcPort = this.srcPort;
    packet.dstPort = this.dstPort;
    packet.udpLen = udpHeaderLen + this.payloadLen;
    packet.checksum = 0;
    if (fillChecksum) packet.fillChecksum(src, dst);
  }

  /** Bytes the datagram takes, payload included. */
  bufferLen(): number {
    return udpHeaderLen + this.payloadLen;
  }
}
