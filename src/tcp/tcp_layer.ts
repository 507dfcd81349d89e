/**
 * The TCP layer of a stack: the connection table and the dispatch of
 * arriving segments, and the calls applications make (listen, connect,
 * send, write, read, close, abort). The rest of TCP is in parts the layer
 * holds and hands each other through a narrow context (context.ts):
 *
 * - input.ts: segment arrival for a connection (RFC 9293 3.10.7.3-4);
 * - output.ts: the sender (segments, the send policy), with large_segment.ts
 *   (64 KB behind one header, cut by the device) and window.ts (the MSS and
 *   the window we advertise);
 * - handshake.ts: listeners, SYN cookies, what a SYN settles;
 * - connections.ts: making, handing over and removing connections;
 * - timers.ts: retransmission, delayed ACK, persist and keepalive timers;
 * - pool_pressure.ts: what TCP does when the zone runs low;
 * - time_wait.ts: TIME-WAIT as a small record instead of a control block.
 *
 * Read first: RFC 9293 3.10 (event processing).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { IpLayer, TcpReceiver } from "../ip/ipv4_layer.ts";
import type { RxChain } from "../ip/rx_chain.ts";
import { ipHeadroom } from "../ip/ipv4_layer.ts";
import type { MemZone } from "../mem/zone.ts";
import { Drop, type Ipv4Packet, TcpFlags, type TcpPacket } from "../wire/mod.ts";
import { checkEcnMode, type EcnMode, type TcpConfig, tcpDefaults } from "./config.ts";
import type { CongestionName } from "./congestion.ts";
import { Connections } from "./connections.ts";
import type { TcpContext, TcpLink } from "./context.ts";
import { ConnectionTable } from "./conn_table.ts";
import { TcpCounters } from "./counters.ts";
import { Handshake, type Listener } from "./handshake.ts";
import { segmentArrives } from "./input.ts";
import { IsnGenerator } from "./isn.ts";
import { TcpOutput } from "./output.ts";
import { Corks } from "./autocork.ts";
import { effectiveMss } from "./window.ts";
import { PoolPressure } from "./pool_pressure.ts";
import { EphemeralPorts } from "./ports.ts";
import { ReassemblyBudget } from "./reassembly.ts";
import { Segment } from "./segment.ts";
import { State } from "./state.ts";
import type { Tcb, TcpHandlers } from "./tcb.ts";
import { TimeWaitTable } from "./time_wait.ts";
import { TcpTimers } from "./timers.ts";
import { copyIntoSendQueue } from "./write.ts";

export type { Listener } from "./handshake.ts";

/** Slots of TcpLayer's recent connection ids (a power of two). */
const recentIdSlots = 256;
/** Options of {@link TcpLayer}. */
export interface TcpLayerOptions {
  /** Secret key of ISNs and SYN cookies (16 bytes); random by default. */
  key?: Uint8Array;
}

/** The TCP layer over one IP layer; see the module documentation. */
export class TcpLayer implements TcpReceiver, TcpContext {
  readonly config: TcpConfig;
  readonly counters: TcpCounters = new TcpCounters();
  /** The packet buffers: payload is queued in them, headers written in their headroom. */
  readonly zone: MemZone;
  /** @internal The IP layer, as far as TCP uses it. */
  readonly link: TcpLink;
  /** @internal */
  readonly out: TcpOutput;
  /** @internal */
  readonly timers: TcpTimers;
  /** @internal */
  readonly pool: PoolPressure;
  /** @internal */
  readonly reassemblyBudget: ReassemblyBudget;
  /** @internal */
  readonly conns: Connections;
  private readonly _seg = new Segment();
  /**
   * The connection ids segments last found, by a few bits of their ports and address: most
   * segments find theirs here, checked against its 4-tuple, without the table's keyed hash.
   * A wrong or stale guess (an id reused, a crafted segment) fails the check and costs the
   * table's lookup, as before.
   */
  private readonly _recentIds = new Int32Array(recentIdSlots);
  private readonly _isn: IsnGenerator;
  private readonly _hs: Handshake;
  private readonly _timeWait: TimeWaitTable;
  private readonly _table = new ConnectionTable();
  private readonly _corks = new Corks(1);
  /** @internal */
  readonly acksHeld: Corks = new Corks(2);
  private _corkNow = 0;
  private readonly _uncork = (c: Tcb): void => {
    c.corked = false; // a cork lasts the loop's iteration at most
    this.out.output(c, this._corkNow);
  };
  private readonly _sendHeldAck = (c: Tcb): void => {
    if (!c.ackHeld) return;
    c.ackHeld = false;
    // Unless an answer carried it: a second segment (or one owed at once: Tcb.ackBurstEnd) still
    // owes the ACK now, a single one its delay.
    if (c.unackedSegs >= 2 || c.ackBurstEnd) {
      c.ackBurstEnd = false;
      c.ackNow = true;
      this.out.output(c, this._corkNow);
    } else if (c.unackedSegs > 0) this.timers.armDelayedAck(c, this._corkNow);
  };
  private readonly _ports: EphemeralPorts;

