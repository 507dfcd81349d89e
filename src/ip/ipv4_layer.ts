/**
 * The link and IPv4 layers of a stack: the receive path from a burst of
 * frames to ARP, ICMP echo and the TCP receiver, and the send path that puts
 * IPv4 and Ethernet headers in front of a TCP segment, in the buffer's
 * headroom, and finds the next hop's MAC.
 *
 * Nothing here throws on received input: a frame that fails a check is
 * counted by reason and its buffer released.
 *
 * @module
 */
import { DESC_WORDS, type Device, RxFlag, rxFlowMark, SEG_MSS_SHIFT, TxFlag } from "../device/device.ts";
import { TxBatch } from "../device/tx_batch.ts";
import {
  ArpOp,
  ArpPacket,
  arpPacketLen,
  checksumUpdate16,
  Drop,
  EthernetFrame,
  ethernetHeaderLen,
  EtherType,
  IcmpPacket,
  IcmpType,
  IpProtocol,
  ipv4HeaderLen,
  Ipv4Packet,
  isMulticastMac,
  macBroadcast,
  TcpPacket,
} from "../wire/mod.ts";
import type { MemZone } from "../mem/zone.ts";
import { IpCounters, Martian } from "./counters.ts";
import type { IpInterface } from "./iface.ts";
import { NeighborCache, type NeighborOptions, type NeighborOwner } from "./neighbor.ts";
import { RxChain } from "./rx_chain.ts";

/** The layer above IPv4 that takes TCP segments. */
export interface TcpReceiver {
  /**
   * A TCP segment for this host, its checksum verified; `ip` and `tcp` view it
   * in place, valid during the call. Returns true if it keeps the buffer
   * (then it releases it later), false to let the IP layer release it now.
   * `hint`: the connection id a classifier found for the segment (the frame's
   * flow mark, see rxFlowMark), or -1; the receiver checks it still applies.
   * `chain`: for a chained frame, its links beyond `h` (payload only; `tcp`
   * then views the headers and the first buffer's payload): the receiver
   * marks those it keeps, the IP layer releases the rest.
   */
  tcpInput(h: number, ip: Ipv4Packet, tcp: TcpPacket, now: number, hint: number, chain?: RxChain): boolean;
  /**
   * Asked of a one-buffer TCP segment for this host before its checksum is
   * summed: whether it is dropped at once (a SYN flood beyond the receiver's
   * budget, see tcp/syn_budget.ts), counted by the receiver. A flood's SYN
   * is then spent in as few instructions as possible; one whose checksum
   * was bad would have been dropped too.
   */
  shedsEarly(ip: Ipv4Packet, tcp: TcpPacket): boolean;
}

/** Called for each ICMP echo reply received. */
export type EchoReplyHandler = (src: number, ident: number, seq: number, now: number) => void;

/** Settings of an {@link IpLayer}. */
export interface IpLayerOptions {
  neighbor?: NeighborOptions;
  /**
   * Answer ARP requests for our address (default true). With the kernel
   * sharing the address (coexistence), the kernel answers and the stack only
   * learns from what it hears.
   */
  answerArp?: boolean;
  /** Time to live of sent datagrams. Default 64. */
  ttl?: number;
}

/** Room a TCP segment needs in front of it for the IPv4 and Ethernet headers. */
export const ipHeadroom = ethernetHeaderLen + ipv4HeaderLen;

/** The link and IPv4 layers over one device; see the module documentation. */
export class IpLayer implements NeighborOwner {
  readonly device: Device;
  readonly iface: IpInterface;
  readonly counters: IpCounters = new IpCounters();
  readonly neighbors: NeighborCache;
  readonly tx: TxBatch;
  /** Handler for echo replies (pings this stack sent). */
  onEchoReply: EchoReplyHandler | undefined;
  /**
   * Frames the transmit batch collects during a receive burst before it is
   * handed to the device (0: only when full and at the end of the poll).
   * Answers then leave while the rest of the burst is still being processed,
   * so that a peer in another process starts on them at once instead of
   * waiting for the whole burst. The loop sets it per burst.
   */
  flushEvery = 0;

