/**
 * The transmission control block (RFC 9293 3.3.1): one connection's state,
 * with the variables named as in the RFC (SND.UNA is `sndUna`).
 *
 * Read first: RFC 9293 3.3 (sequence variables), 3.10 (event processing);
 * RFC 7323 (window scale, timestamps, PAWS); RFC 6298 (RTO).
 *
 * @module
 */
import type { MemZone } from "../mem/zone.ts";
import { formatIpv4 } from "../wire/mod.ts";
import type { CongestionControl, CongestionName } from "./congestion.ts";
import type { EcnMode } from "./config.ts";
import type { TokenBucket } from "./rate_limit.ts";
import type { Reassembly } from "./reassembly.ts";
import { type SackBlockBuilder, SackScoreboard } from "./sack.ts";
import { RecvQueue } from "./recv_queue.ts";
import type { RtoEstimator } from "./rto.ts";
import type { Prr } from "./prr.ts";
import type { Rack } from "./rack.ts";
import { SendQueue } from "./send_queue.ts";
import { State, stateName } from "./state.ts";
import { effectiveMss } from "./window.ts";

/** What a connection tells its application. Every handler is optional. */
export interface TcpHandlers {
  /** The connection is established (both opens). */
  onOpen?(c: Tcb): void;
  /** Received data waits in {@link Tcb.recvq}. */
  onData?(c: Tcb): void;
  /** The peer sent FIN: no more data will arrive. */
  onEnd?(c: Tcb): void;
  /** Send space became available again after {@link Tcb.sendSpace} reached 0. */
  onWritable?(c: Tcb): void;
  /** The connection is gone: closed cleanly (`error` undefined) or aborted. */
  onClose?(c: Tcb, error: string | undefined): void;
}

/** `T` with its readonly fields writable (for {@link Tcb.reset}). */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The handlers of a connection nobody listens to yet: one shared, frozen object. */
export const noHandlers: TcpHandlers = Object.freeze({});

/** Counters of one connection (what `ss -ti` shows a kernel user). */
export class TcbStats {
  segsIn = 0;
  segsOut = 0;
  bytesAcked = 0;
  bytesReceived = 0;
  retransSegs = 0;
  retransTimeouts = 0;
  fastRetrans = 0;
  dupAcksIn = 0;
  oooSegsIn = 0;
  oooDropped = 0;
  zeroWindowProbes = 0;
  /** Segments whose payload had to be copied into a fresh buffer to put a header before it. */
  sendCopies = 0;
  /** Tail loss probes sent (RFC 8985 7.3). */
  tlpProbes = 0;
  /** Probes that repaired a loss (RFC 8985 7.4.2). */
  tlpRecoveries = 0;
  /** Segments RACK marked lost (RFC 8985 6.2 step 5, 6.3). */
  rackLosses = 0;
  /** ACKs that showed reordering (RFC 8985 6.2 step 3). */
  rackReorderDetected = 0;
  /** Times PRR held back a segment the congestion window would have let go (RFC 6937). */
  prrLimitedSends = 0;
  /** Restarts after idle that shrank the window (RFC 5681 4.1). */
  idleRestarts = 0;
  /** Large segments sent for the device to cut (each also counted in segsOut as the segments it becomes). */
  largeSegsOut = 0;
  /** Retransmission timeouts F-RTO found spurious and undid (RFC 5682). */
  spuriousRtos = 0;
  /** ACKs received with ECE (RFC 3168 6.1.2). */
  eceIn = 0;
  /** Segments received marked CE (RFC 3168 6.1.3). */
  ceMarksIn = 0;
  /** Segments sent with CWR (RFC 3168 6.1.2). */
  cwrOut = 0;
  /** Window reductions an ECN echo caused. */
  ecnReductions = 0;

  /** Every counter back to 0 (a recycled control block's). */
  reset(): void {
    this.segsIn = 0;
    this.segsOut = 0;
    this.bytesAcked = 0;
    this.bytesReceived = 0;
    this.retransSegs = 0;
    this.retransTimeouts = 0;
    this.fastRetrans = 0;
    this.dupAcksIn = 0;
    this.oooSegsIn = 0;
    this.oooDropped = 0;
    this.zeroWindowProbes = 0;
    this.sendCopies = 0;
    this.tlpProbes = 0;
    this.tlpRecoveries = 0;
    this.rackLosses = 0;
    this.rackReorderDetected = 0;
    this.prrLimitedSends = 0;
    this.idleRestarts = 0;
    this.largeSegsOut = 0;
    this.spuriousRtos = 0;
    this.eceIn = 0;
    this.ceMarksIn = 0;
    this.cwrOut = 0;
    this.ecnReductions = 0;
  }
}