  constructor(ip: IpLayer, config: Partial<TcpConfig> = {}, options: TcpLayerOptions = {}) {
    this.config = { ...tcpDefaults, ...config };
    const c = this.config;
    if (c.ephemeralPortMin < 1 || c.ephemeralPortMax > 65535 || c.ephemeralPortMin > c.ephemeralPortMax) {
      throw new ConfigError(
        "ephemeralPortMin",
        `bad ephemeral range ${c.ephemeralPortMin}..${c.ephemeralPortMax}`,
      );
    }
    this.link = ip;
    this.zone = ip.zone;
    this.reassemblyBudget = new ReassemblyBudget(c.reassemblyStackBytesMax);
    this.pool = new PoolPressure(this.zone, this.counters);
    this.out = new TcpOutput(this);
    this.timers = new TcpTimers(this, this._table.tcbs);
    this._table.timers = this.timers;
    this._isn = new IsnGenerator(options.key);
    this._hs = new Handshake(this, options.key);
    this._timeWait = new TimeWaitTable(this);
    this.conns = new Connections(this, this._table, this._hs.listeners, this._timeWait, this._isn);
    this._ports = new EphemeralPorts(c, this._table, this._hs.listeners, this._timeWait, this.counters);
    ip.setTcpReceiver(this);
  }

  /** Connections in the table, TIME-WAIT included. */
  get connections(): number {
    return this._table.size + this._timeWait.size;
  }

  /** Connections in TIME-WAIT (kept as small records, not in {@link each}). */
  get timeWaitCount(): number {
    return this._timeWait.size;
  }

  /** Bytes the TIME-WAIT records take, as allocated. */
  get timeWaitBytes(): number {
    return this._timeWait.bytes;
  }

  /**
   * Bytes of the layer's own tables, as allocated, by table (control blocks
   * and buffers not counted): id pool, timer wheel, control-block slots by id
   * (8 bytes each), connections by 4-tuple, TIME-WAIT records; `idCapacity`:
   * the ids the per-id arrays hold.
   */
  footprint(): Record<"idCapacity" | "ids" | "timers" | "tcbSlots" | "table" | "timeWait" | "total", number> {
    const { idCapacity, ids, tcbSlots, table } = this._table.footprint();
    const [timers, timeWait] = [this.timers.bytes, this._timeWait.bytes];
    const total = ids + timers + tcbSlots + table + timeWait;
    return { idCapacity, ids, timers, tcbSlots, table, timeWait, total };
  }

  /**
   * The connection table's work so far: lookups (with a classifier's flow
   * marks, one per segment), the slots they looked at, and the lookups that
   * took more than tuple_table.ts's longProbeMin (hash flooding shows here).
   */
  tableStats(): { lookups: number; probes: number; longProbes: number } {
    return this._table.tableStats();
  }

  /** Every connection with a control block (TIME-WAIT has none). */
  *each(): IterableIterator<Tcb> {
    yield* this._table.each();
  }

  /** The RFC state of the connection with this 4-tuple, or undefined when there is none. */
  stateOf(remoteIp: number, remotePort: number, localPort: number): State | undefined {
    const id = this._table.find(remoteIp, remotePort, localPort);
    if (id >= 0) return this._table.tcbs[id]!.state;
    return this._timeWait.find(remoteIp, remotePort, localPort) >= 0 ? State.timeWait : undefined;
  }

