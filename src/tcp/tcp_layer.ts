/**
 * The TCP layer of a stack: the connection table, listeners, timers, and the
 * calls applications make (listen, connect, send, read, close, abort).
 *
 * Read first: RFC 9293 3.10 (event processing). Segment arrival is in
 * input.ts, sending in output.ts; this file owns the connections.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { IpLayer } from "../ip/ipv4_layer.ts";
import { ipHeadroom } from "../ip/ipv4_layer.ts";
import type { TcpReceiver } from "../ip/ipv4_layer.ts";
import { Drop, type Ipv4Packet, TcpFlags, type TcpOptions, type TcpPacket, TcpPacket as TcpView, TcpRepr } from "../wire/mod.ts";
import { seqGt } from "../wire/mod.ts";
import { type TcpConfig, tcpDefaults } from "./config.ts";
import { type CongestionControl, type CongestionName, createCongestionControl } from "./congestion.ts";
import { TcpCounters } from "./counters.ts";
import { negotiate, segmentArrives } from "./input.ts";
import { IsnGenerator } from "./isn.ts";
import { TcbTable } from "./tcb_table.ts";
import { copyRange } from "../util/bytes.ts";
import { effectiveMss, output, scoreboard, sendAck, sendControl, tsNow } from "./output.ts";
import { TokenBucket } from "./rate_limit.ts";
import { Reassembly, ReassemblyBudget } from "./reassembly.ts";
import { RtoEstimator } from "./rto.ts";
import { SackBlockBuilder } from "./sack.ts";
import { Segment } from "./segment.ts";
import { State } from "./state.ts";
import { SynCookies } from "./syn_cookie.ts";
import { Tcb, type TcpHandlers } from "./tcb.ts";
import { TimerWheel } from "./timer_wheel.ts";

/**
 * The congestion controller of a connection whose handshake has not yet
 * settled the MSS and SACK: negotiate() (input.ts) makes the real one, so a
 * connection makes one controller, not two. Frozen: a controller call before
 * then throws instead of passing unnoticed.
 */
const ccNotStarted: CongestionControl = Object.freeze(createCongestionControl("newreno", 536));

/** A passive open. */
export interface Listener {
  readonly port: number;
  readonly backlog: number;
  /** Congestion control of its connections (default: the layer's). */
  congestion?: CongestionName;
  /** Called when a connection to the port is established; returns its handlers. */
  onAccept: (c: Tcb) => TcpHandlers | void;
  /** Connections in SYN-RECEIVED. */
  halfOpen: number;
}

/** Options of {@link TcpLayer}. */
export interface TcpLayerOptions {
  /** Secret key of ISNs and SYN cookies (16 bytes); random by default. */
  key?: Uint8Array;
}


/** The TCP layer over one IP layer; see the module documentation. */
export class TcpLayer implements TcpReceiver {
  readonly ip: IpLayer;
  readonly config: TcpConfig;
  readonly counters = new TcpCounters();
  /** Shared with output.ts: the header being built, and a view to write it through. */
  readonly repr = new TcpRepr();
  readonly tcpView = new TcpView();
  private readonly _seg = new Segment();
  private readonly _wheel: TimerWheel;
  private readonly _isn: IsnGenerator;
  private readonly _cookies: SynCookies;
  private readonly _budget: ReassemblyBudget;
  private readonly _tcbs: (Tcb | undefined)[] = [];
  private _reasm: (Reassembly | undefined)[] = [];
  private _sack: (SackBlockBuilder | undefined)[] = [];
  private readonly _freeIds: number[] = [];
  private readonly _starved: Tcb[] = [];
  private readonly _unread = new Set<Tcb>();
  private readonly _blocked: Tcb[] = [];
  /** Connections whose receive window was held while the zone ran low: told when it recovers. */
  private readonly _held = new Set<Tcb>();
  /**
   * The zone runs low (under a quarter free): receive windows stop widening
   * (see output.ts receiveWindow). Set and cleared by {@link poll}.
   */
  poolTight = false;
  /**
   * The zone is nearly out (under an eighth free): received payload is
   * dropped on connections that already hold unread data, so that what is
   * left serves the writes and ACKs that free buffers. Set and cleared by
   * {@link poll}.
   */
  poolLow = false;
  /** Under a thirty-second free: received payload is dropped on every connection. */
  poolCritical = false;
  /**
   * The zone's free buffers when {@link poll} last counted them, less what
   * writes took since: counting is too dear for every write.
   */
  private _poolFree = 0;
  private _poolSegs = 0;
  private _poolAt = -Infinity;
  private readonly _table = new TcbTable(this._tcbs);
  private readonly _listeners = new Map<number, Listener>();
  private _nextPort: number;
  private readonly _sackScratch = new Uint32Array(8);
  private _expire = (id: number) => this._onTimer(id);
  private _now = 0;