  private _tcp: TcpReceiver | undefined;
  private readonly _ttl: number;
  private readonly _answerArp: boolean;
  private readonly _eth = new EthernetFrame();
  private readonly _arp = new ArpPacket();
  private readonly _ip = new Ipv4Packet();
  private readonly _icmp = new IcmpPacket();
  private readonly _tcpView = new TcpPacket();
  // The send path has views of its own: it runs from inside the receive path
  // (replies, frames released by ARP, TCP output) and must not re-point them.
  private readonly _ethTx = new EthernetFrame();
  private readonly _arpTx = new ArpPacket();
  private readonly _ipTx = new Ipv4Packet();
  private readonly _icmpTx = new IcmpPacket();
  private readonly _tcpTx = new TcpPacket();
  private _ident = 0;
  /** The connection a classifier marked the frame being received with (rxFlowMark), or -1. */
  private _flowHint = -1;
  /** The further links of the chained frame being received (none for a one-buffer frame). */
  private readonly _chain = new RxChain();

  constructor(device: Device, iface: IpInterface, options: IpLayerOptions = {}) {
    this.device = device;
    this.iface = iface;
    this.neighbors = new NeighborCache(this, options.neighbor);
    this.tx = new TxBatch(device);
    this._ttl = options.ttl ?? 64;
    this._answerArp = options.answerArp ?? true;
  }

  /** The device's packet buffers. */
  get zone(): MemZone {
    return this.device.zone;
  }

  /** Our IPv4 address. */
  get address(): number {
    return this.iface.address;
  }

  /** The device's MTU. */
  get mtu(): number {
    return this.device.mtu;
  }

  /** TCP payload bytes the device takes in one large segment (0: none); see DeviceOffloads. */
  get txSegmentMax(): number {
    return this.device.offloads.txSegmentMax ?? 0;
  }

  /** Whether frames longer than one buffer go and come as chains; see DeviceOffloads. */
  get frameChains(): boolean {
    return this.device.offloads.frameChains ?? false;
  }

  /** Frames the transmit batch can still take before it must be flushed. */
  txRoom(): number {
    return this.tx.capacity - this.tx.length;
  }

  /** Whether the device is behind: it refused frames at the last flush (see TxBatch.behind). */
  txBehind(): boolean {
    return this.tx.behind;
  }

  /** Whether the transmit batch has drained to under half full. */
  txDrained(): boolean {
    return this.tx.length < this.tx.capacity >>> 1;
  }

  /** Sets the layer that takes TCP segments. */
  setTcpReceiver(receiver: TcpReceiver): void {
    this._tcp = receiver;
  }

  /** Runs the receive path over `n` frames described by `descs`. */
  receive(descs: Uint32Array, n: number, now: number): void {
    const every = this.flushEvery;
    for (let k = 0; k < n; k++) {
      const i = k * DESC_WORDS;
      const flags = descs[i + 2];
      this._flowHint = (flags & rxFlowMark) !== 0 ? descs[i + 3] : -1;
      if ((flags & RxFlag.more) !== 0) k = this._chained(descs, k, n, now);
      else this._frame(descs[i], descs[i + 1] & 0xffff, descs[i + 1] >>> 16, flags, now);
      // Between frames every answer queued so far is whole (a chain is pushed at once).
      if (every > 0 && this.tx.fresh >= every && k + 1 < n) this.flush(now);
    }
  }

  /**
   * Flushes the transmit batch if {@link flushEvery} frames or more came
   * since the last flush (between events, batch mode).
   */
  flushIfDue(now: number): void {
    const every = this.flushEvery;
    if (every > 0 && this.tx.fresh >= every) this.flush(now);
  }

