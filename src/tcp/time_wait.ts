/**
 * TIME-WAIT without a control block. A connection that enters TIME-WAIT
 * gives up its control block, queues, timers and congestion state; what
 * RFC 9293 3.10.7.4, RFC 7323 and RFC 6191 still need of it is kept here, in
 * typed arrays (41 bytes a record, plus its entry in the tuple table),
 * as Linux keeps a small timewait socket instead of the full one: the
 * 4-tuple, SND.NXT, RCV.NXT and the window last advertised, TS.Recent, when
 * the peer was last heard and when the record expires.
 *
 * Every record lasts the same 2 MSL, so records are kept in a ring in the
 * order they expire: a new one goes at the tail, the head expires first. A
 * retransmitted FIN restarts the 2 MSL (RFC 9293 3.10.7.4, eighth check):
 * the record moves to the tail and leaves a hole that the head skips.
 *
 * A segment for a record is answered as the control block would have
 * answered it in TIME-WAIT: PAWS (RFC 7323 5.3), the acceptability test
 * (RFC 9293 3.10.7.4), RST at RCV.NXT ends it (RFC 5961 3.2 otherwise a
 * challenge ACK), a SYN gets a challenge ACK (RFC 5961 4.2) unless the layer
 * let it reopen the tuple (RFC 6191) first. As Linux's timewait socket does,
 * one limit (an ACK per 500 ms) paces both the answers to out-of-window
 * segments without data and the challenge ACKs.
 *
 * @module
 */
import { seqGe, seqGt, seqLe, seqLt, TcpFlags } from "../wire/mod.ts";
import type { TcpContext } from "./context.ts";
import type { Segment } from "./segment.ts";
import { pawsWindowTicks, type Tcb, tsNow } from "./tcb.ts";
import { TupleTable } from "./tuple_table.ts";

/** Least time between ACKs sent for unacceptable segments without data, ms (Linux tcp_invalid_ratelimit). */
export const oowAckIntervalMs = 500;

const initialCapacity = 64;

/** A time as whole milliseconds modulo 2^32. */
const ms = (t: number): number => Math.floor(t) >>> 0;

/** Milliseconds from `t` (as {@link ms} stores it) to `now`: negative when `t` is still ahead. */
const since = (now: number, t: number): number => (ms(now) - t) | 0;
// meta: bit 0 the slot holds a record, bit 1 timestamps were agreed, bits 4..7 our window scale.
const alive = 1;
const tsOkBit = 2;

/** The TIME-WAIT records of one TCP layer; see the module documentation. */
export class TimeWaitTable {
  private readonly _x: TcpContext;
  private readonly _table = new TupleTable({ maxLoad: 0.75 });
  private _cap = initialCapacity;
  private _mask = initialCapacity - 1;
  /** Slot of the oldest record (or hole), and slots in use from there, holes included. */
  private _head = 0;
  private _used = 0;
  private _size = 0;
  private _ip = new Uint32Array(initialCapacity);
  /** Local port in the high half, remote port in the low half. */
  private _ports = new Uint32Array(initialCapacity);
  private _sndNxt = new Uint32Array(initialCapacity);
  private _rcvNxt = new Uint32Array(initialCapacity);
  /** Bytes of window advertised beyond RCV.NXT. */
  private _rcvWnd = new Uint32Array(initialCapacity);
  private _maxSndWnd = new Uint32Array(initialCapacity);
  private _tsRecent = new Uint32Array(initialCapacity);
  private _meta = new Uint8Array(initialCapacity);
  /** The latest time seen: stored times are whole milliseconds modulo 2^32, read back relative to it. */
  private _now = 0;
  // Times as whole milliseconds modulo 2^32 (see ms()), compared by their difference.
  private _expires = new Uint32Array(initialCapacity);
  private _lastRecvAt = new Uint32Array(initialCapacity);
  private _lastAckAt = new Uint32Array(initialCapacity);

  constructor(x: TcpContext) {
    this._x = x;
  }

  /** Records held. */
  get size(): number {
    return this._size;
  }