  constructor(ip: IpLayer, config: Partial<TcpConfig> = {}, options: TcpLayerOptions = {}) {
    this.ip = ip;
    this.config = { ...tcpDefaults, ...config };
    const c = this.config;
    if (c.ephemeralPortMin < 1 || c.ephemeralPortMax > 65535 || c.ephemeralPortMin > c.ephemeralPortMax) {
      throw new ConfigError("ephemeralPortMin", `bad ephemeral range ${c.ephemeralPortMin}..${c.ephemeralPortMax}`);
    }
    this._wheel = new TimerWheel(256, { tickMs: 1 });
    this._isn = new IsnGenerator(options.key);
    this._cookies = new SynCookies(options.key);
    this._budget = new ReassemblyBudget(c.reassemblyStackBytesMax);
    this._nextPort = c.ephemeralPortMin;
    ip.setTcpReceiver(this);
  }

  /** Connections in the table (TIME-WAIT included). */
  get connections(): number {
    let n = 0;
    for (const t of this._tcbs) if (t !== undefined) n++;
    return n;
  }

  /** Every connection in the table. */
  *each(): IterableIterator<Tcb> {
    for (const t of this._tcbs) if (t !== undefined) yield t;
  }

  /**
   * Whether a segment to `localPort` from `remoteIp:remotePort` is ours: a
   * listener on the port, or a connection with that 4-tuple. The kernel
   * classifier asks this to leave every other flow to the kernel.
   */
  claims(localPort: number, remoteIp: number, remotePort: number): boolean {
    return this._listeners.has(localPort) || this._lookup(remoteIp, remotePort, localPort) !== undefined;
  }

  // ------------------------------------------------------------------ API

  /** Listens on `port`: connections to it are handed to `onAccept` once established. */
  listen(
    port: number,
    onAccept: Listener["onAccept"],
    backlog = this.config.backlog,
    congestion?: CongestionName,
  ): Listener {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError("port", `expected 1..65535, got ${port}`);
    if (this._listeners.has(port)) throw new ConfigError("port", `port ${port} is already listened on`);
    const l: Listener = { port, backlog, onAccept, halfOpen: 0, congestion };
    this._listeners.set(port, l);
    return l;
  }

  /** Stops listening; established connections stay. */
  unlisten(port: number): void {
    this._listeners.delete(port);
  }

  /** Opens a connection to `remoteIp:remotePort` (RFC 9293 3.10.1, active OPEN). */
  connect(
    remoteIp: number,
    remotePort: number,
    handlers: TcpHandlers,
    now: number,
    localPort = 0,
    congestion?: CongestionName,
  ): Tcb {
    if (!Number.isInteger(remotePort) || remotePort < 1 || remotePort > 65535) {
      throw new ConfigError("port", `expected 1..65535, got ${remotePort}`);
    }
    const port = localPort !== 0 ? localPort : this._ephemeral(remoteIp, remotePort, now);
    if (this._lookup(remoteIp, remotePort, port) !== undefined) {
      throw new ConfigError("localPort", `${port} to this peer is in use`);
    }
    const tcb = this._create(port, remoteIp, remotePort, true, now);
    tcb.handlers = handlers;
    tcb.congestion = congestion;
    tcb.state = State.synSent;
    tcb.rttStart = now;
    this.counters.activeOpens++;
    sendControl(this, tcb, TcpFlags.syn, tcb.iss, now);
    tcb.sndNxt = (tcb.iss + 1) >>> 0;
    tcb.sndMax = tcb.sndNxt;
    this.armRetransmit(tcb, now);
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
    if (len > c.sendSpace) {
      c.wantWritable = true;
      return false;
    }
    const zone = this.ip.device.zone;
    if (len <= 0) {
      zone.release(h);
      return true;
    }
    c.sendq.push(h, off, len);
    if (c.sendSpace === 0) c.wantWritable = true;
    output(this, c, now);
    return true;
  }

  /** Bytes needed in front of a payload for the headers: what {@link send} requires. */
  get headroom(): number {
    return ipHeadroom + 60;
  }

  /** Largest payload a buffer can carry with the headers in front of it. */
  get bufferPayloadMax(): number {
    const zone = this.ip.device.zone;
    return zone.dataRoomSize - zone.headroom;
  }

  /**
   * Copies `length` bytes of `data` from `offset` (all of it by default)
   * into buffers of the zone and queues them; returns the bytes taken (fewer
   * when the send buffer fills). The caller checks the range.
   */
  write(c: Tcb, data: Uint8Array, now: number, offset = 0, length = data.length - offset): number {
    if (!this._canSend(c)) return 0;
    const zone = this.ip.device.zone;
    const chunk = Math.min(this.bufferPayloadMax, c.state >= State.established ? effectiveMss(c) : this.config.mss);
    let done = 0;
    // Top up the last chunk first while nothing of it is sent, so that chunks stay one
    // segment long and go out without a copy.
    const q = c.sendq;
    if (q.chunks > 0 && length > 0) {
      const unsent = q.bytes - ((c.sndNxt - c.sndUna) >>> 0);
      const tail = q.tailLen();
      if (tail < chunk && unsent >= tail) {
        const room = zone.dataStart(q.tailHandle()) + zone.dataRoomSize - q.tailEnd();
        const n = Math.min(chunk - tail, length, c.sendSpace, room);
        if (n > 0) {
          copyRange(zone.bytes, q.tailEnd(), data, offset, n);
          q.extendTail(n);
          done = n;
        }
      }
    }
    // Payload waiting to be sent must not take the buffers that receiving needs (the ACKs
    // that would free it): a sixteenth of the zone stays in reserve (see _watchPool).
    const reserve = zone.capacity >>> 4;
    let budget = 0;
    if (done < length) {
      // The count poll() took, less what writes took since; counted afresh near the reserve.
      if (this._poolFree - reserve < Math.ceil((length - done) / chunk)) this._poolFree = zone.freeCount();
      budget = this._poolFree - reserve;
    }
    while (done < length && c.sendSpace > 0) {
      const n = Math.min(chunk, length - done, c.sendSpace);
      const h = budget-- > 0 ? zone.tryTake() : -1;
      if (h < 0) {
        // The zone is out of buffers: like a full send buffer, but the buffers may be held by
        // other connections, so poll() says when some are back.
        if (!this._starved.includes(c)) this._starved.push(c);
        break;
      }
      this._poolFree--;
      const off = zone.dataStart(h) + zone.headroom;
      copyRange(zone.bytes, off, data, offset + done, n);
      c.sendq.push(h, off, n);
      done += n;
    }
    if (done < length) c.wantWritable = true;
    if (done > 0) output(this, c, now);
    return done;
  }

