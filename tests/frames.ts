// Headers for frames that tests build, written through the wire views as the
// stack's own send path writes them (src/ip/ipv4_layer.ts): src/wire keeps a
// value representation for TCP only (TcpRepr, which the TCP output fills).
import { EthernetFrame, ethernetHeaderLen, ipv4HeaderLen, Ipv4Packet, UdpPacket } from "../src/wire/mod.ts";

/** Writes an Ethernet II header at `bytes[offset..offset + 14)`. */
export function writeEthernet(
  bytes: Uint8Array,
  offset: number,
  dst: number,
  src: number,
  ethertype: number,
): void {
  const eth = new EthernetFrame(bytes, offset, ethernetHeaderLen);
  eth.dst = dst;
  eth.src = src;
  eth.ethertype = ethertype;
}

/**
 * Writes a 20-byte IPv4 header (DF set, no options) for `payloadLen` bytes of
 * payload at `bytes[offset..)`, and its checksum.
 */
export function writeIpv4(
  bytes: Uint8Array,
  offset: number,
  src: number,
  dst: number,
  protocol: number,
  payloadLen: number,
  ttl = 64,
  ident = 0,
): void {
  const ip = new Ipv4Packet(bytes, offset, ipv4HeaderLen + payloadLen);
  bytes[offset] = 0x45;
  bytes[offset + 1] = 0;
  ip.totalLen = ipv4HeaderLen + payloadLen;
  ip.ident = ident;
  bytes[offset + 6] = 0x40; // DF, offset 0
  bytes[offset + 7] = 0;
  ip.ttl = ttl;
  ip.protocol = protocol;
  ip.src = src;
  ip.dst = dst;
  ip.fillChecksum();
}

/**
 * Writes a UDP header for the `payloadLen` bytes already at
 * `bytes[offset + 8..)`, and its checksum over the IPv4 pseudo-header.
 */
export function writeUdp(
  bytes: Uint8Array,
  offset: number,
  srcIp: number,
  dstIp: number,
  srcPort: number,
  dstPort: number,
  payloadLen: number,
): void {
  const udp = new UdpPacket(bytes, offset, 8 + payloadLen);
  udp.srcPort = srcPort;
  udp.dstPort = dstPort;
  udp.udpLen = 8 + payloadLen;
  udp.fillChecksum(srcIp, dstIp);
}