  /** Bytes the records take: the arrays and the tuple table, as allocated. */
  get bytes(): number {
    return this._cap * 41 + this._table.bytes;
  }

  /** The record of this 4-tuple, or -1. */
  find(remoteIp: number, remotePort: number, localPort: number): number {
    return this._table.get(remoteIp, remotePort, localPort);
  }

  /** Takes over a connection that entered TIME-WAIT; the caller then lets its control block go. */
  enter(tcb: Tcb, now: number): void {
    this._now = now;
    const wnd = seqGt(tcb.rcvAdv, tcb.rcvNxt) ? (tcb.rcvAdv - tcb.rcvNxt) >>> 0 : 0;
    const i = this._slot();
    this._ip[i] = tcb.remoteIp;
    this._ports[i] = ((tcb.localPort << 16) | tcb.remotePort) >>> 0;
    this._sndNxt[i] = tcb.sndMax;
    this._rcvNxt[i] = tcb.rcvNxt;
    this._rcvWnd[i] = wnd;
    this._maxSndWnd[i] = tcb.maxSndWnd;
    this._tsRecent[i] = tcb.tsRecent;
    this._meta[i] = alive | (tcb.tsOk ? tsOkBit : 0) | (tcb.rcvScale << 4);
    this._expires[i] = ms(Math.ceil(now + this._x.config.timeWaitMs));
    this._lastRecvAt[i] = ms(tcb.lastRecvAt);
    // "Never" is as good as long enough ago.
    this._lastAckAt[i] = ms(Math.max(tcb.lastOowAckAt, now - oowAckIntervalMs));
    this._table.add(tcb.remoteIp, tcb.remotePort, tcb.localPort, i);
    this._size++;
    // An ACK still owed (its transmit batch was full) leaves now.
    if (tcb.ackNow) this._sendAck(i, now);
  }

  /** Ends record `i` (expired, reset, or its tuple reopened). */
  remove(i: number): void {
    const ports = this._ports[i];
    this._table.delete(this._ip[i], ports & 0xffff, ports >>> 16);
    this._meta[i] = 0;
    this._size--;
  }

  /** Whether record `i` may give its tuple to a new connection (RFC 6191 2): the SYN is provably newer. */
  synIsNewer(i: number, seg: Segment): boolean {
    const o = seg.options;
    return (this._meta[i] & tsOkBit) !== 0 && o.timestamps
      ? seqGt(o.tsVal, this._tsRecent[i])
      : seqGt(seg.seq, this._rcvNxt[i]);
  }

  /**
   * Whether record `i` may give its local port to a new active open now
   * (Linux tcp_tw_reuse): with timestamps, once the peer has been silent
   * for a second, the new connection's segments carry newer timestamps.
   */
  reusableForConnect(i: number, now: number): boolean {
    return (this._meta[i] & tsOkBit) !== 0 && since(now, this._lastRecvAt[i]) >= 1000;
  }

  /** Ends the records whose 2 MSL is over. */
  expire(now: number): void {
    this._now = now;
    while (this._used > 0) {
      const i = this._head;
      if ((this._meta[i] & alive) !== 0) {
        if (since(now, this._expires[i]) < 0) return;
        this.remove(i);
      }
      this._head = (i + 1) & this._mask;
      this._used--;
    }
  }

  /** When the next record expires (Infinity: none). */
  pollAt(): number {
    for (let k = 0, i = this._head; k < this._used; k++, i = (i + 1) & this._mask) {
      if ((this._meta[i] & alive) !== 0) return this._epochAt(this._expires[i]);
    }
    return Infinity;
  }