  /**
   * A frame spanning records `k..` (RxFlag.more): its links go to the chain,
   * the frame up the path, and what no layer kept back to the zone. Returns
   * the index of its last record.
   */
  private _chained(descs: Uint32Array, k: number, n: number, now: number): number {
    const zone = this.device.zone;
    const chain = this._chain;
    const i = k * DESC_WORDS;
    const last = chain.gather(descs, k, n, zone);
    if (last < 0) {
      // A chain the burst cut short, or links no buffer holds: nothing of it is trusted.
      this.counters.linkRxFrames++;
      this.counters.malformed[Drop.chainMalformed]++;
      zone.release(descs[i]);
      chain.releaseUntaken(zone);
      return -last - 1;
    }
    this._frame(descs[i], descs[i + 1] & 0xffff, descs[i + 1] >>> 16, descs[i + 2], now);
    chain.releaseUntaken(zone);
    return last;
  }

  /** Timers of the layer (ARP retransmission and expiry). */
  poll(now: number): void {
    this.neighbors.poll(now);
  }

  /** When {@link poll} next has work. */
  pollAt(): number {
    return this.neighbors.pollAt();
  }

  /** Sends what is waiting in the transmit batch. */
  flush(now: number): void {
    this.tx.flush(now);
    this.counters.linkTxFrames = this.tx.sentFrames;
    this.counters.linkTxBytes = this.tx.sentBytes;
    this.counters.linkTxDropped = this.tx.dropped;
  }

  /** Announces our address with a gratuitous ARP request (RFC 5227 3). */
  announce(now: number): void {
    this._sendArp(ArpOp.request, macBroadcast, this.iface.address, 0, this.iface.address, now);
  }

  /**
   * Sends the TCP segment at `tcpOff` (an offset into the zone's bytes, inside
   * buffer `h`, with {@link ipHeadroom} bytes free before it) of `tcpLen`
   * bytes to `dst`. Fills the TCP checksum (or leaves it to the device), then
   * the IPv4 and Ethernet headers. Takes the caller's reference to `h`.
   * Returns false if the datagram had no route (the buffer is released).
   * `ecn`: the IPv4 header's ECN field (RFC 3168 5: 0 Not-ECT, 2 ECT(0)).
   */
  sendTcp(h: number, tcpOff: number, tcpLen: number, dst: number, now: number, ecn = 0): boolean {
    const zone = this.device.zone;
    const bytes = zone.bytes;
    const src = this.iface.address;
    const tcp = this._tcpTx.attach(bytes, tcpOff, tcpLen);
    let flags = 0;
    if (this.device.offloads.txChecksum) {
      tcp.fillPseudoHeaderSum(src, dst);
      flags = TxFlag.ipv4 | TxFlag.ipCksum | TxFlag.tcpCksum;
    } else {
      tcp.fillChecksum(src, dst);
    }
    const ipOff = tcpOff - ipv4HeaderLen;
    this._writeIpv4(
      bytes,
      ipOff,
      ipv4HeaderLen + tcpLen,
      IpProtocol.tcp,
      dst,
      flags === 0,
      ipv4HeaderLen,
      ecn,
    );
    const lens = ethernetHeaderLen | (ipv4HeaderLen << 8) | (tcp.headerLen << 20);
    return this._route(h, ipOff - ethernetHeaderLen, ipHeadroom + tcpLen, dst, flags, lens, now);
  }

