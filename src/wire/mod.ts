/**
 * The wire layer: header views for Ethernet, ARP, IPv4, ICMP, UDP and TCP, a
 * representation of the TCP header, Internet checksums, TCP sequence
 * arithmetic, and the reasons a received packet is dropped.
 *
 * The contract, after smoltcp's `src/wire`:
 * - A view (`Ipv4Packet`, `TcpPacket`, ...) reads and writes fields in place
 *   over `(bytes, offset, length)`. It is reusable: keep one per worker and
 *   re-point it per packet with `wrap` (received: attaches and checks) or
 *   `attach` (built: no checks). After `wrap` or `check` returns
 *   `Drop.none`, no accessor reads outside the packet. Nothing throws on the
 *   receive path; nothing allocates in an accessor.
 * - A representation (`TcpRepr`) holds a header as values: `parse` fills it
 *   from a view (returning a {@link Drop} reason), `emit` writes it into a
 *   view, `bufferLen` says how many bytes that takes. Payloads are never
 *   copied: they stay in the buffer, and a repr carries only their length.
 * - Addresses are numbers: IPv4 as uint32, MAC as 48-bit integers.
 *
 * Only TCP has a representation, because only TCP builds its headers from
 * one: the TCP output fills one shared `TcpRepr` per segment (flags, window,
 * options) and emits it. The IP layer (src/ip/ipv4_layer.ts) writes the
 * Ethernet, IPv4, ARP and ICMP headers field by field through the views, and
 * representations of those headers (and of UDP, which the stack hands to the
 * kernel) were used by tests alone, so they were removed. Emitting through
 * them was measured first, with `bun bench/micro_headers.ts` and
 * `deno run bench/micro_headers.ts` (the IPv4 and Ethernet headers of
 * `sendTcp`, a reused `Ipv4Repr` and `EthernetRepr` against the hand-written
 * code, identical bytes checked first; median ns per segment on a shared
 * 2-core machine): with the IPv4 checksum in software, Bun 28.4 by hand
 * against 37.6 through the representations (+32%), Deno 36.9 against 45.7
 * (+24%); with the checksum left to the NIC, Bun 16.2 against 28.1 (+73%),
 * Deno 23.1 against 28.0 (+21%). That is far outside noise (~5%), on the
 * one path every segment takes.
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
  EtherType,
  formatMac,
  isMulticastMac,
  macBroadcast,
  parseMac,
  readMac,
  writeMac,
} from "./ethernet.ts";
export { arpHardwareEthernet, ArpOp, ArpPacket, arpPacketLen } from "./arp.ts";
export { formatIpv4, IpProtocol, ipv4HeaderLen, Ipv4Packet, parseIpv4 } from "./ipv4.ts";
export { icmpHeaderLen, IcmpPacket, IcmpType } from "./icmp.ts";
export { udpHeaderLen, UdpPacket } from "./udp.ts";
export { TcpFlags, tcpHeaderLen, TcpPacket, TcpRepr } from "./tcp.ts";
export {
  sackBlocksMax,
  TcpOptionCursor,
  TcpOptionKind,
  TcpOptions,
  tcpOptionsLenMax,
} from "./tcp_options.ts";
