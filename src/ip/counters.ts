/**
 * Counters of the link and IP layers, per layer and per drop reason: the
 * start of what `netstat -s` gives a kernel user. Fields are plain numbers
 * incremented in place on the receive and send paths; {@link
 * IpCounters.snapshot} turns them into one object for stats and tests.
 *
 * Every received frame ends in exactly one outcome — handled by ARP, by
 * ICMP, delivered to TCP, or dropped for one reason — so
 * `linkRxFrames === accountedRxFrames()` always holds.
 *
 * @module
 */
import { dropReasonCount, dropReasonName } from "../wire/mod.ts";

/**
 * Why a datagram was dropped as martian (RFC 1122 3.2.1.3, RFC 1812 5.3.7):
 * a source no host may send from, or TCP to a broadcast or multicast
 * destination (RFC 1122 4.2.3.10). Never answered, never given state.
 */
export const Martian = {
  /** From 255.255.255.255 or the subnet's broadcast address. */
  broadcast: 0,
  /** From 224.0.0.0/4. */
  multicast: 1,
  /** From 127.0.0.0/8. */
  loopback: 2,
  /** From 0.0.0.0/8 ("this network"). */
  unspecified: 3,
  /** From 240.0.0.0/4 (class E, reserved). */
  classE: 4,
  /** From our own address. */
  own: 5,
  /** TCP to a broadcast or multicast address. */
  tcpToBroadcast: 6,
} as const;
/** One of {@link Martian}. */
export type Martian = (typeof Martian)[keyof typeof Martian];
const martianNames = Object.keys(Martian);

/** Counters of the link, ARP, IPv4 and ICMP layers. */
export class IpCounters {
  /** Malformed-frame drops, indexed by wire {@link Drop} reason. */
  readonly malformed: Uint32Array = new Uint32Array(dropReasonCount);
  /** Martian datagrams dropped, indexed by {@link Martian} reason. */
  readonly martians: Uint32Array = new Uint32Array(martianNames.length);

  linkRxFrames = 0;
  linkRxBytes = 0;
  linkTxFrames = 0;
  linkTxBytes = 0;
  /** Frames the device did not take and the send queue could not hold. */
  linkTxDropped = 0;
  /** Received frames addressed to another MAC (neither ours nor broadcast/multicast). */
  linkNotForUs = 0;

  arpRequestsIn = 0;
  arpRepliesIn = 0;
  arpRequestsOut = 0;
  arpRepliesOut = 0;
  /** ARP packets about other hosts' addresses (heard, learned from where allowed, not answered). */
  arpOther = 0;
  /** Frames not sent because the zone had no free buffer. */
  noBufferDrops = 0;
  /** Packets dropped because their next hop never answered ARP. */
  arpUnresolvedDrops = 0;
  /** Packets dropped because the queue waiting for a neighbour was full. */
  arpQueueDrops = 0;

  ipInReceives = 0;
  ipInDelivers = 0;
  /** Datagrams for another host. */
  ipNotForUs = 0;
  /** Fragments: counted and dropped (no reassembly here; the kernel path takes them later). */
  ipFragments = 0;
  /** UDP datagrams: no UDP service here; counted and dropped. */
  udpNoService = 0;
  ipOutRequests = 0;
  /** Datagrams with no route: the destination is off-link and there is no gateway. */
  ipOutNoRoutes = 0;

  icmpInEchos = 0;
  icmpOutEchoReps = 0;
  /** ICMP messages other than echo requests: counted and consumed. */
  icmpInOther = 0;

  tcpInSegs = 0;

  /** Frames dropped as malformed, all reasons together. */
  malformedTotal(): number {
    let n = 0;
    for (let i = 0; i < this.malformed.length; i++) n += this.malformed[i];
    return n;
  }

  /** Received frames whose outcome is counted: equals {@link linkRxFrames}. */
  accountedRxFrames(): number {
    return this.malformedTotal() + this.linkNotForUs + this.arpRequestsIn + this.arpRepliesIn +
      this.arpOther + this.ipNotForUs + this.ipFragments + this.udpNoService + this.icmpInEchos +
      this.icmpInOther + this.tcpInSegs + this.martianTotal();
  }

  /** Martian datagrams dropped, all reasons together. */
  martianTotal(): number {
    let n = 0;
    for (let i = 0; i < this.martians.length; i++) n += this.martians[i];
    return n;
  }

  /** All counters as one plain object, drop reasons by name. */
  snapshot(): IpStats {
    const martians: Record<string, number> = {};
    for (let i = 0; i < martianNames.length; i++) martians[martianNames[i]] = this.martians[i];
    const malformed: Record<string, number> = {};
    for (let i = 1; i < this.malformed.length; i++) {
      if (this.malformed[i] !== 0) malformed[dropReasonName(i as never)] = this.malformed[i];
    }
    return {
      link: {
        rxFrames: this.linkRxFrames,
        rxBytes: this.linkRxBytes,
        txFrames: this.linkTxFrames,
        txBytes: this.linkTxBytes,
        txDropped: this.linkTxDropped,
        notForUs: this.linkNotForUs,
        noBufferDrops: this.noBufferDrops,
      },
      arp: {
        requestsIn: this.arpRequestsIn,
        repliesIn: this.arpRepliesIn,
        requestsOut: this.arpRequestsOut,
        repliesOut: this.arpRepliesOut,
        other: this.arpOther,
        unresolvedDrops: this.arpUnresolvedDrops,
        queueDrops: this.arpQueueDrops,
      },
      ip: {
        inReceives: this.ipInReceives,
        inDelivers: this.ipInDelivers,
        notForUs: this.ipNotForUs,
        fragments: this.ipFragments,
        outRequests: this.ipOutRequests,
        outNoRoutes: this.ipOutNoRoutes,
      },
      icmp: { inEchos: this.icmpInEchos, outEchoReps: this.icmpOutEchoReps, inOther: this.icmpInOther },
      udp: { noService: this.udpNoService },
      tcp: { inSegs: this.tcpInSegs },
      malformed,
      malformedTotal: this.malformedTotal(),
      martians,
    };
  }
}

/** A snapshot of {@link IpCounters}. */
export interface IpStats {
  /** Frames and bytes in and out, and frames dropped at the link. */
  link: {
    rxFrames: number;
    rxBytes: number;
    txFrames: number;
    txBytes: number;
    txDropped: number;
    notForUs: number;
    noBufferDrops: number;
  };
  /** ARP requests and replies, and frames dropped waiting for a neighbour. */
  arp: {
    requestsIn: number;
    repliesIn: number;
    requestsOut: number;
    repliesOut: number;
    other: number;
    unresolvedDrops: number;
    queueDrops: number;
  };
  /** IPv4 datagrams in, delivered and out (RFC 4293's names). */
  ip: {
    inReceives: number;
    inDelivers: number;
    notForUs: number;
    fragments: number;
    outRequests: number;
    outNoRoutes: number;
  };
  /** ICMP echo requests answered, and other ICMP. */
  icmp: { inEchos: number; outEchoReps: number; inOther: number };
  /** UDP datagrams for no one. */
  udp: { noService: number };
  /** TCP segments handed up. */
  tcp: { inSegs: number };
  /** Malformed frames dropped, by reason. */
  malformed: Record<string, number>;
  /** Malformed frames dropped, all reasons. */
  malformedTotal: number;
  /** Martian datagrams dropped, by {@link Martian} reason. */
  martians: Record<string, number>;
}