  /**
   * Whether a segment to `localPort` from `remoteIp:remotePort` is ours, for
   * the kernel classifier, which leaves every other flow to the kernel: -1
   * if not; the id of the connection with that 4-tuple plus one, which the
   * classifier passes on with the frame (rxFlowMark) so that its dispatch
   * does not look it up again; 0 for a listener's port or a tuple in
   * TIME-WAIT.
   */
  claim(localPort: number, remoteIp: number, remotePort: number): number {
    const id = this._table.find(remoteIp, remotePort, localPort);
    if (id >= 0) return id + 1;
    return this._hs.listeners.has(localPort) || this._timeWait.find(remoteIp, remotePort, localPort) >= 0
      ? 0
      : -1;
  }

  // ------------------------------------------------------------------ API

  /** Listens on `port`: connections to it are handed to `onAccept` once established. */
  listen(
    port: number,
    onAccept: Listener["onAccept"],
    backlog = this.config.backlog,
    congestion?: CongestionName,
    maxConnections?: number,
    ecn?: EcnMode,
  ): Listener {
    return this._hs.listen(port, onAccept, backlog, congestion, maxConnections, ecn);
  }

  /** Stops listening; established connections stay. */
  unlisten(port: number): void {
    this._hs.listeners.delete(port);
  }

  /** Opens a connection to `remoteIp:remotePort` (RFC 9293 3.10.1, active OPEN). */
  connect(
    remoteIp: number,
    remotePort: number,
    handlers: TcpHandlers,
    now: number,
    localPort = 0,
    congestion?: CongestionName,
    ecn?: EcnMode,
  ): Tcb {
    checkEcnMode(ecn);
    if (!Number.isInteger(remotePort) || remotePort < 1 || remotePort > 65535) {
      throw new ConfigError("port", `expected 1..65535, got ${remotePort}`);
    }
    if (this._table.size >= this.config.maxConnections) {
      throw new ConfigError(
        "tcp.maxConnections",
        `the stack holds its most connections (${this.config.maxConnections})`,
      );
    }
    const port = localPort !== 0 ? localPort : this._ports.pick(remoteIp, remotePort, now);
    if (
      this._table.find(remoteIp, remotePort, port) >= 0 ||
      this._timeWait.find(remoteIp, remotePort, port) >= 0
    ) {
      throw new ConfigError("localPort", `${port} to this peer is in use`);
    }
    const tcb = this.conns.create(port, remoteIp, remotePort, true, now);
    tcb.handlers = handlers;
    tcb.congestion = congestion;
    tcb.ecn = ecn;
    tcb.state = State.synSent;
    tcb.rttStart = now;
    this.counters.activeOpens++;
    this.out.sendControl(tcb, TcpFlags.syn, tcb.iss, now);
    tcb.sndNxt = (tcb.iss + 1) >>> 0;
    tcb.sndMax = tcb.sndNxt;
    this.timers.armRetransmit(tcb, now);
    return tcb;
  }

  /**
   * Queues `len` bytes at zone offset `off` of buffer `h` for sending, without
   * copying; the connection takes the caller's reference. At least
   * {@link headroom} bytes before `off` in the buffer must be free for the
   * headers. Returns false (taking nothing) when the send buffer is full or
   * the connection cannot send.
   */
  send(c: Tcb, h: number, off: number, len: number, now: number): boolean {
    if (!this._canSend(c)) return false;
    if (len > c.sendSpace || c.sendq.chunks >= this.pool.sendShare()) {
      c.wantWritable = true;
      return false;
    }
    const zone = this.zone;
    if (len <= 0) {
      zone.release(h);
      return true;
    }
    if (c.sendq.bytes === 0) {
      c.sendq.push(h, off, len);
      this.timers.progress(c, now);
    } else c.sendq.push(h, off, len);
    if (c.sendSpace === 0) c.wantWritable = true;
    this._outputOrCork(c, now);
    return true;
  }

  /** Sends now, or at the end of the loop's iteration where small writes are corked (autocork.ts). */
  private _outputOrCork(c: Tcb, now: number): void {
    const mss = effectiveMss(c);
    if (Corks.corkable(c, this.out.segmentUnit(mss), mss)) this._corks.add(c);
    else this.out.output(c, now);
  }

  /**
   * Sends what corked writes queued (see autocork.ts), then the ACKs held for
   * the end of the iteration that no answer carried (input.ts). The loop
   * calls it before flushing the device.
   */
  flushCorked(now: number): void {
    this._corkNow = now;
    this._corks.flush(this._uncork);
    this.acksHeld.flush(this._sendHeldAck);
    this.conns.endIteration();
  }