/**
 * The state few connections ever set (out-of-order FIN, timeouts, probes,
 * errors, socket options): kept apart and made on first use, so that an
 * ordinary connection carries one pointer for all of it (memory per
 * connection). {@link Tcb} reads and writes it through accessors.
 */
class TcbRare {
  rcvFinSeq: number = -1;
  tsSampleFloor: number = 0;
  challenge: TokenBucket | undefined = undefined;
  lastOowAckAt: number = -Infinity;
  persistBackoff: number = 0;
  keepaliveProbesSent: number = 0;
  error: string | undefined = undefined;
  congestion: CongestionName | undefined = undefined;
  keepalive: boolean | undefined = undefined;
  keepaliveIdleMs: number | undefined = undefined;
  keepaliveIntervalMs: number | undefined = undefined;
  keepaliveProbes: number | undefined = undefined;
  prr: Prr | undefined = undefined;
  ecn: EcnMode | undefined = undefined;
  frtoStage: number = 0;
  frtoRecover: number = 0;
}

/** One connection. Fields are the TCP layer's; applications read them, and act through the layer. */
export class Tcb {
  /** Small integer id: its timer slot and table index. */
  readonly id: number;
  state: State = State.closed;
  readonly localIp: number;
  readonly localPort: number;
  readonly remoteIp: number;
  readonly remotePort: number;
  /** Whether we opened it (connect) rather than accepted it. */
  readonly active: boolean;
  handlers: TcpHandlers = noHandlers;
  /** Free for the application: what it attaches to the connection. */
  user: unknown = undefined;
  readonly stats = new TcbStats();

  // Send sequence space (RFC 9293 3.3.1).
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent plus one (SND.MAX of RFC 6582 and BSD). */
  sndMax = 0;
  /** Send window, bytes (already scaled). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer has offered (RFC 9293 3.8.6.2.1 Max(SND.WND)). */
  maxSndWnd = 0;
  /** Peer's window scale shift (RFC 7323 2.3), 0 when not in use. */
  sndScale = 0;
  /** Largest payload we put in a segment (the peer's MSS, clamped). */
  sndMss = 536;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we last advertised (RCV.NXT + RCV.WND then). */
  rcvAdv = 0;
  /**
   * Widest window advertised in a segment without SYN (0 before the first); with the SYN's
   * (at most 64 KiB, unscaled), what a window that "shrunk" is measured against (windowOpened).
   */
  rcvWndAdvMax = 0;
  /** Our window scale shift, 0 when not in use. */
  rcvScale = 0;
  /** Window scale we offered in our SYN (used only if the peer offers one too). */
  rcvScaleOffered = 0;

  // Options agreed.
  tsOk = false;
  sackOk = false;
  /** ECN agreed in the handshake (RFC 3168 6.1.1). */
  ecnOk = false;
  /** ECN state bits ({@link EcnState} of ecn.ts): echoing CE, a CWR owed. */
  ecnState = 0;
  /** TS.Recent and when it was set (RFC 7323 4.3, 5.5). */
  tsRecent = 0;
  tsRecentAge = 0;
  /** The acknowledgment number of the last segment we sent (Last.ACK.sent of RFC 7323 4.3). */
  lastAckSent = 0;

  // Queues.
  readonly sendq: SendQueue;
  readonly recvq: RecvQueue;
  /** The application asked to close: FIN follows the queued data. */
  finQueued = false;
  /** Our FIN's sequence number, once sent. */
  finSeq = -1;
  /** The peer's FIN was received. */
  finReceived = false;

  /** Segments that arrived ahead of a hole (RFC 9293 3.10.7.4 text), made when the first one does. */
  reasm: Reassembly | undefined = undefined;
  /** What the SACK blocks we send report (RFC 2018 4, RFC 2883), made with the first block to report. */
  sackRx: SackBlockBuilder | undefined = undefined;

