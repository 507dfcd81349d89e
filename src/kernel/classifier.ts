/**
 * The classifier of kernel coexistence (LUNA's traffic model): for each
 * frame that reaches the NIC it decides who gets it. The stack takes only
 * the TCP flows it owns — segments to our address for a port it listens on,
 * or for a connection it has — and the kernel gets everything else
 * unchanged: ARP, ICMP, UDP, IPv6, IPv4 fragments, TCP to other ports or
 * other addresses, frames for other MACs, and whatever the classifier cannot
 * parse (the kernel judges it, as it would without luna-ts). ARP goes to
 * both: the kernel answers it, the stack learns neighbours from it.
 *
 * Fragments go to the kernel even for a port the stack owns: the stack does
 * not reassemble (RFC 791), and only the first fragment carries the ports.
 *
 * @example
 * ```ts
 * import { Classifier, Path } from "./classifier.ts";
 * const c = new Classifier({ address: 0xc6120002, mac: 0x020000000001, claim: (p) => p === 8080 ? 0 : -1 });
 * const frame = new Uint8Array(60); // an Ethernet frame
 * c.classify(frame, 0, frame.length) === Path.kernel;
 * ```
 *
 * @module
 */
import { Drop, EthernetFrame, EtherType, IpProtocol, Ipv4Packet, tcpHeaderLen } from "../wire/mod.ts";

/** Where a frame goes. */
export const Path = {
  /** The stack's receive path. */
  stack: 0,
  /** The kernel, through the exception path. */
  kernel: 1,
  /** Both (ARP): the kernel answers, the stack learns. */
  both: 2,
  /** Nowhere: too short to be an Ethernet frame. */
  drop: 3,
} as const;
/** One of {@link Path}. */
export type Path = (typeof Path)[keyof typeof Path];

/** What the classifier asks of the stack. */
export interface FlowOwner {
  /** Our IPv4 address (uint32); 0 while the kernel has given us none. */
  readonly address: number;
  /** Our MAC (48-bit). */
  readonly mac: number;
  /**
   * Whether a TCP segment to `localPort` from `remoteIp:remotePort` is the
   * stack's (TcpLayer.claim): -1 if not; else the id of its connection plus
   * one, or 0 when it is the stack's without one (a listener's port).
   */
  claim(localPort: number, remoteIp: number, remotePort: number): number;
}

/** Counts of what the classifier saw, by kind (frames). */
export class ClassifierCounters {
  /** TCP segments the stack owns. */
  tcpOwned = 0;
  /** TCP segments for the kernel (another port, another address). */
  tcpKernel = 0;
  arp = 0;
  icmp = 0;
  udp = 0;
  ipv6 = 0;
  fragments = 0;
  /** IPv4 of another protocol, or IPv4 the classifier could not parse. */
  ipv4Other = 0;
  /** Another ethertype (VLAN-tagged frames included). */
  otherEthertype = 0;
  /** TCP or IPv4 to our address but another MAC (promiscuous reception). */
  otherMac = 0;
  /** Shorter than an Ethernet header. */
  runts = 0;

  /** The counts as a plain object. */
  snapshot(): Record<string, number> {
    return { ...this } as unknown as Record<string, number>;
  }
}

/** Decides the path of each frame; see the module documentation. */
export class Classifier {
  readonly counters = new ClassifierCounters();
  private _owner: FlowOwner;
  private readonly _eth = new EthernetFrame();
  private readonly _ip = new Ipv4Packet();
  /**
   * What the owner's claim said of the last frame classified for the stack:
   * its connection's id plus one, or 0 (see {@link FlowOwner.claim}).
   */
  mark = 0;
  /**
   * Idents of the ICMP echo requests the stack has out (`luna ping` through
   * its control socket): echo replies to our address with one of them are
   * the stack's; every other ICMP message stays the kernel's.
   */
  readonly echoIdents: Set<number> = new Set();

  constructor(owner: FlowOwner) {
    this._owner = owner;
  }

  /** Changes whose flows are claimed. */
  setOwner(owner: FlowOwner): void {
    this._owner = owner;
  }

  /** The path of the Ethernet frame `bytes[off .. off + len)`. Reads only; never throws. */
  classify(bytes: Uint8Array, off: number, len: number): Path {
    const c = this.counters;
    this.mark = 0;
    const eth = this._eth;
    if (eth.wrap(bytes, off, len) !== Drop.none) {
      c.runts++;
      return Path.drop;
    }
    const type = eth.ethertype;
    if (type === EtherType.arp) {
      c.arp++;
      return Path.both;
    }
    if (type !== EtherType.ipv4) {
      if (type === 0x86dd) c.ipv6++;
      else c.otherEthertype++;
      return Path.kernel;
    }
    const ip = this._ip;
    if (ip.wrap(bytes, eth.payloadOffset, eth.payloadLen) !== Drop.none) {
      c.ipv4Other++;
      return Path.kernel;
    }
    const proto = ip.protocol;
    if (proto !== IpProtocol.tcp) {
      if (proto === IpProtocol.icmp) {
        c.icmp++;
        if (this.echoIdents.size > 0 && this._echoReplyOurs(bytes, ip)) return Path.stack;
      } else if (proto === IpProtocol.udp) c.udp++;
      else c.ipv4Other++;
      return Path.kernel;
    }
    const owner = this._owner;
    const me = owner.address;
    if (me === 0 || ip.dst !== me) {
      c.tcpKernel++;
      return Path.kernel;
    }
    if (ip.isFragment) {
      c.fragments++;
      return Path.kernel;
    }
    if (eth.dst !== owner.mac) {
      c.otherMac++;
      return Path.kernel;
    }
    const t = ip.payloadOffset;
    if (ip.payloadLen < tcpHeaderLen) {
      c.tcpKernel++;
      return Path.kernel;
    }
    const srcPort = (bytes[t] << 8) | bytes[t + 1];
    const dstPort = (bytes[t + 2] << 8) | bytes[t + 3];
    const mark = owner.claim(dstPort, ip.src, srcPort);
    if (mark >= 0) {
      this.mark = mark;
      c.tcpOwned++;
      return Path.stack;
    }
    c.tcpKernel++;
    return Path.kernel;
  }

  /** Whether an ICMP datagram is an echo reply to our address for one of {@link echoIdents}. */
  private _echoReplyOurs(bytes: Uint8Array, ip: Ipv4Packet): boolean {
    const me = this._owner.address;
    const o = ip.payloadOffset;
    if (me === 0 || ip.dst !== me || ip.isFragment || ip.payloadLen < 8 || bytes[o] !== 0) return false;
    return this.echoIdents.has((bytes[o + 4] << 8) | bytes[o + 5]);
  }
}