  /**
   * @internal The application is done with `c` and holds no reference to it
   * (the api's Connection then holds {@link gone}): once released, its
   * control block may serve a new connection (connections.ts recycle).
   */
  recycle(c: Tcb): void {
    this.conns.recycle(c);
  }

  /** @internal What a connection whose control block was given back ({@link recycle}) holds instead: closed. */
  get gone(): Tcb {
    return this.conns.gone;
  }

  /** Bytes needed in front of a payload for the headers: what {@link send} requires. */
  get headroom(): number {
    return ipHeadroom + 60;
  }

  /** Largest payload a buffer can carry with the headers in front of it. */
  get bufferPayloadMax(): number {
    const zone = this.zone;
    return zone.dataRoomSize - zone.headroom;
  }

  /**
   * Copies `length` bytes of `data` from `offset` (all of it by default)
   * into buffers of the zone and queues them; returns the bytes taken (fewer
   * when the send buffer fills). The caller checks the range.
   */
  write(
    c: Tcb,
    data: Uint8Array,
    now: number,
    offset: number = 0,
    length: number = data.length - offset,
  ): number {
    if (!this._canSend(c)) return 0;
    const wasEmpty = c.sendq.bytes === 0;
    const done = copyIntoSendQueue(this, c, data, offset, length);
    if (wasEmpty && done > 0) this.timers.progress(c, now);
    if (done < length) c.wantWritable = true;
    if (done > 0) this._outputOrCork(c, now);
    return done;
  }

  /** Copies received bytes into `out`; returns how many (0: none waiting). */
  read(c: Tcb, out: Uint8Array, now: number): number {
    const n = c.recvq.read(out);
    if (c.dead) this.conns.drained(c);
    else if (n > 0) this.out.windowOpened(c, now);
    return n;
  }

  /** Consumes `n` bytes of {@link Tcb.recvq} the application read through views. */
  consume(c: Tcb, n: number, now: number): void {
    c.recvq.consume(n);
    if (c.dead) this.conns.drained(c);
    else this.out.windowOpened(c, now);
  }

  /** Releases what closed connections received and the application never read. */
  releaseUnread(): void {
    this.conns.releaseUnread();
  }

  /**
   * Holds `c`'s output (Tcb.corked) until {@link uncork}, or the end of the
   * loop's iteration at the latest (an application that forgets to uncork
   * delays its data by one iteration, never longer).
   */
  cork(c: Tcb): void {
    if (c.dead) return;
    c.corked = true;
    this._corks.add(c);
  }

  /** Ends {@link Tcb.corked}: what was queued meanwhile leaves, a close's FIN on its last segment. */
  uncork(c: Tcb, now: number): void {
    if (!c.corked) return;
    c.corked = false;
    if (!c.dead) this.out.output(c, now);
  }

  /** Closes our direction: FIN after the queued data (RFC 9293 3.10.4). */
  close(c: Tcb, now: number): void {
    if (c.dead || c.finQueued) return;
    switch (c.state) {
      case State.synSent:
        this.conns.destroy(c, undefined, now);
        return;
      case State.synReceived:
        c.finQueued = true; // FIN-WAIT-1 once established
        return;
      case State.established:
        c.finQueued = true;
        c.state = State.finWait1;
        break;
      case State.closeWait:
        c.finQueued = true;
        c.state = State.lastAck;
        break;
      default:
        return;
    }
    this.out.output(c, now);
  }

  /** Aborts: RST to the peer, everything released (RFC 9293 3.10.5). */
  abort(c: Tcb, now: number): void {
    if (c.dead) return;
    if (c.state !== State.synSent && c.state !== State.timeWait && c.state !== State.closed) {
      this.out.sendControl(c, TcpFlags.rst | TcpFlags.ack, c.sndMax, now);
      this.counters.outRsts++;
    }
    this.conns.destroy(c, "aborted", now);
  }

  /**
   * Sends the corked writes and runs the timers due at `now`. Call once per
   * loop iteration; `timers` false leaves the timers for a later call (the
   * loop does while frames wait in the receive ring).
   */
  poll(now: number, timers = true): void {
    this.flushCorked(now);
    if (timers) {
      this._hs.poll(now);
      this.timers.advance(now);
      this._timeWait.expire(now);
    }
    const held = this.pool.watch(now);
    if (held !== undefined) { for (const c of held) if (!c.dead) this.out.windowOpened(c, now, false); }
    this.pool.feedStarved();
    this.conns.resumeBlocked(now);
  }

