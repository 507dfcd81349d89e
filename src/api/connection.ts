/**
 * A TCP connection as the application holds it: events, reads and writes
 * (copying or zero-copy), socket options and stats.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { Bbr, type BbrInfo } from "../tcp/bbr.ts";
import { Dctcp } from "../tcp/dctcp.ts";
import { State, stateName } from "../tcp/state.ts";
import type { Tcb } from "../tcp/tcb.ts";
import type { TcpLayer } from "../tcp/tcp_layer.ts";
import { formatIpv4 } from "../wire/mod.ts";
import { ConnStream } from "./conn_stream.ts";

/** What a connection tells its application. Every handler is optional. */
export interface ConnectionHandlers {
  /** Established. */
  onOpen?(c: Connection): void;
  /** Data is waiting: {@link Connection.read}, or {@link Connection.peek} and {@link Connection.consume}. */
  onData?(c: Connection): void;
  /** The peer finished sending (FIN). */
  onEnd?(c: Connection): void;
  /** Send space is back after a write or send was refused or cut short. */
  onWritable?(c: Connection): void;
  /** Gone: closed cleanly (`error` undefined) or aborted. */
  onClose?(c: Connection, error: string | undefined): void;
}

/** A buffer taken for a zero-copy send: fill `bytes`, then {@link Connection.send} it. */
export interface TxBuffer {
  /** The buffer handle. */
  readonly handle: number;
  /** Zone offset of the first payload byte. */
  readonly offset: number;
  /** The payload area, a view of the zone (no copy). */
  readonly bytes: Uint8Array;
}

/** Statistics of one connection (what `ss -ti` shows). */
export interface ConnectionStats {
  /** State, as RFC 9293 names it (`ESTABLISHED`). */
  state: string;
  /** Local address and port, `198.18.0.2:7`. */
  local: string;
  /** Remote address and port. */
  remote: string;
  /** Send MSS, bytes. */
  mss: number;
  /** Smoothed round-trip time, ms (RFC 6298). */
  rttMs: number;
  /** Retransmission timeout, ms. */
  rtoMs: number;
  /** Congestion window, bytes. */
  cwnd: number;
  /** Slow-start threshold, bytes. */
  ssthresh: number;
  /** Peer's receive window, bytes. */
  sndWnd: number;
  /** Bytes sent and not yet acknowledged. */
  unacked: number;
  /** Bytes queued to send (unsent and unacknowledged). */
  sendQueue: number;
  /** Bytes received and not yet read. */
  recvQueue: number;
  /** Segments received. */
  segsIn: number;
  /** Segments sent. */
  segsOut: number;
  /** Bytes the peer acknowledged. */
  bytesAcked: number;
  /** Payload bytes received. */
  bytesReceived: number;
  /** Segments retransmitted. */
  retransSegs: number;
  /** Retransmission timeouts. */
  retransTimeouts: number;
  /** Fast retransmits (loss recovery entered on duplicate ACKs or SACK). */
  fastRetrans: number;
  /** Bytes copied into send buffers by `write` (zero-copy sends copy none). */
  sendCopies: number;
  /** Tail loss probes sent (RFC 8985 7.3). */
  tlpProbes: number;
  /** Probes that repaired a loss (RFC 8985 7.4.2). */
  tlpRecoveries: number;
  /** Segments RACK marked lost (RFC 8985 6.2). */
  rackLosses: number;
  /** ACKs that showed reordering (RFC 8985 6.2 step 3). */
  rackReorderDetected: number;
  /** Times PRR held back a segment the congestion window would have let go (RFC 6937). */
  prrLimitedSends: number;
  /** Restarts after idle that shrank the window (RFC 5681 4.1). */
  idleRestarts: number;
  /** Retransmission timeouts F-RTO found spurious and undid (RFC 5682). */
  spuriousRtos: number;
  /** HyStart++ exits from slow start to Conservative Slow Start (RFC 9406). */
  hystartExits: number;
  /** Whether the handshake agreed on ECN (RFC 3168 6.1.1). */
  ecn: boolean;
  /** ACKs received with ECE (RFC 3168 6.1.2). */
  eceIn: number;
  /** Segments received marked CE (RFC 3168 6.1.3). */
  ceMarksIn: number;
  /** Segments sent with CWR (RFC 3168 6.1.2). */
  cwrOut: number;
  /** Window reductions ECN echoes caused. */
  ecnReductions: number;
  /** The congestion controller's name. */
  congestion: string;
  /** DCTCP's estimate of the fraction of bytes marked CE (RFC 8257 3.3); undefined with another controller. */
  dctcpAlpha: number | undefined;
  /** BBR's state, bandwidth and min-RTT estimates and pacing rate; undefined with another controller. */
  bbr: BbrInfo | undefined;
}

