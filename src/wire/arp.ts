/**
 * ARP for IPv4 over Ethernet (RFC 826): a view over the 28-byte packet and a
 * parsed representation. Other hardware or protocol types are dropped as
 * {@link Drop.arpUnsupported}.
 *
 * @module
 */
import { Drop } from "./drop.ts";
import { WireView } from "./_view.ts";
import { EtherType } from "./ethernet.ts";
import { inBounds, needRoom, rd16, rd32, rd48, wr16, wr32, wr48 } from "./_bytes.ts";

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

/** An Ethernet/IPv4 ARP packet as values. */
export class ArpRepr {
  /** Operation, see {@link ArpOp}. */
  operation = 0;
  /** Sender MAC address. */
  senderMac = 0;
  /** Sender IPv4 address. */
  senderIp = 0;
  /** Target MAC address (zero in a request). */
  targetMac = 0;
  /** Target IPv4 address. */
  targetIp = 0;

  /** Reads a packet into this representation; {@link Drop.none} or why not. */
  parse(packet: ArpPacket): Drop {
    const why = packet.check();
    if (why !== Drop.none) return why;
    this.operation = packet.operation;
    this.senderMac = packet.senderMac;
    this.senderIp = packet.senderIp;
    this.targetMac = packet.targetMac;
    this.targetIp = packet.targetIp;
    return Drop.none;
  }

  /** Writes this packet at the start of `packet`; throws a RangeError if it holds less than {@link bufferLen} bytes. */
  emit(packet: ArpPacket): void {
    needRoom("ARP", packet.bytes, packet.offset, packet.length, arpPacketLen);
    packet.hardwareType = arpHardwareEthernet;
    packet.protocolType = EtherType.ipv4;
    packet.hardwareLen = 6;
    packet.protocolLen = 4;
    packet.operation = this.operation;
    packet.senderMac = this.senderMac;
    packet.senderIp = this.senderIp;
    packet.targetMac = this.targetMac;
    packet.targetIp = this.targetIp;
  }

  /** Bytes the packet takes. */
  bufferLen(): number {
    return arpPacketLen;
  }
}