  /** RFC 9293 3.10.7.4 for a segment to record `i`, as a control block in TIME-WAIT would take it. */
  input(i: number, seg: Segment, now: number): void {
    this._now = now;
    const x = this._x;
    this._lastRecvAt[i] = ms(now);
    const o = seg.options;
    const tsOk = (this._meta[i] & tsOkBit) !== 0;
    const rst = seg.has(TcpFlags.rst);
    const rcvNxt = this._rcvNxt[i];
    // RFC 7323 5.3: PAWS, with the established path's one-tick allowance (tcb.ts pawsWindowTicks):
    // the peer's last data and FIN, reordered around a retransmission, arrive here as well.
    if (tsOk && o.timestamps && !rst && seqLt((o.tsVal + pawsWindowTicks) >>> 0, this._tsRecent[i])) {
      x.counters.pawsDrops++;
      this._sendAck(i, now);
      return;
    }
    // RFC 7323 3.2: without timestamps once they were agreed: dropped.
    if (tsOk && !o.timestamps && !rst) {
      x.counters.noTimestampDrops++;
      return;
    }
    // First: sequence number.
    if (!this._acceptable(i, seg)) {
      if (rst) return;
      if (seg.has(TcpFlags.fin)) i = this._restart(i, now); // a retransmitted FIN
      // Data is always answered; a bare ACK at most once per interval, or two stacks could
      // ACK each other forever.
      if (seg.len > 0 || since(now, this._lastAckAt[i]) >= oowAckIntervalMs) {
        this._lastAckAt[i] = ms(now);
        this._sendAck(i, now);
      }
      return;
    }
    // Second: RST (RFC 5961 3.2).
    if (rst) {
      if (seg.seq === rcvNxt) this.remove(i);
      else this._challenge(i, now);
      return;
    }
    // Fourth: SYN (RFC 5961 4.2).
    if (seg.has(TcpFlags.syn)) {
      this._challenge(i, now);
      return;
    }
    // RFC 7323 4.3: TS.Recent follows the segment that covers Last.ACK.sent (our last ACK said RCV.NXT).
    if (tsOk && o.timestamps && seqGe(o.tsVal, this._tsRecent[i]) && seqLe(seg.seq, rcvNxt)) {
      this._tsRecent[i] = o.tsVal;
    }
    // Fifth: ACK (RFC 5961 5.2): nothing is in flight, only its validity matters.
    if (!seg.has(TcpFlags.ack)) return;
    const sndNxt = this._sndNxt[i];
    if (seqGt(seg.ack, sndNxt)) {
      this._sendAck(i, now);
      return;
    }
    if (seqLt(seg.ack, (sndNxt - Math.max(this._maxSndWnd[i], 1)) >>> 0)) {
      this._challenge(i, now);
      return;
    }
    // Seventh and eighth: text is ignored in TIME-WAIT; a FIN again restarts the 2 MSL and is ACKed.
    if (seg.has(TcpFlags.fin) && ((seg.seq + seg.payloadLen) >>> 0) === rcvNxt) {
      this._sendAck(this._restart(i, now), now);
    }
  }

  /** A stored time `t` as an absolute time near the latest one seen (never earlier than it was stored). */
  private _epochAt(t: number): number {
    return Math.floor(this._now) + ((t - ms(this._now)) | 0);
  }

  /** RFC 9293 3.10.7.4, first check, against the window last advertised. */
  private _acceptable(i: number, seg: Segment): boolean {
    const rcvNxt = this._rcvNxt[i];
    const wnd = this._rcvWnd[i];
    const len = seg.len;
    const end = (rcvNxt + wnd) >>> 0;
    if (len === 0) {
      if (wnd === 0) return seg.seq === rcvNxt;
      return seqGe(seg.seq, rcvNxt) && seqLt(seg.seq, end);
    }
    if (wnd === 0) return false;
    const last = (seg.seq + len - 1) >>> 0;
    return (seqGe(seg.seq, rcvNxt) && seqLt(seg.seq, end)) || (seqGe(last, rcvNxt) && seqLt(last, end));
  }

  /** A challenge ACK (RFC 5961 7), paced with the other answers to unacceptable segments. */
  private _challenge(i: number, now: number): void {
    const c = this._x.counters;
    if (since(now, this._lastAckAt[i]) >= oowAckIntervalMs) {
      c.challengeAcks++;
      this._lastAckAt[i] = ms(now);
      this._sendAck(i, now);
    } else {
      c.challengeAcksSuppressed++;
    }
  }