/** One TCP connection. */
export class Connection {
  /**
   * @internal The control block (for the stack's own layers and for
   * inspection); after {@link _recycle}, a closed one of no connection.
   */
  tcb: Tcb;
  /** What the application is called with; replace to change them. */
  handlers: ConnectionHandlers;
  /** Free for the application. */
  data: unknown = undefined;
  /** @internal */
  readonly _tcp: TcpLayer;
  /** @internal */
  readonly _now: () => number;
  #stream: ConnStream | undefined;

  /** @internal Made by the stack. */
  constructor(tcp: TcpLayer, tcb: Tcb, handlers: ConnectionHandlers, now: () => number) {
    this._tcp = tcp;
    this.tcb = tcb;
    this.handlers = handlers;
    this._now = now;
  }

  /** The peer's address, dotted. */
  get remoteAddress(): string {
    return formatIpv4(this.tcb.remoteIp);
  }
  /** The peer's port. */
  get remotePort(): number {
    return this.tcb.remotePort;
  }
  /** Our address, dotted quad. */
  get localAddress(): string {
    return formatIpv4(this.tcb.localIp);
  }
  /** Our port. */
  get localPort(): number {
    return this.tcb.localPort;
  }
  /** The RFC's name of the state: `ESTABLISHED`. */
  get state(): string {
    return stateName(this.tcb.state);
  }
  /** Whether data can still be written. */
  get writable(): boolean {
    const s = this.tcb.state;
    return !this.tcb.dead && !this.tcb.finQueued && (s === State.established || s === State.closeWait);
  }
  /**
   * Length of the first received piece (0: nothing waiting): a zero-copy read
   * that makes no view object. Its bytes are `zoneBytes[pieceOffset ..
   * pieceOffset + pieceLength)`, valid until {@link consume}.
   */
  get pieceLength(): number {
    return this.tcb.recvq.headLength();
  }

  /** Where the first received piece starts in {@link zoneBytes}. */
  get pieceOffset(): number {
    return this.tcb.recvq.headOffset();
  }

  /** The whole mem zone as bytes (where {@link pieceOffset} points); never write into received data. */
  get zoneBytes(): Uint8Array {
    return this.tcb.recvq.zoneBytes;
  }

  /** Bytes received and not yet read. */
  get readable(): number {
    return this.tcb.recvq.bytes;
  }
  /** Bytes that can be written now without being refused. */
  get sendSpace(): number {
    return this.tcb.sendSpace;
  }

  /**
   * Copies `data` out for sending — `length` bytes from `offset` when given,
   * so that a reused buffer (or {@link zoneBytes}) needs no `subarray` view —
   * and returns the bytes taken (fewer when the send buffer is full: wait
   * for onWritable).
   */
  write(data: Uint8Array, offset?: number, length?: number): number {
    if (offset === undefined && length === undefined) return this._tcp.write(this.tcb, data, this._now());
    const from = offset ?? 0;
    if (!(Number.isInteger(from) && from >= 0 && from <= data.length)) {
      throw new RangeError(`write: offset ${offset} outside 0..${data.length}`);
    }
    const n = length ?? data.length - from;
    if (!(Number.isInteger(n) && n >= 0 && from + n <= data.length)) {
      throw new RangeError(`write: length ${length} from offset ${from} outside 0..${data.length - from}`);
    }
    return this._tcp.write(this.tcb, data, this._now(), from, n);
  }

  /** Takes a buffer from the zone for a zero-copy send; `bytes` is its payload area. */
  alloc(): TxBuffer {
    const zone = this._tcp.zone;
    const handle = zone.take();
    const offset = zone.dataStart(handle) + zone.headroom;
    const max = Math.min(this._tcp.bufferPayloadMax, this.tcb.sndMss - (this.tcb.tsOk ? 12 : 0));
    return { handle, offset, bytes: zone.bytes.subarray(offset, offset + max) };
  }

  /**
   * Sends the first `len` bytes of a buffer from {@link alloc}, without a
   * copy: the stack takes the buffer. False (the buffer stays the caller's)
   * when the send buffer is full.
   */
  send(buf: TxBuffer, len: number): boolean {
    if (!(len >= 0 && len <= buf.bytes.length)) {
      throw new RangeError(`send: length ${len} outside 0..${buf.bytes.length}`);
    }
    return this._tcp.send(this.tcb, buf.handle, buf.offset, len, this._now());
  }

  /** Returns a buffer from {@link alloc} that will not be sent. */
  free(buf: TxBuffer): void {
    this._tcp.zone.release(buf.handle);
  }

  /** Copies received bytes into `out`; returns how many. */
  read(out: Uint8Array): number {
    return this._tcp.read(this.tcb, out, this._now());
  }

  /** Received bytes as a view of the packet buffer they arrived in (no copy); valid until {@link consume}. */
  peek(): Uint8Array {
    return this.tcb.recvq.peek();
  }

  /** Consumes `n` received bytes (after {@link peek}). */
  consume(n: number): void {
    this._tcp.consume(this.tcb, n, this._now());
  }

