/**
 * A received segment, parsed once on arrival into reusable fields (one
 * instance per TCP layer: nothing is allocated per segment).
 *
 * @module
 */
import { type Ipv4Packet, TcpFlags, TcpOptions, type TcpPacket } from "../wire/mod.ts";
import { Drop } from "../wire/mod.ts";
import type { RxChain } from "../ip/rx_chain.ts";

/** The fields of the segment being processed. */
export class Segment {
  /** Its buffer. */
  h = 0;
  srcIp = 0;
  dstIp = 0;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** Window field, unscaled. */
  wnd = 0;
  /** Zone offset of the payload. */
  payloadOff = 0;
  /** Bytes of payload: in the first buffer ({@link headLen}) and in the chain's links after it. */
  payloadLen = 0;
  /** The IP header's ECN field (RFC 3168 5): 3 is CE, congestion experienced. */
  ecn = 0;
  /** Bytes of payload in the first buffer, from {@link payloadOff}. */
  headLen = 0;
  /**
   * A chained segment's further links (payload only, in sequence after the
   * first buffer's), or null; see RxChain for who releases what.
   */
  chain: RxChain | null = null;
  readonly options: TcpOptions = new TcpOptions();

  /** Reads the segment; returns a drop reason for malformed options. */
  load(h: number, ip: Ipv4Packet, tcp: TcpPacket, chain?: RxChain): Drop {
    this.h = h;
    this.srcIp = ip.src;
    this.dstIp = ip.dst;
    this.ecn = ip.ecn;
    this.srcPort = tcp.srcPort;
    this.dstPort = tcp.dstPort;
    this.seq = tcp.seq;
    this.ack = tcp.ack;
    this.flags = tcp.flags;
    this.wnd = tcp.window;
    const headerLen = tcp.headerLen;
    const start = tcp.offset + 20;
    const end = tcp.offset + headerLen;
    const headLen = tcp.length - headerLen;
    this.payloadOff = end;
    this.headLen = headLen;
    if (chain !== undefined && chain.count > 0) {
      this.chain = chain;
      this.payloadLen = headLen + chain.bytes;
    } else {
      this.chain = null;
      this.payloadLen = headLen;
    }
    if (end > start) return this.options.parse(tcp.bytes, start, end); // parse clears first
    this.options.clear();
    return Drop.none;
  }

  /** SEG.LEN: payload plus one for SYN and one for FIN (RFC 9293 3.4). */
  get len(): number {
    return this.payloadLen + (this.flags & TcpFlags.syn ? 1 : 0) + (this.flags & TcpFlags.fin ? 1 : 0);
  }

  has(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }
}