  /** Copies received bytes into `out`; returns how many (0: none waiting). */
  read(c: Tcb, out: Uint8Array, now: number): number {
    const n = c.recvq.read(out);
    if (c.dead) this._drained(c);
    else if (n > 0) this._windowOpened(c, now);
    return n;
  }

  /** Consumes `n` bytes of {@link Tcb.recvq} the application read through views. */
  consume(c: Tcb, n: number, now: number): void {
    c.recvq.consume(n);
    if (c.dead) this._drained(c);
    else this._windowOpened(c, now);
  }

  /** Releases what closed connections received and the application never read. */
  releaseUnread(): void {
    for (const c of this._unread) c.recvq.clear();
    this._unread.clear();
  }

  private _drained(c: Tcb): void {
    if (c.recvq.bytes === 0) this._unread.delete(c);
  }

  /** Closes our direction: FIN after the queued data (RFC 9293 3.10.4). */
  close(c: Tcb, now: number): void {
    if (c.dead || c.finQueued) return;
    switch (c.state) {
      case State.synSent:
        this.destroy(c, undefined, now);
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
    output(this, c, now);
  }

  /** Aborts: RST to the peer, everything released (RFC 9293 3.10.5). */
  abort(c: Tcb, now: number): void {
    if (c.dead) return;
    if (c.state !== State.synSent && c.state !== State.timeWait && c.state !== State.closed) {
      sendControl(this, c, TcpFlags.rst | TcpFlags.ack, c.sndMax, now);
      this.counters.outRsts++;
    }
    this.destroy(c, "aborted", now);
  }

  /** Runs the timers due at `now`. Call once per loop iteration. */
  poll(now: number): void {
    this._now = now;
    this._wheel.advance(now, this._expire);
    this._watchPool(now);
    if (this._starved.length > 0) this._feedStarved();
    if (this._blocked.length > 0 && this.ip.tx.length < this.ip.tx.capacity >>> 1) this._resumeBlocked(now);
  }

  /** @internal Output stopped because the device's transmit batch was full; resume it later. */
  txBlocked(tcb: Tcb): void {
    if (!tcb.txBlocked) {
      tcb.txBlocked = true;
      this._blocked.push(tcb);
    }
  }

  private _resumeBlocked(now: number): void {
    const list = this._blocked.splice(0);
    for (const c of list) {
      c.txBlocked = false;
      if (!c.dead) output(this, c, now);
    }
  }

  /**
   * Pool pressure, as Linux's tcp_mem: every connection may advertise its
   * whole receive buffer, and together they can promise far more than the
   * zone holds. Received data that nobody has read yet must not take the
   * buffers that writes (and the ACKs that free sent data) need, or an echo
   * server with full receive queues and nothing to write with deadlocks.
   * Under a quarter free, windows stop widening; under an eighth, received
   * payload is dropped (the peer sends it again) where unread data already
   * waits, and under a thirty-second everywhere; writes keep a sixteenth.
   * Once three eighths are free again, the held windows are reopened.
   */
  private _watchPool(now: number): void {
    // Counting a DPDK pool's free buffers walks its per-core caches: look every 128
    // segments received or every half millisecond, whichever comes first.
    const segs = this.counters.inSegs;
    if (segs - this._poolSegs < 128 && now - this._poolAt < 0.5) return;
    this._poolSegs = segs;
    this._poolAt = now;
    const zone = this.ip.device.zone;
    const free = zone.freeCount();
    this._poolFree = free;
    const cap = zone.capacity;
    this.poolLow = free < cap >>> 3;
    this.poolCritical = free < cap >>> 5;
    if (!this.poolTight) {
      this.poolTight = free < cap >>> 2;
    } else if (free > (cap >>> 2) + (cap >>> 3)) {
      this.poolTight = false;
      if (this._held.size > 0) {
        const list = [...this._held];
        this._held.clear();
        for (const c of list) if (!c.dead) this._windowOpened(c, now);
      }
    }
  }

  /** @internal output.ts held `tcb`'s receive window because the zone runs low. */
  windowHeld(tcb: Tcb): void {
    this.counters.poolPressureClamps++;
    this._held.add(tcb);
  }

  /** Connections that could not write for want of buffers hear when the zone has room above its reserve again. */
  private _feedStarved(): void {
    const zone = this.ip.device.zone;
    const cap = zone.capacity;
    if (this._poolFree < (cap >>> 4) + (cap >>> 5)) return; // the writers' reserve, and room to make progress
    const list = this._starved.splice(0);
    for (const c of list) {
      if (c.dead || !c.wantWritable || c.finQueued) continue;
      c.wantWritable = false;
      c.handlers.onWritable?.(c);
    }
  }

  /** When {@link poll} next has work. */
  pollAt(): number {
    return this._wheel.pollAt();
  }

  // --------------------------------------------------------- receive path

  /** @internal From the IP layer: a TCP segment for this host. */
  tcpInput(h: number, ip: Ipv4Packet, tcp: TcpPacket, now: number): boolean {
    this._now = now;
    const seg = this._seg;
    this.counters.inSegs++;
    if (seg.load(h, ip, tcp) !== Drop.none) {
      this.counters.inErrs++;
      return false;
    }
    let tcb = this._lookup(seg.srcIp, seg.srcPort, seg.dstPort);
    if (tcb !== undefined && tcb.state === State.timeWait && seg.has(TcpFlags.syn) && !seg.has(TcpFlags.ack)) {
      // RFC 6191: a new SYN may reuse a TIME-WAIT tuple when it is provably newer.
      const o = seg.options;
      const newer = tcb.tsOk && o.timestamps ? seqGt(o.tsVal, tcb.tsRecent) : seqGt(seg.seq, tcb.rcvNxt);
      if (newer && this._listeners.has(seg.dstPort)) {
        this.counters.timeWaitReused++;
        this.destroy(tcb, undefined, now);
        tcb = undefined;
      }
    }
    if (tcb !== undefined) return segmentArrives(this, tcb, seg, now);
    const l = this._listeners.get(seg.dstPort);
    if (l !== undefined && seg.dstIp === this.ip.iface.address) return this._listenInput(l, seg, now);
    this._closedInput(seg, now);
    return false;
  }

  /** RFC 9293 3.10.7.2: a segment for a listener. Returns whether a connection kept its buffer. */
  private _listenInput(l: Listener, seg: Segment, now: number): boolean {
    if (seg.has(TcpFlags.rst)) return false;
    if (seg.has(TcpFlags.ack)) {
      if (this.config.synCookies && !seg.has(TcpFlags.syn)) {
        const r = this._cookieAck(l, seg, now);
        if (r >= 0) return r === 1;
      }
      this.sendRstAck(seg, seg.ack, now);
      return false;
    }
    if (!seg.has(TcpFlags.syn)) return false;
    if (l.halfOpen >= l.backlog) {
      if (this.config.synCookies) this._cookieSynAck(seg, now);
      else this.counters.listenDrops++;
      return false;
    }
    const tcb = this._create(seg.dstPort, seg.srcIp, seg.srcPort, false, now);
    tcb.listenerPort = l.port;
    tcb.congestion = l.congestion;
    l.halfOpen++;
    tcb.irs = seg.seq;
    tcb.rcvNxt = (seg.seq + 1) >>> 0;
    negotiate(this, tcb, seg, now);
    tcb.sndWnd = seg.wnd;
    tcb.maxSndWnd = seg.wnd;
    tcb.sndWl1 = seg.seq;
    tcb.state = State.synReceived;
    tcb.rttStart = now;
    this.counters.passiveOpens++;
    sendControl(this, tcb, TcpFlags.syn | TcpFlags.ack, tcb.iss, now);
    tcb.sndNxt = (tcb.iss + 1) >>> 0;
    tcb.sndMax = tcb.sndNxt;
    this.armRetransmit(tcb, now);
    return false;
  }

  /** Answers a SYN with a cookie and keeps no state (the backlog is full). */
  private _cookieSynAck(seg: Segment, now: number): void {
    const o = seg.options;
    const mss = Math.min(o.mss > 0 ? o.mss : 536, this.ip.device.mtu - 40);
    const isn = this._cookies.isn(seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, seg.seq, mss, now);
    const r = this.repr;
    r.srcPort = seg.dstPort;
    r.dstPort = seg.srcPort;
    r.seq = isn;
    r.ack = (seg.seq + 1) >>> 0;
    r.flags = TcpFlags.syn | TcpFlags.ack;
    r.window = Math.min(this.config.rcvBufBytes, 65535);
    r.urgent = 0;
    r.payloadLen = 0;
    const opt = r.options;
    opt.clear();
    opt.mss = this.config.mss;
    const ws = this.config.windowScaling && o.windowScale >= 0 ? o.windowScale : -1;
    if (this.config.timestamps && o.timestamps) {
      // Window scale and SACK ride in the TSval (RFC 4987 3.6); without timestamps they are lost.
      opt.timestamps = true;
      opt.tsVal = this._cookies.tsval(tsNow(now), ws, this.config.sack && o.sackPermitted, false);
      opt.tsEcr = o.tsVal;
      if (ws >= 0) opt.windowScale = this._scaleFor(this.config.rcvBufBytes);
      if (this.config.sack && o.sackPermitted) opt.sackPermitted = true;
    }
    this._sendRaw(seg.srcIp, now);
    this.counters.synCookiesSent++;
  }

  /**
   * The ACK that completes a cookie handshake: builds the connection from the
   * cookie. Returns -1 when it is no valid cookie, else 1 if the connection
   * kept the segment's buffer, 0 if not.
   */
  private _cookieAck(l: Listener, seg: Segment, now: number): number {
    const o = seg.options;
    const got = this._cookies.check(
      seg.dstIp,
      seg.dstPort,
      seg.srcIp,
      seg.srcPort,
      seg.seq,
      seg.ack,
      now,
      o.timestamps,
      o.tsEcr,
    );
    if (got === "invalid") {
      this.counters.synCookiesFailed++;
      return -1;
    }
    const tcb = this._create(seg.dstPort, seg.srcIp, seg.srcPort, false, now);
    tcb.listenerPort = l.port;
    tcb.iss = (seg.ack - 1) >>> 0;
    tcb.sndUna = seg.ack;
    tcb.sndNxt = seg.ack;
    tcb.sndMax = seg.ack;
    tcb.irs = (seg.seq - 1) >>> 0;
    tcb.rcvNxt = seg.seq;
    tcb.rcvAdv = (seg.seq + Math.min(this.config.rcvBufBytes, 65535)) >>> 0;
    tcb.sndMss = Math.min(got.mss, this.ip.device.mtu - 40);
    tcb.tsOk = got.timestamps;
    if (tcb.tsOk) {
      tcb.tsRecent = o.tsVal;
      tcb.tsRecentAge = now;
    }
    if (got.windowScale >= 0) {
      tcb.sndScale = Math.min(got.windowScale, 14);
      tcb.rcvScale = tcb.rcvScaleOffered;
    }
    tcb.sackOk = got.sackPermitted;
    tcb.cc = createCongestionControl(tcb.congestion ?? l.congestion ?? this.config.congestion, tcb.sndMss, {
      sack: tcb.sackOk,
    });
    tcb.sndWnd = seg.wnd << tcb.sndScale;
    tcb.maxSndWnd = tcb.sndWnd;
    tcb.sndWl1 = seg.seq;
    tcb.sndWl2 = seg.ack;
    tcb.state = State.synReceived;
    l.halfOpen++;
    this.counters.synCookiesAccepted++;
    this.counters.passiveOpens++;
    // Through the SYN-RECEIVED arm: it becomes ESTABLISHED and takes any data.
    tcb.sndUna = (seg.ack - 1) >>> 0;
    return segmentArrives(this, tcb, seg, now) ? 1 : 0;
  }

  /** RFC 9293 3.10.7.1: no connection. RST unless the segment is one. */
  private _closedInput(seg: Segment, now: number): void {
    this.counters.noListener++;
    if (seg.has(TcpFlags.rst)) return;
    if (seg.has(TcpFlags.ack)) this.sendRstAck(seg, seg.ack, now);
    else this._sendRst(seg, 0, (seg.seq + seg.len) >>> 0, now);
  }

  // --------------------------------------------- used by input.ts and output.ts

  /** @internal Sends <SEQ=seq><CTL=RST> in answer to `seg`. */
  sendRstAck(seg: Segment, seq: number, now: number): void {
    this._sendRst(seg, seq, -1, now);
  }

  private _sendRst(seg: Segment, seq: number, ackNum: number, now: number): void {
    const r = this.repr;
    r.srcPort = seg.dstPort;
    r.dstPort = seg.srcPort;
    r.seq = seq;
    r.ack = ackNum < 0 ? 0 : ackNum;
    r.flags = TcpFlags.rst | (ackNum < 0 ? 0 : TcpFlags.ack);
    r.window = 0;
    r.urgent = 0;
    r.payloadLen = 0;
    r.options.clear();
    this._sendRaw(seg.srcIp, now);
    this.counters.outRsts++;
  }

  /** Sends the header in {@link repr} to `dst` in a fresh buffer (no connection). */
  private _sendRaw(dst: number, now: number): void {
    const zone = this.ip.device.zone;
    const h = zone.tryTake();
    if (h < 0) {
      this.counters.noBufferDrops++;
      return;
    }
    const tcpOff = zone.dataStart(h) + zone.headroom + ipHeadroom;
    const len = this.repr.headerLen();
    this.repr.emit(this.tcpView.attach(zone.bytes, tcpOff, len), this.ip.iface.address, dst, false);
    this.counters.outSegs++;
    this.ip.sendTcp(h, tcpOff, len, dst, now);
  }

  /** @internal An ACK that tells a blind attacker nothing, rate-limited (RFC 5961 3.2, 4.2, 7). */
  challengeAck(tcb: Tcb, now: number): void {
    // One budget per connection: a shared one is a side channel (CVE-2016-5696).
    tcb.challenge ??= new TokenBucket(this.config.challengeAckPerSecond, this.config.challengeAckPerSecond, now);
    if (tcb.challenge.take(now)) {
      this.counters.challengeAcks++;
      sendAck(this, tcb, now);
    } else {
      this.counters.challengeAcksSuppressed++;
    }
  }

  /** @internal */
  reassembly(tcb: Tcb): Reassembly {
    let q = this._reasm[tcb.id];
    if (q === undefined) {
      const zone = this.ip.device.zone;
      q = new Reassembly({
        release: (h) => zone.release(h),
        bytesMax: this.config.reassemblyBytesMax,
        budget: this._budget,
      });
      this._reasm[tcb.id] = q;
    }
    return q;
  }

  /** @internal */
  reassemblyIfAny(tcb: Tcb): Reassembly | undefined {
    return this._reasm[tcb.id];
  }

  /** @internal Out-of-order bytes `tcb` holds. */
  reassemblyBytes(tcb: Tcb): number {
    return this._reasm[tcb.id]?.bytes ?? 0;
  }

  /** @internal */
  noteArrival(tcb: Tcb, seq: number): void {
    if (tcb.sackOk) this._sackBuilder(tcb).noteArrival(seq);
  }

  /** @internal A duplicate segment: reported first in the next SACK option (RFC 2883). */
  noteDuplicate(tcb: Tcb, seq: number, len: number): void {
    if (tcb.sackOk) this._sackBuilder(tcb).noteDuplicate(seq, len);
  }

  /** @internal SACK blocks the next segment of `tcb` will carry. */
  sackBlocksFor(tcb: Tcb): number {
    const q = this._reasm[tcb.id];
    if (!tcb.sackOk || q === undefined || q.count === 0) return 0;
    return this._sackBuilder(tcb).build(tcb.rcvNxt, q, this._sackScratch, tcb.tsOk ? 3 : 4);
  }

  /** @internal Puts SACK blocks into outgoing options (RFC 2018 4). */
  fillSackBlocks(tcb: Tcb, o: TcpOptions): void {
    const n = this.sackBlocksFor(tcb);
    for (let i = 0; i < n; i++) o.addSackBlock(this._sackScratch[2 * i], this._sackScratch[2 * i + 1]);
  }

  private _sackBuilder(tcb: Tcb): SackBlockBuilder {
    let b = this._sack[tcb.id];
    if (b === undefined) {
      b = new SackBlockBuilder();
      this._sack[tcb.id] = b;
    }
    return b;
  }

  /** @internal Whether Nagle is off for `tcb`. */
  noDelay(tcb: Tcb): boolean {
    return tcb.noDelay ?? this.config.noDelay;
  }

  /** @internal Re-arms the connection's wheel slot at its earliest deadline. */
  rearm(tcb: Tcb): void {
    if (tcb.dead) return;
    const d = tcb.nextDeadline();
    if (d === Infinity) this._wheel.cancel(tcb.id);
    else if (this._wheel.deadlineOf(tcb.id) !== d) this._wheel.arm(tcb.id, d);
  }

  /** @internal Starts the retransmission timer if it is not running (RFC 6298 (5.1)). */
  armRetransmit(tcb: Tcb, now: number): void {
    if (tcb.rtxAt === Infinity) {
      tcb.rtxAt = now + tcb.rto.rtoMs;
      this.rearm(tcb);
    }
  }

  /** @internal */
  armDelayedAck(tcb: Tcb, now: number): void {
    if (tcb.delackAt === Infinity) {
      tcb.delackAt = now + this.config.delayedAckMs;
      this.rearm(tcb);
    }
  }

  /** @internal The persist timer (RFC 9293 3.8.6.1): probe a zero window. */
  armPersist(tcb: Tcb, now: number): void {
    if (tcb.persistAt === Infinity) {
      const base = Math.max(tcb.rto.rtoMs, 200);
      tcb.persistAt = now + Math.min(base * 2 ** tcb.persistBackoff, 60_000);
      this.rearm(tcb);
    }
  }

  /** @internal 2 MSL in TIME-WAIT (RFC 9293 3.3.2). */
  armTimeWait(tcb: Tcb, now: number): void {
    tcb.rtxAt = Infinity;
    tcb.persistAt = Infinity;
    tcb.keepaliveAt = Infinity;
    tcb.delackAt = Infinity;
    tcb.timeWaitAt = now + this.config.timeWaitMs;
    this.rearm(tcb);
  }

  /** @internal Idle again: the keepalive timer restarts. */
  keepaliveReset(tcb: Tcb, now: number): void {
    if (!(tcb.keepalive ?? this.config.keepalive)) return;
    tcb.keepaliveProbesSent = 0;
    tcb.keepaliveAt = now + (tcb.keepaliveIdleMs ?? this.config.keepaliveIdleMs);
    this.rearm(tcb);
  }

  /** @internal A passive connection is established: the listener's application takes it. */
  accepted(tcb: Tcb): void {
    const l = this._listeners.get(tcb.listenerPort);
    tcb.listenerPort = -1;
    if (l === undefined) return;
    l.halfOpen--;
    const h = l.onAccept(tcb);
    if (h !== undefined) tcb.handlers = h;
  }

  /** @internal The application sees the connection closed (TIME-WAIT holds the tuple a while longer). */
  closedForApp(tcb: Tcb, _now: number): void {
    if (tcb.closedNotified) return;
    tcb.closedNotified = true;
    this.counters.currEstab = Math.max(0, this.counters.currEstab - 1);
    tcb.handlers.onClose?.(tcb, undefined);
  }

  /** @internal Removes a connection: releases its buffers and timers, tells the application. */
  destroy(tcb: Tcb, error: string | undefined, _now: number): void {
    if (tcb.dead) return;
    const wasOpen = tcb.state >= State.established && !tcb.closedNotified;
    if (tcb.listenerPort >= 0) {
      const l = this._listeners.get(tcb.listenerPort);
      if (l !== undefined) l.halfOpen--;
    }
    if (error !== undefined && tcb.state === State.synSent) this.counters.attemptFails++;
    tcb.dead = true;
    tcb.error = error;
    tcb.state = State.closed;
    this._wheel.cancel(tcb.id);
    this._table.delete(tcb);
    tcb.sendq.clear();
    // A clean close keeps what was received and not yet read: our close was a half-close,
    // and the application may still read it. It is released as it is read, or by
    // releaseUnread() (Stack.close). An abort or a reset drops it.
    if (error === undefined && tcb.recvq.bytes > 0) this._unread.add(tcb);
    else tcb.recvq.clear();
    this._reasm[tcb.id]?.clear();
    this._reasm[tcb.id] = undefined;
    this._sack[tcb.id] = undefined;
    this._tcbs[tcb.id] = undefined;
    this._freeIds.push(tcb.id);
    if (wasOpen) this.counters.currEstab = Math.max(0, this.counters.currEstab - 1);
    if (!tcb.closedNotified) {
      tcb.closedNotified = true;
      tcb.handlers.onClose?.(tcb, error);
    }
  }

  // ------------------------------------------------------------- internals

  private _create(localPort: number, remoteIp: number, remotePort: number, active: boolean, now: number): Tcb {
    const id = this._freeIds.length > 0 ? this._freeIds.pop()! : this._tcbs.length;
    if (id >= this._wheel.capacity) this._wheel.grow(Math.max(id + 1, this._wheel.capacity * 2));
    const c = this.config;
    const tcb = new Tcb(
      id,
      this.ip.device.zone,
      { ip: this.ip.iface.address, port: localPort },
      { ip: remoteIp, port: remotePort },
      active,
      new RtoEstimator({ minMs: c.rtoMinMs, maxMs: c.rtoMaxMs, initialMs: c.rtoInitialMs }),
      ccNotStarted,
      { snd: c.sndBufBytes, rcv: c.rcvBufBytes },
    );
    tcb.iss = this._isn.isn(tcb.localIp, localPort, remoteIp, remotePort, now);
    tcb.sndUna = tcb.iss;
    tcb.sndNxt = tcb.iss;
    tcb.sndMax = tcb.iss;
    tcb.rcvScaleOffered = c.windowScaling ? this._scaleFor(c.rcvBufBytes) : 0;
    this._tcbs[id] = tcb;
    this._table.add(tcb);
    return tcb;
  }

  /** Smallest shift that lets a 16-bit window say `bytes` (RFC 7323 2.3: at most 14). */
  private _scaleFor(bytes: number): number {
    let s = 0;
    while (s < 14 && 65535 * 2 ** s < bytes) s++;
    return s;
  }

  private _lookup(remoteIp: number, remotePort: number, localPort: number): Tcb | undefined {
    return this._table.get(remoteIp, remotePort, localPort);
  }

  private _ephemeral(remoteIp: number, remotePort: number, now: number): number {
    const { ephemeralPortMin: lo, ephemeralPortMax: hi } = this.config;
    const span = hi - lo + 1;
    let reusable: Tcb | undefined;
    for (let i = 0; i < span; i++) {
      const p = this._nextPort;
      this._nextPort = p >= hi ? lo : p + 1;
      if (this._listeners.has(p)) continue;
      const t = this._lookup(remoteIp, remotePort, p);
      if (t === undefined) return p;
      // A tuple in TIME-WAIT for over a second, with timestamps, can serve a new connection:
      // its segments carry newer timestamps than anything old (Linux tcp_tw_reuse, RFC 6191).
      if (reusable === undefined && t.state === State.timeWait && t.tsOk && now - t.lastRecvAt >= 1000) {
        reusable = t;
      }
    }
    if (reusable !== undefined) {
      this.counters.timeWaitReused++;
      const p = reusable.localPort;
      this.destroy(reusable, undefined, now);
      return p;
    }
    throw new ConfigError("localPort", "no ephemeral port is free for this peer");
  }

  private _canSend(c: Tcb): boolean {
    if (c.dead || c.finQueued) return false;
    return c.state === State.established || c.state === State.closeWait || c.state === State.synSent ||
      c.state === State.synReceived;
  }

  private _windowOpened(c: Tcb, now: number): void {
    // RFC 9293 3.8.6.2.2: tell the peer once the window grew by min(buffer/2, MSS).
    const before = seqGt(c.rcvAdv, c.rcvNxt) ? (c.rcvAdv - c.rcvNxt) >>> 0 : 0;
    const max = Math.min(c.rcvBufBytes, 65535 * 2 ** c.rcvScale);
    const free = Math.min(c.rcvBufBytes - c.recvq.bytes - this.reassemblyBytes(c), max);
    // Only a window that had shrunk below half its size is worth an ACK of its own; a wider
    // one rides on the next (possibly delayed) ACK, or every read would cost a segment.
    if (
      free - before >= Math.min(c.rcvBufBytes >>> 1, c.sndMss) && before < max >>> 1 &&
      c.state >= State.established
    ) {
      c.ackNow = true;
      output(this, c, now);
    }
  }

  private _onTimer(id: number): void {
    const tcb = this._tcbs[id];
    if (tcb === undefined) return;
    const now = this._now;
    if (tcb.timeWaitAt <= now) {
      tcb.timeWaitAt = Infinity;
      this.destroy(tcb, undefined, now);
      return;
    }
    if (tcb.rtxAt <= now) {
      tcb.rtxAt = Infinity;
      this._retransmitTimeout(tcb, now);
      if (tcb.dead) return;
    }
    if (tcb.delackAt <= now) {
      tcb.delackAt = Infinity;
      if (tcb.unackedSegs > 0 || tcb.ackNow) sendAck(this, tcb, now);
    }
    if (tcb.persistAt <= now) {
      tcb.persistAt = Infinity;
      if (tcb.sndWnd === 0 && tcb.sendq.bytes > 0) {
        // A window probe: an old sequence number elicits an ACK with the window.
        sendControl(this, tcb, TcpFlags.ack, (tcb.sndUna - 1) >>> 0, now);
        tcb.stats.zeroWindowProbes++;
        tcb.persistBackoff = Math.min(tcb.persistBackoff + 1, 10);
        this.armPersist(tcb, now);
      } else {
        tcb.persistBackoff = 0;
        tcb.swsOverride = true;
        output(this, tcb, now);
      }
    }
    if (tcb.keepaliveAt <= now) {
      tcb.keepaliveAt = Infinity;
      this._keepalive(tcb, now);
      if (tcb.dead) return;
    }
    this.rearm(tcb);
  }

  /** RFC 6298 (5.4)-(5.7) and RFC 5681 (3.1): the retransmission timer expired. */
  private _retransmitTimeout(tcb: Tcb, now: number): void {
    const s = tcb.state;
    if (s === State.synSent || s === State.synReceived) {
      if (tcb.retransmits >= this.config.synRetries) {
        this.destroy(tcb, s === State.synSent ? "connection timed out" : undefined, now);
        return;
      }
      tcb.retransmits++;
      tcb.rto.backoff();
      tcb.stats.retransTimeouts++;
      this.counters.retransTimeouts++;
      tcb.stats.retransSegs++;
      this.counters.retransSegs++;
      sendControl(this, tcb, s === State.synSent ? TcpFlags.syn : TcpFlags.syn | TcpFlags.ack, tcb.iss, now);
      tcb.rtxAt = now + tcb.rto.rtoMs;
      return;
    }
    if (tcb.flight === 0) return;
    if (tcb.retransmits >= this.config.maxRetransmits) {
      this.destroy(tcb, "connection timed out", now);
      return;
    }
    tcb.retransmits++;
    tcb.stats.retransTimeouts++;
    this.counters.retransTimeouts++;
    tcb.cc.onRetransmitTimeout(now, tcb.flight, tcb.sndNxt);
    if (tcb.sackOk) scoreboard(tcb).onRetransmitTimeout();
    tcb.rto.backoff();
    tcb.rttSeq = -1; // Karn
    tcb.tsSampleFloor = tsNow(now);
    tcb.sndNxt = tcb.sndUna; // go back: resend from the first unacknowledged byte
    tcb.stats.retransSegs++;
    this.counters.retransSegs++;
    output(this, tcb, now);
    if (tcb.rtxAt === Infinity && tcb.flight > 0) tcb.rtxAt = now + tcb.rto.rtoMs;
  }

  private _keepalive(tcb: Tcb, now: number): void {
    const idle = tcb.keepaliveIdleMs ?? this.config.keepaliveIdleMs;
    const interval = tcb.keepaliveIntervalMs ?? this.config.keepaliveIntervalMs;
    const probes = tcb.keepaliveProbes ?? this.config.keepaliveProbes;
    if (now - tcb.lastRecvAt < idle && tcb.keepaliveProbesSent === 0) {
      tcb.keepaliveAt = tcb.lastRecvAt + idle;
      return;
    }
    if (tcb.keepaliveProbesSent > 0 && tcb.lastRecvAt > now - interval * tcb.keepaliveProbesSent) {
      this.keepaliveReset(tcb, now); // the peer answered
      return;
    }
    if (tcb.keepaliveProbesSent >= probes) {
      this.counters.keepaliveTimeouts++;
      this.destroy(tcb, "keepalive timed out", now);
      return;
    }
    tcb.keepaliveProbesSent++;
    sendControl(this, tcb, TcpFlags.ack, (tcb.sndUna - 1) >>> 0, now); // RFC 1122 4.2.3.6
    tcb.keepaliveAt = now + interval;
  }
}