  // Reliability.
  readonly rto: RtoEstimator;
  cc: CongestionControl;
  /** The SACK scoreboard (RFC 6675), when SACK was agreed. */
  sb: SackScoreboard | undefined = undefined;
  /** RACK-TLP's state (RFC 8985), made when a connection with SACK first sends data, unless RFC 6675 is configured. */
  rack: Rack | undefined = undefined;
  /** Retransmissions since the last forward progress. */
  retransmits = 0;
  /** The sequence number being timed for an RTT sample (without timestamps), or -1 (RFC 6298 3, Karn). */
  rttSeq = -1;
  rttStart = 0;
  /** When a segment of it last left (RFC 5681 4.1 measures idle time from it). */
  lastSendAt = 0;
  /** Bytes in flight just after new data last left: the window in use (see recovery.ts lossFlightSize). */
  flightAtSend = 0;
  lastRecvAt = 0;

  // ACK policy.
  /** Full-size segments received since our last ACK (RFC 9293 3.8.6.3: ACK at least every second). */
  unackedSegs = 0;
  /** An ACK must leave with the next output. */
  ackNow = false;
  /**
   * An ACK is owed (RFC 5681 4.2's second full-sized segment) and waits for the end of the loop's
   * iteration, where TcpLayer.flushCorked sends it unless an answer carried it first (input.ts).
   */
  ackHeld = false;
  /**
   * The held ACK leaves at the end of the iteration, not after a delay (context.ts holdAck): an
   * out-of-order or unacceptable segment arrived with SACK agreed (the SACK blocks of the whole
   * burst leave in one ACK, input.ts), the handshake completed (what the application writes on
   * open carries the ACK), or a read opened the window (output.ts windowOpened: the application's
   * next request carries the update, or it leaves alone).
   */
  ackBurstEnd = false;
  /**
   * Output held back while the application queues a write and its close (Linux's TCP_CORK, for
   * one handler's turn): TcpLayer.uncork sends what they queued together, the FIN on the last segment.
   */
  corked = false;
  /** Which of the layer's end-of-iteration lists (autocork.ts Corks) hold it, a bit each. */
  waitBits = 0;

  // Timers (absolute ms; Infinity when not armed). The wheel holds the earliest.
  rtxAt = Infinity;
  delackAt = Infinity;
  persistAt = Infinity;
  keepaliveAt = Infinity;
  /**
   * The user timeout (RFC 9293 3.8.3, Linux TCP_USER_TIMEOUT): data waits and
   * nothing of it has been acknowledged since this long before; Infinity when off.
   */
  stallAt = Infinity;
  /** The pacer's timer: held back by pacing until then (pacer.ts); Infinity when not armed. */
  paceAt = Infinity;
  /** The pacer's release time: the next segment may leave from then on (pacer.ts). */
  paceNext = 0;

  /** The listener that accepted it, until the application hears of it. */
  listenerPort = -1;
  /** The send buffer's size at the start, bytes (config.sndBufBytes). */
  sndBufBytes: number;
  /** The most the send buffer grows to with the congestion window, bytes (config.sndBufBytesMax). */
  sndBufBytesMax: number;
  rcvBufBytes: number;
  /** Waiting for room in the device's transmit batch (ConnectionOwner.txBlocked). */
  txBlocked = false;
  /** An onWritable is owed once space frees up. */
  wantWritable = false;
  /** Set when it has left the table: no more events. */
  dead = false;
  /** The application was told it closed. */
  closedNotified = false;
  /** The application gave it back (Connections.recycle): once released it may serve another connection. */
  recycling = false;
  // Fields of their own, not rare state (TcbRare): set on a great many connections.
  /** Per-connection Nagle switch; undefined: the layer's (clients and node:http set it on each connection). */
  noDelay: boolean | undefined = undefined;
  /**
   * Per-connection user timeout (TCP_USER_TIMEOUT); undefined: the layer's (`luna serve`'s apps
   * set it on each connection).
   */
  userTimeoutMs: number | undefined = undefined;
  /** The persist timer expired with a small window open: send despite sender SWS avoidance once. */
  swsOverride = false;

