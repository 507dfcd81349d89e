/**
 * UDP (RFC 768): a minimal view over the 8-byte header with the IPv4
 * pseudo-header checksum. The stack hands UDP to the kernel, and its receive
 * path counts UDP datagrams without reading their header: for now only tests
 * use this view (to build UDP frames).
 *
 * @module
 */
import { internetChecksum, onesSum, pseudoHeaderSum } from "./checksum.ts";
import { Drop } from "./drop.ts";
import { WireView } from "./_view.ts";
import { IpProtocol } from "./ipv4.ts";
import { inBounds, rd16, wr16 } from "./_bytes.ts";

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