  /**
   * Sends a large TCP segment as a chain of records, for the device to cut
   * into segments of at most `mss` payload bytes and to checksum (see
   * DeviceOffloads.txSegmentMax). Its first `firstLen` bytes lie at `tcpOff`
   * of buffer `h` (the TCP header and possibly payload, with
   * {@link ipHeadroom} free before them); the rest in `pieces`, triples of
   * (buffer, data offset, length), `nPieces` of them; `tcpLen` bytes in
   * all. Takes one reference of `h` and of each piece's buffer. Returns
   * false if the chain was dropped (no route, no neighbour yet, no room).
   * `ecn`: the ECN field of every segment cut from it (RFC 3168 5).
   */
  sendTcpChain(
    h: number,
    tcpOff: number,
    firstLen: number,
    tcpLen: number,
    pieces: Uint32Array,
    nPieces: number,
    mss: number,
    dst: number,
    now: number,
    ecn = 0,
  ): boolean {
    const zone = this.device.zone;
    const bytes = zone.bytes;
    const tcp = this._tcpTx.attach(bytes, tcpOff, firstLen);
    tcp.checksum = 0; // the device sums each segment it cuts
    const ipOff = tcpOff - ipv4HeaderLen;
    this._writeIpv4(bytes, ipOff, ipv4HeaderLen + tcpLen, IpProtocol.tcp, dst, false, ipv4HeaderLen, ecn);
    const hop = this.iface.nextHop(dst);
    const mac = hop === 0 ? -1 : this._macOf(hop, now);
    const tx = this.tx;
    if (mac < 0 || !tx.reserve(1 + nPieces, now)) {
      // No route or neighbour yet, or the device is behind: lost like a dropped frame.
      if (hop === 0) this.counters.ipOutNoRoutes++;
      else if (mac < 0) this.counters.arpUnresolvedDrops++;
      else tx.dropped++;
      zone.release(h);
      for (let j = 0; j < nPieces; j++) zone.release(pieces[3 * j]);
      return false;
    }
    const ethOff = ipOff - ethernetHeaderLen;
    const eth = this._ethTx.attach(bytes, ethOff, ipHeadroom + firstLen);
    eth.dst = mac;
    eth.src = this.iface.mac;
    eth.ethertype = EtherType.ipv4;
    const lens = ethernetHeaderLen | (ipv4HeaderLen << 8) | (tcp.headerLen << 20);
    const flags = TxFlag.ipv4 | TxFlag.ipCksum | TxFlag.tcpCksum | TxFlag.tcpSeg | (mss << SEG_MSS_SHIFT);
    tx.push(
      h,
      ethOff - zone.dataStart(h),
      ipHeadroom + firstLen,
      flags | (nPieces > 0 ? TxFlag.more : 0),
      lens,
      now,
    );
    for (let j = 0; j < nPieces; j++) {
      const more = j + 1 < nPieces ? TxFlag.more : 0;
      tx.push(pieces[3 * j], pieces[3 * j + 1], pieces[3 * j + 2], more, 0, now);
    }
    return true;
  }

  /** Sends an ICMP echo request of `payloadLen` bytes (a pattern) to `dst`. */
  sendEchoRequest(dst: number, ident: number, seq: number, payloadLen: number, now: number): boolean {
    const zone = this.device.zone;
    const h = zone.tryTake();
    if (h < 0) {
      this.counters.noBufferDrops++;
      return false;
    }
    const bytes = zone.bytes;
    const icmpOff = zone.dataStart(h) + zone.headroom + ipHeadroom;
    const len = 8 + payloadLen;
    const icmp = this._icmpTx.attach(bytes, icmpOff, len);
    icmp.type = IcmpType.echoRequest;
    icmp.code = 0;
    icmp.ident = ident;
    icmp.seqNo = seq;
    for (let j = 0; j < payloadLen; j++) bytes[icmpOff + 8 + j] = j & 0xff;
    icmp.fillChecksum();
    this._writeIpv4(bytes, icmpOff - ipv4HeaderLen, ipv4HeaderLen + len, IpProtocol.icmp, dst, true);
    return this._route(h, icmpOff - ipHeadroom, ipHeadroom + len, dst, 0, 0, now);
  }

  // ---- NeighborOwner

  /** @internal */
  sendRequest(ip: number, mac: number, now: number): void {
    this._sendArp(ArpOp.request, mac === 0 ? macBroadcast : mac, this.iface.address, 0, ip, now);
  }