  // Rarely set state (see TcbRare): reading gives the default until something is written,
  // and writing the default while none is set costs nothing.
  private _rare: TcbRare | undefined = undefined;
  private _ext(): TcbRare {
    return this._rare ??= new TcbRare();
  }
  /** The peer's FIN sequence number when it arrived ahead of missing data, else -1. */
  get rcvFinSeq(): number {
    return this._rare === undefined ? -1 : this._rare.rcvFinSeq;
  }
  set rcvFinSeq(v: number) {
    if (this._rare !== undefined || v !== -1) this._ext().rcvFinSeq = v;
  }
  /** TSecr values below this came from transmissions before the last timeout: no RTT samples from them. */
  get tsSampleFloor(): number {
    return this._rare === undefined ? 0 : this._rare.tsSampleFloor;
  }
  set tsSampleFloor(v: number) {
    if (this._rare !== undefined || v !== 0) this._ext().tsSampleFloor = v;
  }
  /** The challenge-ACK budget of this connection (RFC 5961 7), made on first use. */
  get challenge(): TokenBucket | undefined {
    return this._rare === undefined ? undefined : this._rare.challenge;
  }
  set challenge(v: TokenBucket | undefined) {
    if (this._rare !== undefined || v !== undefined) this._ext().challenge = v;
  }
  /** When we last answered an unacceptable segment without data. */
  get lastOowAckAt(): number {
    return this._rare === undefined ? -Infinity : this._rare.lastOowAckAt;
  }
  set lastOowAckAt(v: number) {
    if (this._rare !== undefined || v !== -Infinity) this._ext().lastOowAckAt = v;
  }
  /** Persist timer backoff count. */
  get persistBackoff(): number {
    return this._rare === undefined ? 0 : this._rare.persistBackoff;
  }
  set persistBackoff(v: number) {
    if (this._rare !== undefined || v !== 0) this._ext().persistBackoff = v;
  }
  /** Keepalive probes sent since the peer was last heard. */
  get keepaliveProbesSent(): number {
    return this._rare === undefined ? 0 : this._rare.keepaliveProbesSent;
  }
  set keepaliveProbesSent(v: number) {
    if (this._rare !== undefined || v !== 0) this._ext().keepaliveProbesSent = v;
  }
  /** The error that ended it, if any. */
  get error(): string | undefined {
    return this._rare === undefined ? undefined : this._rare.error;
  }
  set error(v: string | undefined) {
    if (this._rare !== undefined || v !== undefined) this._ext().error = v;
  }
  /** Per-connection congestion control (a socket option); undefined: the layer's. */
  get congestion(): CongestionName | undefined {
    return this._rare === undefined ? undefined : this._rare.congestion;
  }
  set congestion(v: CongestionName | undefined) {
    if (this._rare !== undefined || v !== undefined) this._ext().congestion = v;
  }
  /** Per-connection keepalive switch; undefined: the layer's. */
  get keepalive(): boolean | undefined {
    return this._rare === undefined ? undefined : this._rare.keepalive;
  }
  set keepalive(v: boolean | undefined) {
    if (this._rare !== undefined || v !== undefined) this._ext().keepalive = v;
  }
  /** Per-connection keepalive idle time; undefined: the layer's. */
  get keepaliveIdleMs(): number | undefined {
    return this._rare === undefined ? undefined : this._rare.keepaliveIdleMs;
  }
  set keepaliveIdleMs(v: number | undefined) {
    if (this._rare !== undefined || v !== undefined) this._ext().keepaliveIdleMs = v;
  }
  /** Per-connection keepalive probe interval; undefined: the layer's. */
  get keepaliveIntervalMs(): number | undefined {
    return this._rare === undefined ? undefined : this._rare.keepaliveIntervalMs;
  }
  set keepaliveIntervalMs(v: number | undefined) {
    if (this._rare !== undefined || v !== undefined) this._ext().keepaliveIntervalMs = v;
  }
  /** Per-connection keepalive probe count; undefined: the layer's. */
  get keepaliveProbes(): number | undefined {
    return this._rare === undefined ? undefined : this._rare.keepaliveProbes;
  }
  set keepaliveProbes(v: number | undefined) {
    if (this._rare !== undefined || v !== undefined) this._ext().keepaliveProbes = v;
  }

