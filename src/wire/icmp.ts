/**
 * ICMP for IPv4 (RFC 792): a view over the 8-byte header and the message
 * checksum. The second word of the header is read as identifier and sequence
 * number, which is what it is for echo (ping); for other types it holds the
 * type's own fields.
 *
 * @module
 */
import { internetChecksum, onesSum } from "./checksum.ts";
import { Drop } from "./drop.ts";
import { WireView } from "./_view.ts";
import { inBounds, rd16, rd32, wr16, wr32 } from "./_bytes.ts";

/** ICMP message types this stack looks at (RFC 792). */
export const IcmpType = {
  /** Echo reply. */
  echoReply: 0,
  /** Destination unreachable. */
  destUnreachable: 3,
  /** Echo request. */
  echoRequest: 8,
  /** Time exceeded. */
  timeExceeded: 11,
} as const;

/** Bytes of an ICMP header. */
export const icmpHeaderLen = 8;

/** A view over an ICMP message in place; reusable, see {@link IcmpPacket.wrap}. */
export class IcmpPacket extends WireView {
  /** Validates the length once. */
  check(): Drop {
    if (!inBounds(this.bytes, this.offset, this.length) || this.length < icmpHeaderLen) return Drop.truncated;
    return Drop.none;
  }

  /** Message type, see {@link IcmpType}. */
  get type(): number {
    return this.bytes[this.offset];
  }
  set type(value: number) {
    this.bytes[this.offset] = value;
  }

  /** Message code. */
  get code(): number {
    return this.bytes[this.offset + 1];
  }
  set code(value: number) {
    this.bytes[this.offset + 1] = value;
  }

  /** Checksum field. */
  get checksum(): number {
    return rd16(this.bytes, this.offset + 2);
  }
  set checksum(value: number) {
    wr16(this.bytes, this.offset + 2, value);
  }

  /** The second header word, whole (uint32). */
  get rest(): number {
    return rd32(this.bytes, this.offset + 4);
  }
  set rest(value: number) {
    wr32(this.bytes, this.offset + 4, value);
  }

  /** Echo identifier (the high half of {@link rest}). */
  get ident(): number {
    return rd16(this.bytes, this.offset + 4);
  }
  set ident(value: number) {
    wr16(this.bytes, this.offset + 4, value);
  }

  /** Echo sequence number (the low half of {@link rest}). */
  get seqNo(): number {
    return rd16(this.bytes, this.offset + 6);
  }
  set seqNo(value: number) {
    wr16(this.bytes, this.offset + 6, value);
  }

  /** Offset of the payload in {@link bytes}. */
  get payloadOffset(): number {
    return this.offset + icmpHeaderLen;
  }

  /** Bytes of payload. */
  get payloadLen(): number {
    return this.length - icmpHeaderLen;
  }

  /** Computes the checksum over the whole message and writes it. */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes, this.offset, this.offset + this.length);
  }

  /** Whether the message checksum verifies. */
  verifyChecksum(): boolean {
    return onesSum(this.bytes, this.offset, this.offset + this.length) === 0xffff;
  }
}