  /** <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with the window and timestamps. */
  private _sendAck(i: number, now: number): void {
    const out = this._x.out;
    const r = out.repr;
    const ports = this._ports[i];
    const meta = this._meta[i];
    r.srcPort = ports >>> 16;
    r.dstPort = ports & 0xffff;
    r.seq = this._sndNxt[i];
    r.ack = this._rcvNxt[i];
    r.flags = TcpFlags.ack;
    r.window = Math.min(this._rcvWnd[i] >>> (meta >>> 4), 65535);
    r.urgent = 0;
    r.payloadLen = 0;
    const opt = r.options;
    opt.clear();
    if ((meta & tsOkBit) !== 0) {
      opt.timestamps = true;
      opt.tsVal = tsNow(now);
      opt.tsEcr = this._tsRecent[i];
    }
    out.sendRaw(this._ip[i], now);
  }

  /** Restarts record `i`'s 2 MSL: it moves to the tail of the ring. Returns its new slot. */
  private _restart(i: number, now: number): number {
    // Read it out first: making room at the tail may move every record.
    const ip = this._ip[i];
    const ports = this._ports[i];
    const sndNxt = this._sndNxt[i];
    const rcvNxt = this._rcvNxt[i];
    const rcvWnd = this._rcvWnd[i];
    const maxSndWnd = this._maxSndWnd[i];
    const tsRecent = this._tsRecent[i];
    const meta = this._meta[i];
    const lastRecvAt = this._lastRecvAt[i];
    const lastAckAt = this._lastAckAt[i];
    this.remove(i);
    const j = this._slot();
    this._ip[j] = ip;
    this._ports[j] = ports;
    this._sndNxt[j] = sndNxt;
    this._rcvNxt[j] = rcvNxt;
    this._rcvWnd[j] = rcvWnd;
    this._maxSndWnd[j] = maxSndWnd;
    this._tsRecent[j] = tsRecent;
    this._meta[j] = meta;
    this._expires[j] = ms(Math.ceil(now + this._x.config.timeWaitMs));
    this._lastRecvAt[j] = lastRecvAt;
    this._lastAckAt[j] = lastAckAt;
    this._table.add(ip, ports & 0xffff, ports >>> 16, j);
    this._size++;
    return j;
  }

  /** The slot at the tail, growing the ring when it is full. */
  private _slot(): number {
    if (this._used === this._cap) this._grow();
    const i = (this._head + this._used) & this._mask;
    this._used++;
    return i;
  }

  /** Doubles the ring; the records keep their order and move to slots from 0, leaving the holes behind. */
  private _grow(): void {
    const cap = this._cap * 2;
    const order: number[] = [];
    for (let k = 0, i = this._head; k < this._used; k++, i = (i + 1) & this._mask) {
      if ((this._meta[i] & alive) !== 0) order.push(i);
    }
    const move = <T extends Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      for (let k = 0; k < order.length; k++) b[k] = a[order[k]];
      return b;
    };
    this._ip = move(this._ip, (n) => new Uint32Array(n));
    this._ports = move(this._ports, (n) => new Uint32Array(n));
    this._sndNxt = move(this._sndNxt, (n) => new Uint32Array(n));
    this._rcvNxt = move(this._rcvNxt, (n) => new Uint32Array(n));
    this._rcvWnd = move(this._rcvWnd, (n) => new Uint32Array(n));
    this._maxSndWnd = move(this._maxSndWnd, (n) => new Uint32Array(n));
    this._tsRecent = move(this._tsRecent, (n) => new Uint32Array(n));
    this._meta = move(this._meta, (n) => new Uint8Array(n));
    this._expires = move(this._expires, (n) => new Uint32Array(n));
    this._lastRecvAt = move(this._lastRecvAt, (n) => new Uint32Array(n));
    this._lastAckAt = move(this._lastAckAt, (n) => new Uint32Array(n));
    this._cap = cap;
    this._mask = cap - 1;
    this._head = 0;
    this._used = order.length;
    for (let k = 0; k < this._used; k++) {
      const ports = this._ports[k];
      this._table.delete(this._ip[k], ports & 0xffff, ports >>> 16);
      this._table.add(this._ip[k], ports & 0xffff, ports >>> 16, k);
    }
  }
}