  /** @internal */
  release(
    mac: number,
    h: number,
    dataOff: number,
    len: number,
    flags: number,
    lens: number,
    now: number,
  ): void {
    const zone = this.device.zone;
    this._ethTx.attach(zone.bytes, zone.dataStart(h) + dataOff, len).dst = mac;
    this.tx.push(h, dataOff, len, flags, lens, now);
  }

  /** @internal */
  drop(h: number, why: "unresolved" | "queue", _now: number): void {
    if (why === "unresolved") this.counters.arpUnresolvedDrops++;
    else this.counters.arpQueueDrops++;
    this.device.zone.release(h);
  }

  // ---- receive path

  private _frame(h: number, dataOff: number, len: number, flags: number, now: number): void {
    const c = this.counters;
    const zone = this.device.zone;
    c.linkRxFrames++;
    c.linkRxBytes += len + this._chain.bytes;
    const eth = this._eth;
    const at = zone.dataStart(h) + dataOff;
    let why = dataOff + len <= zone.dataRoomSize ? eth.wrap(zone.bytes, at, len) : Drop.truncated;
    if (why === Drop.none) {
      const dst = eth.dst;
      if (dst !== this.iface.mac && !isMulticastMac(dst)) {
        c.linkNotForUs++;
        zone.release(h);
        return;
      }
      const type = eth.ethertype;
      if (type === EtherType.ipv4) why = this._ipv4(h, eth.payloadOffset, eth.payloadLen, flags, now);
      else if (type === EtherType.arp) why = this._arpIn(h, eth.payloadOffset, eth.payloadLen, now);
      else why = Drop.unknownEthertype;
    }
    if (why !== Drop.none) {
      c.malformed[why]++;
      zone.release(h);
    }
  }

  /** Returns a drop reason, or none when the frame was consumed (and its buffer taken care of). */
  private _arpIn(h: number, off: number, len: number, now: number): Drop {
    const arp = this._arp;
    const why = arp.wrap(this.device.zone.bytes, off, len);
    if (why !== Drop.none) return why;
    const c = this.counters;
    const me = this.iface.address;
    const op = arp.operation;
    const targetIsMe = arp.targetIp === me;
    if (op === ArpOp.request) c.arpRequestsIn++;
    else if (op === ArpOp.reply) c.arpRepliesIn++;
    else c.arpOther++;
    // RFC 826 "packet reception": merge what the sender says; add it if the packet is for us.
    if (arp.senderIp !== me) this.neighbors.learn(arp.senderIp, arp.senderMac, targetIsMe, now);
    if (op === ArpOp.request && targetIsMe && arp.senderIp !== me && this._answerArp) {
      // Answer in place: the request becomes the reply.
      const eth = this._eth;
      eth.dst = arp.senderMac;
      eth.src = this.iface.mac;
      arp.operation = ArpOp.reply;
      arp.targetMac = arp.senderMac;
      arp.targetIp = arp.senderIp;
      arp.senderMac = this.iface.mac;
      arp.senderIp = me;
      c.arpRepliesOut++;
      const zone = this.device.zone;
      this.tx.push(h, eth.offset - zone.dataStart(h), ethernetHeaderLen + arpPacketLen, 0, 0, now);
      return Drop.none;
    }
    this.device.zone.release(h);
    return Drop.none;
  }