  /** Per-connection ECN mode (a socket option); undefined: the layer's. */
  get ecn(): EcnMode | undefined {
    return this._rare === undefined ? undefined : this._rare.ecn;
  }
  set ecn(v: EcnMode | undefined) {
    if (this._rare !== undefined || v !== undefined) this._ext().ecn = v;
  }
  /** F-RTO's step (RFC 5682 2.1: 1 after the timeout, 2 once new data went out); 0: none under way. */
  get frtoStage(): number {
    return this._rare === undefined ? 0 : this._rare.frtoStage;
  }
  set frtoStage(v: number) {
    if (this._rare !== undefined || v !== 0) this._ext().frtoStage = v;
  }
  /** F-RTO's "recover": SND.MAX when the timeout fired. */
  get frtoRecover(): number {
    return this._rare === undefined ? 0 : this._rare.frtoRecover;
  }
  set frtoRecover(v: number) {
    if (this._rare !== undefined || v !== 0) this._ext().frtoRecover = v;
  }

  /** PRR's state (RFC 6937), made by the first recovery. */
  get prr(): Prr | undefined {
    return this._rare === undefined ? undefined : this._rare.prr;
  }
  set prr(v: Prr | undefined) {
    if (this._rare !== undefined || v !== undefined) this._ext().prr = v;
  }

  constructor(
    id: number,
    zone: MemZone,
    local: { ip: number; port: number },
    remote: { ip: number; port: number },
    active: boolean,
    rto: RtoEstimator,
    cc: CongestionControl,
    bufs: { snd: number; sndMax: number; rcv: number },
  ) {
    this.id = id;
    this.localIp = local.ip;
    this.localPort = local.port;
    this.remoteIp = remote.ip;
    this.remotePort = remote.port;
    this.active = active;
    this.sendq = new SendQueue(zone);
    this.recvq = new RecvQueue(zone);
    this.rto = rto;
    this.cc = cc;
    this.sndBufBytes = bufs.snd;
    this.sndBufBytesMax = bufs.sndMax;
    this.rcvBufBytes = bufs.rcv;
  }

  /**
   * Makes this control block, closed and released (Connections.recycle), a
   * new connection's: every field as the constructor leaves it, the queues
   * (empty) and the RTO estimator kept and restarted. Nothing of the old
   * connection may still refer to it (see Connections.recycle).
   */
  reset(
    id: number,
    local: { ip: number; port: number },
    remote: { ip: number; port: number },
    active: boolean,
    rtoInitialMs: number,
    cc: CongestionControl,
    bufs: { snd: number; sndMax: number; rcv: number },
  ): void {
    const w = this as Mutable<Tcb>;
    w.id = id;
    w.localIp = local.ip;
    w.localPort = local.port;
    w.remoteIp = remote.ip;
    w.remotePort = remote.port;
    w.active = active;
    this.stats.reset();
    this.sendq.reset();
    this.recvq.reset();
    this.rto.restart(rtoInitialMs);
    this.cc = cc;
    this.sndBufBytes = bufs.snd;
    this.sndBufBytesMax = bufs.sndMax;
    this.rcvBufBytes = bufs.rcv;
    this._rare = undefined;
    this.state = State.closed;
    this.handlers = noHandlers;
    this.user = undefined;
    this.iss = 0;
    this.sndUna = 0;
    this.sndNxt = 0;
    this.sndMax = 0;
    this.sndWnd = 0;
    this.sndWl1 = 0;
    this.sndWl2 = 0;
    this.maxSndWnd = 0;
    this.sndScale = 0;
    this.sndMss = 536;
    this.irs = 0;
    this.rcvNxt = 0;
    this.rcvAdv = 0;
    this.rcvWndAdvMax = 0;
    this.rcvScale = 0;
    this.rcvScaleOffered = 0;
    this.tsOk = false;
    this.sackOk = false;
    this.ecnOk = false;
    this.ecnState = 0;
    this.tsRecent = 0;
    this.tsRecentAge = 0;
    this.lastAckSent = 0;
    this.finQueued = false;
    this.finSeq = -1;
    this.finReceived = false;
    this.reasm = undefined;
    this.sackRx = undefined;
    this.sb = undefined;
    this.rack = undefined;
    this.retransmits = 0;
    this.rttSeq = -1;
    this.rttStart = 0;
    this.lastSendAt = 0;
    this.flightAtSend = 0;
    this.lastRecvAt = 0;
    this.unackedSegs = 0;
    this.ackNow = false;
    this.ackHeld = false;
    this.ackBurstEnd = false;
    this.corked = false;
    this.waitBits = 0;
    this.rtxAt = Infinity;
    this.delackAt = Infinity;
    this.persistAt = Infinity;
    this.keepaliveAt = Infinity;
    this.stallAt = Infinity;
    this.paceAt = Infinity;
    this.paceNext = 0;
    this.listenerPort = -1;
    this.txBlocked = false;
    this.wantWritable = false;
    this.dead = false;
    this.closedNotified = false;
    this.recycling = false;
    this.noDelay = undefined;
    this.userTimeoutMs = undefined;
    this.swsOverride = false;
  }