  /** When {@link poll} next has work. */
  pollAt(): number {
    if (this._corks.pending || this.acksHeld.pending) return 0;
    return Math.min(this.timers.pollAt(), this._timeWait.pollAt());
  }

  /** (Re)starts the user timeout of `c` after its setting changed (from now, if data waits). */
  userTimeoutChanged(c: Tcb, now: number): void {
    c.stallAt = Infinity;
    this.timers.progress(c, now);
  }

  /** (Re)starts the keepalive timer of `c` after its settings changed. */
  keepaliveReset(c: Tcb, now: number): void {
    this.timers.keepaliveReset(c, now);
  }

  // --------------------------------------------------------- receive path

  /**
   * @internal From the IP layer, before the segment's checksum is summed: a
   * flood beyond this iteration's cookie budget is shed from the fixed
   * header (syn_budget.ts), counted among the segments received.
   */
  shedsEarly(ip: Ipv4Packet, tcp: TcpPacket): boolean {
    if (!this._hs.shedsEarly(tcp, ip.src)) return false;
    this.counters.inSegs++;
    return true;
  }

  /**
   * @internal From the IP layer: a TCP segment for this host. `hint`: the id
   * of the connection a classifier found for it (see {@link claim}), or -1.
   */
  tcpInput(h: number, ip: Ipv4Packet, tcp: TcpPacket, now: number, hint = -1, chain?: RxChain): boolean {
    const seg = this._seg;
    this.counters.inSegs++;
    if (chain !== undefined) {
      this.counters.inChainedSegs++;
      this.counters.inChainedLinks += chain.count + 1;
    }
    if (seg.load(h, ip, tcp, chain) !== Drop.none) {
      this.counters.inErrs++;
      return false;
    }
    // The classifier's answer stands if the connection it named still has this 4-tuple.
    let tcb = hint >= 0 ? this._table.tcbs[hint] : undefined;
    if (
      tcb === undefined || tcb.remotePort !== seg.srcPort || tcb.localPort !== seg.dstPort ||
      tcb.remoteIp !== seg.srcIp
    ) {
      const slot = (seg.srcPort ^ seg.dstPort ^ seg.srcIp) & (recentIdSlots - 1);
      tcb = this._table.tcbs[this._recentIds[slot]];
      if (
        tcb === undefined || tcb.remotePort !== seg.srcPort || tcb.localPort !== seg.dstPort ||
        tcb.remoteIp !== seg.srcIp
      ) {
        const id = this._table.find(seg.srcIp, seg.srcPort, seg.dstPort);
        tcb = id >= 0 ? this._table.tcbs[id] : undefined;
        if (id >= 0) this._recentIds[slot] = id;
      }
    }
    if (tcb !== undefined) {
      const kept = segmentArrives(this, tcb, seg, now);
      if (tcb.state === State.timeWait && !tcb.dead) this.conns.enterTimeWait(tcb, now);
      return kept;
    }
    const l = this._hs.listeners.get(seg.dstPort);
    const tw = this._timeWait.find(seg.srcIp, seg.srcPort, seg.dstPort);
    if (tw >= 0) {
      // RFC 6191: a new SYN may reuse a TIME-WAIT tuple when it is provably newer.
      if (
        l === undefined || !seg.has(TcpFlags.syn) || seg.has(TcpFlags.ack) ||
        !this._timeWait.synIsNewer(tw, seg)
      ) {
        this._timeWait.input(tw, seg, now);
        return false;
      }
      this.counters.timeWaitReused++;
      this._timeWait.remove(tw);
    }
    if (l !== undefined && seg.dstIp === this.link.address) return this._hs.listenInput(l, seg, now);
    this._hs.closedInput(seg, now);
    return false;
  }

  // ------------------------------------------------------- the connections

  /** Removes a connection: releases its buffers and timers, tells the application. */
  destroy(tcb: Tcb, error: string | undefined, now: number): void {
    this.conns.destroy(tcb, error, now);
  }

  private _canSend(c: Tcb): boolean {
    if (c.dead || c.finQueued) return false;
    return c.state === State.established || c.state === State.closeWait || c.state === State.synSent ||
      c.state === State.synReceived;
  }
}