  private _ipv4(h: number, off: number, len: number, flags: number, now: number): Drop {
    const c = this.counters;
    const zone = this.device.zone;
    const ip = this._ip;
    c.ipInReceives++;
    const chained = this._chain.count > 0;
    const why = chained
      ? this._chain.wrapIpv4(ip, zone.bytes, off, len, flags)
      : ip.wrap(zone.bytes, off, len);
    if (why !== Drop.none) return why;
    if ((flags & RxFlag.ipCksumBad) !== 0) return Drop.ipv4BadChecksum;
    if ((flags & RxFlag.ipCksumGood) === 0 && !ip.verifyChecksum()) return Drop.ipv4BadChecksum;
    if (!this.iface.accepts(ip.dst)) {
      c.ipNotForUs++;
      zone.release(h);
      return Drop.none;
    }
    // RFC 1122 3.2.1.3: a source no host may send from is silently discarded; a TCP segment to
    // a broadcast address is no connection's (RFC 1122 4.2.3.10). Neither is answered.
    let martian = this.iface.martianSource(ip.src);
    if (martian < 0 && ip.protocol === IpProtocol.tcp && ip.dst !== this.iface.address) {
      martian = Martian.tcpToBroadcast;
    }
    if (martian >= 0) {
      c.martians[martian]++;
      zone.release(h);
      return Drop.none;
    }
    if (ip.isFragment) {
      c.ipFragments++;
      zone.release(h);
      return Drop.none;
    }
    const proto = ip.protocol;
    if (proto === IpProtocol.tcp) return this._tcpIn(h, ip, flags, now);
    if (proto === IpProtocol.icmp) return this._icmpIn(h, ip, now);
    if (proto === IpProtocol.udp) {
      c.udpNoService++;
      zone.release(h);
      return Drop.none;
    }
    return Drop.unknownIpProtocol;
  }

  private _tcpIn(h: number, ip: Ipv4Packet, flags: number, now: number): Drop {
    const tcp = this._tcpView;
    const chain = this._chain;
    const chained = chain.count > 0;
    // A chain's TCP view covers its first buffer: the headers must lie there.
    const why = tcp.wrap(ip.bytes, ip.payloadOffset, ip.payloadLen - chain.bytes);
    if (why !== Drop.none) return chained ? Drop.chainMalformed : why;
    if ((flags & RxFlag.l4CksumBad) !== 0) return Drop.tcpBadChecksum;
    const receiver = this._tcp;
    const c = this.counters;
    if (!chained && receiver !== undefined && receiver.shedsEarly(ip, tcp)) {
      c.tcpInSegs++;
      c.ipInDelivers++;
      this.device.zone.release(h);
      return Drop.none;
    }
    if ((flags & RxFlag.l4CksumGood) === 0 && !tcp.verifyChecksum(ip.src, ip.dst)) return Drop.tcpBadChecksum;
    c.tcpInSegs++;
    c.ipInDelivers++;
    if (
      receiver === undefined ||
      !receiver.tcpInput(h, ip, tcp, now, this._flowHint, chained ? chain : undefined)
    ) {
      this.device.zone.release(h);
    }
    return Drop.none;
  }

  private _icmpIn(h: number, ip: Ipv4Packet, now: number): Drop {
    const icmp = this._icmp;
    const c = this.counters;
    let why = icmp.wrap(ip.bytes, ip.payloadOffset, ip.payloadLen);
    if (why === Drop.none && !icmp.verifyChecksum()) why = Drop.icmpBadChecksum;
    if (why !== Drop.none) return why;
    const zone = this.device.zone;
    const type = icmp.type;
    if (type === IcmpType.echoRequest && icmp.code === 0 && ip.dst === this.iface.address) {
      c.icmpInEchos++;
      c.ipInDelivers++;
      // Answer in place (RFC 792): swap the addresses, echo becomes echo reply.
      const src = ip.src;
      icmp.checksum = checksumUpdate16(icmp.checksum, IcmpType.echoRequest << 8, IcmpType.echoReply << 8);
      icmp.type = IcmpType.echoReply;
      const b = ip.bytes;
      this._writeIpv4(b, ip.offset, ip.totalLen, IpProtocol.icmp, src, true, ip.headerLen);
      const eth = this._eth;
      eth.dst = eth.src;
      eth.src = this.iface.mac;
      c.icmpOutEchoReps++;
      this.tx.push(h, eth.offset - zone.dataStart(h), ethernetHeaderLen + ip.totalLen, 0, 0, now);
      return Drop.none;
    }
    c.icmpInOther++;
    if (type === IcmpType.echoReply) this.onEchoReply?.(ip.src, icmp.ident, icmp.seqNo, now);
    zone.release(h);
    return Drop.none;
  }