  /** Bytes sent and not yet acknowledged, SYN and FIN counted (FlightSize of RFC 5681). */
  get flight(): number {
    return (this.sndNxt - this.sndUna) >>> 0;
  }

  /** Out-of-order bytes held for reassembly. */
  get reassemblyBytes(): number {
    return this.reasm === undefined ? 0 : this.reasm.bytes;
  }

  /**
   * The send buffer's size now, bytes: twice the congestion window where that is more than
   * sndBufBytes, up to sndBufBytesMax (Linux's tcp_sndbuf_expand: room for a window in
   * flight and the next one queued behind it). A sender whose ACKs come in bursts (a
   * poller that the machine schedules in slices) keeps the path full only with a window's
   * worth queued beyond what is in flight.
   */
  get sndBufLimit(): number {
    const grown = 2 * this.cc.cwnd;
    if (grown <= this.sndBufBytes) return this.sndBufBytes;
    return grown < this.sndBufBytesMax ? Math.floor(grown) : Math.max(this.sndBufBytes, this.sndBufBytesMax);
  }

  /** Bytes the application can still queue for sending. */
  get sendSpace(): number {
    return Math.max(0, this.sndBufLimit - this.sendq.bytes);
  }

  /** The earliest armed timer. */
  nextDeadline(): number {
    return Math.min(this.rtxAt, this.delackAt, this.persistAt, this.keepaliveAt, this.stallAt, this.paceAt);
  }

  /** `198.18.0.1:80 -> 198.18.0.2:49152 ESTABLISHED`. */
  toString(): string {
    return `${formatIpv4(this.localIp)}:${this.localPort} -> ${
      formatIpv4(this.remoteIp)
    }:${this.remotePort} ${stateName(this.state)}`;
  }
}

/**
 * How many ticks of the peer's timestamp clock a segment's TSval may lag TS.Recent and still pass
 * PAWS (RFC 7323 5.3 R1 says none; Linux's TCP_PAWS_WINDOW is 1). A retransmission that fills a
 * hole sets TS.Recent (RFC 7323 4.3), and a path that reorders can deliver after it data the
 * sender sent beyond the hole a moment before it: with a millisecond clock such data carries a
 * TSval one tick older, and dropping it costs a retransmission. PAWS guards against segments of
 * an earlier wrap of the sequence space, which are older by far more than a tick at any rate a
 * sequence space of 2^32 bytes allows (RFC 7323 5.7). The established path (input.ts) and TIME-WAIT
 * (time_wait.ts) both allow it.
 */
export const pawsWindowTicks = 1;

/** TSval of our clock: milliseconds, modulo 2^32 (RFC 7323 5.4: 1 ms to 1 s per tick). */
export function tsNow(now: number): number {
  return Math.floor(now) >>> 0;
}

/**
 * SACK-based fast recovery is under way: the congestion controller and the
 * scoreboard are both in recovery (the two can end at different points, and
 * an empty scoreboard is dropped).
 */
export function inSackRecovery(tcb: Tcb): boolean {
  const sb = tcb.sb;
  return tcb.cc.inRecovery && sb !== undefined && sb.inRecovery;
}

/**
 * The connection's SACK scoreboard, made when first needed: SACK blocks
 * arrived, a recovery begins, or the retransmission timer fired. A scoreboard
 * with nothing in it and no recovery to remember is dropped again (see
 * input.ts), so an idle connection holds none. Only for connections that
 * agreed on SACK.
 */
export function scoreboard(tcb: Tcb): SackScoreboard {
  let sb = tcb.sb;
  if (sb === undefined) {
    sb = new SackScoreboard(effectiveMss(tcb));
    sb.reset(tcb.sndUna);
    sb.sent(tcb.sndMax);
    tcb.sb = sb;
  }
  return sb;
}