  /** Closes our direction after the queued data (the peer may still send). */
  close(): void {
    this._tcp.close(this.tcb, this._now());
  }

  /** Aborts with RST. */
  abort(): void {
    this._tcp.abort(this.tcb, this._now());
  }

  /**
   * Holds what {@link write}, {@link send} and {@link close} queue until {@link uncork}, so
   * that an answer and the close after it leave together: a short answer and its FIN in
   * one segment. The cork lasts until {@link uncork}, or the end of the loop's iteration at
   * the latest.
   */
  cork(): void {
    this._tcp.cork(this.tcb);
  }

  /** Sends what was queued since {@link cork}. */
  uncork(): void {
    this._tcp.uncork(this.tcb, this._now());
  }

  /** Nagle's algorithm off (true) or on. */
  setNoDelay(on = true): void {
    this.tcb.noDelay = on;
  }

  /** Keepalive probes after `idleMs` of silence. */
  setKeepAlive(on: boolean, idleMs?: number): void {
    this.tcb.keepalive = on;
    if (idleMs !== undefined) this.tcb.keepaliveIdleMs = idleMs;
    this._tcp.keepaliveReset(this.tcb, this._now());
  }

  /**
   * The user timeout (RFC 9293 3.8.3, like Linux's TCP_USER_TIMEOUT): when
   * data waits and none of it is acknowledged for `ms` (a peer gone, or one
   * that keeps its window shut), the connection is aborted with a RST and
   * closes with an error. 0 turns it off; default: `tcp.userTimeoutMs`.
   */
  setUserTimeout(ms: number): void {
    if (!Number.isInteger(ms) || ms < 0 || ms > 86_400_000) {
      throw new ConfigError("userTimeoutMs", `expected an integer 0..86400000 (ms), got ${ms}`);
    }
    this.tcb.userTimeoutMs = ms;
    this._tcp.userTimeoutChanged(this.tcb, this._now());
  }

  /**
   * The connection as Web Streams (`readable`, `writable`, `for await`), as
   * `Deno.Conn` offers it; the stream takes over {@link handlers}. The same
   * object each time.
   */
  stream(): ConnStream {
    this.#stream ??= new ConnStream(this);
    return this.#stream;
  }

  /** `for await (const bytes of connection)`: the received bytes until the peer's FIN (through {@link stream}). */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.stream()[Symbol.asyncIterator]();
  }

  /**
   * @internal The application is done with this closed connection (call it
   * from onClose, and use the connection no more): its control block may
   * serve a later connection, and this one reads as closed from then on.
   * For apps that keep no reference past the close (`luna serve`'s).
   */
  _recycle(): void {
    const t = this.tcb;
    const gone = this._tcp.gone;
    if (t === gone) return;
    this.tcb = gone;
    this._tcp.recycle(t);
  }

  /** @internal A continuation waits on this connection: the loop should yield soon. */
  _yieldSoon(): void {}

  /** Counters and estimates. */
  stats(): ConnectionStats {
    const t = this.tcb;
    return {
      state: this.state,
      local: `${this.localAddress}:${this.localPort}`,
      remote: `${this.remoteAddress}:${this.remotePort}`,
      mss: t.sndMss,
      rttMs: t.rto.srttMs,
      rtoMs: t.rto.rtoMs,
      cwnd: t.cc.cwnd,
      ssthresh: t.cc.ssthresh,
      sndWnd: t.sndWnd,
      unacked: t.flight,
      sendQueue: t.sendq.bytes,
      recvQueue: t.recvq.bytes,
      segsIn: t.stats.segsIn,
      segsOut: t.stats.segsOut,
      bytesAcked: t.stats.bytesAcked,
      bytesReceived: t.stats.bytesReceived,
      retransSegs: t.stats.retransSegs,
      retransTimeouts: t.stats.retransTimeouts,
      fastRetrans: t.stats.fastRetrans,
      sendCopies: t.stats.sendCopies,
      tlpProbes: t.stats.tlpProbes,
      tlpRecoveries: t.stats.tlpRecoveries,
      rackLosses: t.stats.rackLosses,
      rackReorderDetected: t.stats.rackReorderDetected,
      prrLimitedSends: t.stats.prrLimitedSends,
      idleRestarts: t.stats.idleRestarts,
      spuriousRtos: t.stats.spuriousRtos,
      hystartExits: t.cc.hystartExits,
      ecn: t.ecnOk,
      eceIn: t.stats.eceIn,
      ceMarksIn: t.stats.ceMarksIn,
      cwrOut: t.stats.cwrOut,
      ecnReductions: t.stats.ecnReductions,
      congestion: t.cc.name,
      dctcpAlpha: t.cc instanceof Dctcp ? t.cc.alpha : undefined,
      bbr: t.cc instanceof Bbr ? t.cc.info() : undefined,
    };
  }
}