  // ---- send path

  // Headers are written field by field through the views, not emitted from
  // an Ipv4Repr/EthernetRepr: that made the header write 20-70% slower
  // (bench/micro_headers.ts; figures in src/wire/mod.ts).
  private _writeIpv4(
    b: Uint8Array,
    off: number,
    totalLen: number,
    proto: number,
    dst: number,
    checksum: boolean,
    headerLen = ipv4HeaderLen,
    ecn = 0,
  ): void {
    const ip = this._ipTx.attach(b, off, totalLen);
    b[off] = 0x40 | (headerLen >>> 2);
    b[off + 1] = ecn & 0x03; // DSCP 0, the ECN field (RFC 3168 5)
    ip.totalLen = totalLen;
    ip.ident = this._ident = (this._ident + 1) & 0xffff;
    b[off + 6] = 0x40; // DF, offset 0
    b[off + 7] = 0;
    ip.ttl = this._ttl;
    ip.protocol = proto;
    ip.src = this.iface.address;
    ip.dst = dst;
    if (checksum) ip.fillChecksum();
    else ip.checksum = 0;
    this.counters.ipOutRequests++;
  }

  /** The MAC address of next hop `hop`: broadcast for our subnet's broadcast, else the neighbour's (-1: not resolved yet). */
  private _macOf(hop: number, now: number): number {
    return this.iface.accepts(hop) && hop !== this.iface.address
      ? macBroadcast
      : this.neighbors.lookup(hop, now);
  }

  private _route(
    h: number,
    dataOffAbs: number,
    len: number,
    dst: number,
    flags: number,
    lens: number,
    now: number,
  ): boolean {
    const zone = this.device.zone;
    const dataOff = dataOffAbs - zone.dataStart(h);
    const hop = this.iface.nextHop(dst);
    if (hop === 0) {
      this.counters.ipOutNoRoutes++;
      zone.release(h);
      return false;
    }
    // Resolve first: a lookup may send an ARP request, which re-points the shared views.
    const mac = this._macOf(hop, now);
    const eth = this._ethTx.attach(zone.bytes, dataOffAbs, len);
    eth.src = this.iface.mac;
    eth.ethertype = EtherType.ipv4;
    if (mac < 0) {
      this.neighbors.enqueue(hop, h, dataOff, len, flags, lens, now);
      return true;
    }
    eth.dst = mac;
    this.tx.push(h, dataOff, len, flags, lens, now);
    return true;
  }

  private _sendArp(
    op: number,
    ethDst: number,
    senderIp: number,
    targetMac: number,
    targetIp: number,
    now: number,
  ): void {
    const zone = this.device.zone;
    const h = zone.tryTake();
    if (h < 0) {
      this.counters.noBufferDrops++;
      return;
    }
    const off = zone.dataStart(h) + zone.headroom;
    const eth = this._ethTx.attach(zone.bytes, off, ethernetHeaderLen + arpPacketLen);
    eth.dst = ethDst;
    eth.src = this.iface.mac;
    eth.ethertype = EtherType.arp;
    const arp = this._arpTx.attach(zone.bytes, off + ethernetHeaderLen, arpPacketLen);
    arp.hardwareType = 1;
    arp.protocolType = EtherType.ipv4;
    arp.hardwareLen = 6;
    arp.protocolLen = 4;
    arp.operation = op;
    arp.senderMac = this.iface.mac;
    arp.senderIp = senderIp;
    arp.targetMac = targetMac;
    arp.targetIp = targetIp;
    if (op === ArpOp.request) this.counters.arpRequestsOut++;
    else this.counters.arpRepliesOut++;
    // Pad to the 60-byte Ethernet minimum.
    const len = 60;
    zone.bytes.fill(0, off + ethernetHeaderLen + arpPacketLen, off + len);
    this.tx.push(h, zone.headroom, len, 0, 0, now);
  }
}
