/**
 * The wire layer: header views and parsed representations for Ethernet, ARP,
 * IPv4, ICMP, UDP and TCP, Internet checksums, TCP sequence arithmetic, and
 * the reasons a received packet is dropped.
 *
 * The contract, after smoltcp's `src/wire`:
 * - A view (`Ipv4Packet`, `TcpPacket`, ...) reads and writes fields in place
 *   over `(bytes, offset, length)`. It is reusable: keep one per worker and
 *   re-point it per packet with `wrap` (received: attaches and checks) or
 *   `attach` (built: no checks). After `wrap` or `check` returns
 *   `Drop.none`, no accessor reads outside the packet. Nothing throws on the
 *   receive path; nothing allocates in an accessor.
 * - A representation (`Ipv4Repr`, `TcpRepr`, ...) holds a header as values:
 *   `parse` fills it from a view (returning a {@link Drop} reason),
 *   `emit` writes it into a view, `bufferLen` says how many bytes that takes.
 *   Payloads are never copied: they stay in the buffer, and a repr carries
 *   only their length.
 * - Addresses are numbers: IPv4 as uint32, MAC as 48-bit integers.
 *
 * @module
 */
export { Drop, dropReasonCount, dropReasonName } from "./drop.ts";
export {
  checksumUpdate16,
  checksumUpdate32,
  internetChecksum,
  onesFold,
  onesSum,
  pseudoHeaderSum,
} from "./checksum.ts";
export { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from "./seq.ts";
export {
  EthernetFrame,
  ethernetHeaderLen,
  EthernetRepr,
  EtherType,
  formatMac,
  isMulticastMac,
  macBroadcast,
  parseMac,
  readMac,
  writeMac,
} from "./ethernet.ts";
export { arpHardwareEthernet, ArpOp, ArpPacket, arpPacketLen, ArpRepr } from "./arp.ts";
export { formatIpv4, IpProtocol, ipv4HeaderLen, Ipv4Packet, Ipv4Repr, parseIpv4 } from "./ipv4.ts";
export { icmpHeaderLen, IcmpPacket, IcmpRepr, IcmpType } from "./icmp.ts";
export { udpHeaderLen, UdpPacket, UdpRepr } from "./udp.ts";
export { TcpFlags, tcpHeaderLen, TcpPacket, TcpRepr } from "./tcp.ts";
export {
  sackBlocksMax,
  TcpOptionCursor,
  TcpOptionKind,
  TcpOptions,
  tcpOptionsLenMax,
} from "./tcp_options.ts";
