/**
 * ARP for IPv4 over Ethernet (RFC 826): a view over the 28-byte packet. Other
 * hardware or protocol types are dropped as {@link Drop.arpUnsupported}.
 *
 * @module
 */
import { Drop } from "./drop.ts";
import { WireView } from "./_view.ts";
import { EtherType } from "./ethernet.ts";
import { inBounds, rd16, rd32, rd48, wr16, wr32, wr48 } from "./_bytes.ts";

/** ARP operation codes (RFC 826). */
export const ArpOp = {
  /** Who has the target protocol address? */
  request: 1,
  /** The sender hardware address has the sender protocol address. */
  reply: 2,
} as const;

/** Hardware type of Ethernet (RFC 826, IANA "Hardware Types"). */
export const arpHardwareEthernet = 1;

/** Bytes of an Ethernet/IPv4 ARP packet. */
export const arpPacketLen = 28;

// The fixed part that says what the addresses are.
const arpFixedLen = 8;

/** A view over an Ethernet/IPv4 ARP packet in place; reusable, see {@link ArpPacket.wrap}. */
export class ArpPacket extends WireView {
  /** Validates the lengths and that this is Ethernet/IPv4 ARP. */
  check(): Drop {
    if (!inBounds(this.bytes, this.offset, this.length) || this.length < arpFixedLen) return Drop.truncated;
    if (
      this.hardwareType !== arpHardwareEthernet || this.protocolType !== EtherType.ipv4 ||
      this.hardwareLen !== 6 || this.protocolLen !== 4
    ) {
      return Drop.arpUnsupported;
    }
    if (this.length < arpPacketLen) return Drop.truncated;
    return Drop.none;
  }

  /** Hardware type (1: Ethernet). */
  get hardwareType(): number {
    return rd16(this.bytes, this.offset);
  }
  set hardwareType(value: number) {
    wr16(this.bytes, this.offset, value);
  }

  /** Protocol type, an EtherType (0x0800: IPv4). */
  get protocolType(): number {
    return rd16(this.bytes, this.offset + 2);
  }
  set protocolType(value: number) {
    wr16(this.bytes, this.offset + 2, value);
  }

  /** Bytes of a hardware address (6). */
  get hardwareLen(): number {
    return this.bytes[this.offset + 4];
  }
  set hardwareLen(value: number) {
    this.bytes[this.offset + 4] = value;
  }

  /** Bytes of a protocol address (4). */
  get protocolLen(): number {
    return this.bytes[this.offset + 5];
  }
  set protocolLen(value: number) {
    this.bytes[this.offset + 5] = value;
  }

  /** Operation, see {@link ArpOp}. */
  get operation(): number {
    return rd16(this.bytes, this.offset + 6);
  }
  set operation(value: number) {
    wr16(this.bytes, this.offset + 6, value);
  }

  /** Sender hardware (MAC) address. */
  get senderMac(): number {
    return rd48(this.bytes, this.offset + 8);
  }
  set senderMac(mac: number) {
    wr48(this.bytes, this.offset + 8, mac);
  }

  /** Sender protocol (IPv4) address. */
  get senderIp(): number {
    return rd32(this.bytes, this.offset + 14);
  }
  set senderIp(addr: number) {
    wr32(this.bytes, this.offset + 14, addr);
  }

  /** Target hardware (MAC) address. */
  get targetMac(): number {
    return rd48(this.bytes, this.offset + 18);
  }
  set targetMac(mac: number) {
    wr48(this.bytes, this.offset + 18, mac);
  }

  /** Target protocol (IPv4) address. */
  get targetIp(): number {
    return rd32(this.bytes, this.offset + 24);
  }
  set targetIp(addr: number) {
    wr32(this.bytes, this.offset + 24, addr);
  }
}
