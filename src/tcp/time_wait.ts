/**
 * TIME-WAIT without a control block. A connection that enters TIME-WAIT
 * gives up its control block, queues, timers and congestion state; what
 * RFC 9293 3.10.7.4, RFC 7323 and RFC 6191 still need of it is kept here, in
 * one typed array (44 bytes a record, plus its entry in the tuple table),
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
// A record's words. PORTS: the local port in the high half, the remote port in the low half.
// RCV_WND: bytes of window advertised beyond RCV.NXT. META: bit 0 the slot holds a record, bit 1
// timestamps were agreed, bits 4..7 our window scale. EXPIRES, LAST_RECV_AT, LAST_ACK_AT: times
// as whole milliseconds modulo 2^32 (see ms()), compared by their difference.
const IP = 0, PORTS = 1, SND_NXT = 2, RCV_NXT = 3, RCV_WND = 4, MAX_SND_WND = 5, TS_RECENT = 6;
const META = 7, EXPIRES = 8, LAST_RECV_AT = 9, LAST_ACK_AT = 10;
/** Words a record. */
const W = 11;
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
  /** The records, {@link W} words each (one record's fields side by side: a lookup touches one place). */
  private _r = new Uint32Array(initialCapacity * W);
  /** The latest time seen: stored times are whole milliseconds modulo 2^32, read back relative to it. */
  private _now = 0;

  constructor(x: TcpContext) {
    this._x = x;
  }

  /** Records held. */
  get size(): number {
    return this._size;
  }

  /** Bytes the records take: the arrays and the tuple table, as allocated. */
  get bytes(): number {
    return this._r.byteLength + this._table.bytes;
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
    this._r[i * W + IP] = tcb.remoteIp;
    this._r[i * W + PORTS] = ((tcb.localPort << 16) | tcb.remotePort) >>> 0;
    this._r[i * W + SND_NXT] = tcb.sndMax;
    this._r[i * W + RCV_NXT] = tcb.rcvNxt;
    this._r[i * W + RCV_WND] = wnd;
    this._r[i * W + MAX_SND_WND] = tcb.maxSndWnd;
    this._r[i * W + TS_RECENT] = tcb.tsRecent;
    this._r[i * W + META] = alive | (tcb.tsOk ? tsOkBit : 0) | (tcb.rcvScale << 4);
    this._r[i * W + EXPIRES] = ms(Math.ceil(now + this._x.config.timeWaitMs));
    this._r[i * W + LAST_RECV_AT] = ms(tcb.lastRecvAt);
    // "Never" is as good as long enough ago.
    this._r[i * W + LAST_ACK_AT] = ms(Math.max(tcb.lastOowAckAt, now - oowAckIntervalMs));
    this._table.add(tcb.remoteIp, tcb.remotePort, tcb.localPort, i);
    this._size++;
    // An ACK still owed (its transmit batch was full) leaves now.
    if (tcb.ackNow) this._sendAck(i, now);
  }

  /** Ends record `i` (expired, reset, or its tuple reopened). */
  remove(i: number): void {
    const ports = this._r[i * W + PORTS];
    this._table.delete(this._r[i * W + IP], ports & 0xffff, ports >>> 16);
    this._r[i * W + META] = 0;
    this._size--;
  }

  /** Whether record `i` may give its tuple to a new connection (RFC 6191 2): the SYN is provably newer. */
  synIsNewer(i: number, seg: Segment): boolean {
    const o = seg.options;
    return (this._r[i * W + META] & tsOkBit) !== 0 && o.timestamps
      ? seqGt(o.tsVal, this._r[i * W + TS_RECENT])
      : seqGt(seg.seq, this._r[i * W + RCV_NXT]);
  }

  /**
   * Whether record `i` may give its local port to a new active open now
   * (Linux tcp_tw_reuse): with timestamps, once the peer has been silent
   * for a second, the new connection's segments carry newer timestamps.
   */
  reusableForConnect(i: number, now: number): boolean {
    return (this._r[i * W + META] & tsOkBit) !== 0 && since(now, this._r[i * W + LAST_RECV_AT]) >= 1000;
  }

  /** Ends the records whose 2 MSL is over. */
  expire(now: number): void {
    this._now = now;
    while (this._used > 0) {
      const i = this._head;
      if ((this._r[i * W + META] & alive) !== 0) {
        if (since(now, this._r[i * W + EXPIRES]) < 0) return;
        this.remove(i);
      }
      this._head = (i + 1) & this._mask;
      this._used--;
    }
  }

  /** When the next record expires (Infinity: none). */
  pollAt(): number {
    for (let k = 0, i = this._head; k < this._used; k++, i = (i + 1) & this._mask) {
      if ((this._r[i * W + META] & alive) !== 0) return this._epochAt(this._r[i * W + EXPIRES]);
    }
    return Infinity;
  }

  /** RFC 9293 3.10.7.4 for a segment to record `i`, as a control block in TIME-WAIT would take it. */
  input(i: number, seg: Segment, now: number): void {
    this._now = now;
    const x = this._x;
    this._r[i * W + LAST_RECV_AT] = ms(now);
    const o = seg.options;
    const tsOk = (this._r[i * W + META] & tsOkBit) !== 0;
    const rst = seg.has(TcpFlags.rst);
    const rcvNxt = this._r[i * W + RCV_NXT];
    // RFC 7323 5.3: PAWS, with the established path's one-tick allowance (tcb.ts pawsWindowTicks):
    // the peer's last data and FIN, reordered around a retransmission, arrive here as well.
    if (
      tsOk && o.timestamps && !rst && seqLt((o.tsVal + pawsWindowTicks) >>> 0, this._r[i * W + TS_RECENT])
    ) {
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
      if (seg.len > 0 || since(now, this._r[i * W + LAST_ACK_AT]) >= oowAckIntervalMs) {
        this._r[i * W + LAST_ACK_AT] = ms(now);
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
    if (tsOk && o.timestamps && seqGe(o.tsVal, this._r[i * W + TS_RECENT]) && seqLe(seg.seq, rcvNxt)) {
      this._r[i * W + TS_RECENT] = o.tsVal;
    }
    // Fifth: ACK (RFC 5961 5.2): nothing is in flight, only its validity matters.
    if (!seg.has(TcpFlags.ack)) return;
    const sndNxt = this._r[i * W + SND_NXT];
    if (seqGt(seg.ack, sndNxt)) {
      this._sendAck(i, now);
      return;
    }
    if (seqLt(seg.ack, (sndNxt - Math.max(this._r[i * W + MAX_SND_WND], 1)) >>> 0)) {
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
    const rcvNxt = this._r[i * W + RCV_NXT];
    const wnd = this._r[i * W + RCV_WND];
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
    if (since(now, this._r[i * W + LAST_ACK_AT]) >= oowAckIntervalMs) {
      c.challengeAcks++;
      this._r[i * W + LAST_ACK_AT] = ms(now);
      this._sendAck(i, now);
    } else {
      c.challengeAcksSuppressed++;
    }
  }

  /** <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with the window and timestamps. */
  private _sendAck(i: number, now: number): void {
    const out = this._x.out;
    const r = out.repr;
    const ports = this._r[i * W + PORTS];
    const meta = this._r[i * W + META];
    r.srcPort = ports >>> 16;
    r.dstPort = ports & 0xffff;
    r.seq = this._r[i * W + SND_NXT];
    r.ack = this._r[i * W + RCV_NXT];
    r.flags = TcpFlags.ack;
    r.window = Math.min(this._r[i * W + RCV_WND] >>> (meta >>> 4), 65535);
    r.urgent = 0;
    r.payloadLen = 0;
    const opt = r.options;
    opt.clear();
    if ((meta & tsOkBit) !== 0) {
      opt.timestamps = true;
      opt.tsVal = tsNow(now);
      opt.tsEcr = this._r[i * W + TS_RECENT];
    }
    out.sendRaw(this._r[i * W + IP], now);
  }

  /** Restarts record `i`'s 2 MSL: it moves to the tail of the ring. Returns its new slot. */
  private _restart(i: number, now: number): number {
    const ip = this._r[i * W + IP];
    const ports = this._r[i * W + PORTS];
    const meta = this._r[i * W + META];
    this.remove(i);
    // Making room at the tail may move every record: this one's words are found again after.
    const j = this._slot(i);
    const r = this._r;
    const from = this._moved;
    for (let w = 0; w < W; w++) r[j * W + w] = r[from * W + w];
    r[j * W + META] = meta;
    r[j * W + EXPIRES] = ms(Math.ceil(now + this._x.config.timeWaitMs));
    this._table.add(ip, ports & 0xffff, ports >>> 16, j);
    this._size++;
    return j;
  }

  /**
   * The slot at the tail, making room when the ring is full. `keep`: a slot
   * whose words (its record just removed) must be kept: where they are then
   * is left in {@link _moved}.
   */
  private _slot(keep = -1): number {
    this._moved = keep;
    if (this._used === this._cap) this._makeRoom(keep);
    const i = (this._head + this._used) & this._mask;
    this._used++;
    return i;
  }

  /** Where {@link _slot}'s `keep` went. */
  private _moved = -1;

  /**
   * The ring is full. Records ended before 2 MSL (a tuple reopened, a reset)
   * leave holes that only the head's expiry passes; when at least half the
   * slots are holes the live records close up in place, in their order, from
   * the head (a connection rate that reuses its tuples keeps the ring at
   * about twice the live records); otherwise the ring doubles. Either way
   * the live records end up in slots from the head on, and the tuple table
   * learns their new slots.
   */
  private _makeRoom(keep: number): void {
    const live = this._size + (keep >= 0 ? 1 : 0);
    const old = this._r;
    const oldMask = this._mask;
    const grow = live * 2 > this._cap;
    const cap = grow ? this._cap * 2 : this._cap;
    const r = grow ? new Uint32Array(cap * W) : old;
    const head = grow ? 0 : this._head;
    const mask = cap - 1;
    let n = 0;
    for (let k = 0, i = this._head; k < this._used; k++, i = (i + 1) & oldMask) {
      if ((old[i * W + META] & alive) === 0 && i !== keep) continue;
      // In place, a record moves only towards the head, onto a hole or onto itself.
      const j = (head + n) & mask;
      n++;
      if (i === keep) this._moved = j;
      if (j === i && r === old) continue;
      for (let w = 0; w < W; w++) r[j * W + w] = old[i * W + w];
      if (i !== keep) {
        const ports = r[j * W + PORTS];
        this._table.set(r[j * W + IP], ports & 0xffff, ports >>> 16, j);
      }
    }
    // The slots past the live ones are holes now.
    for (let k = n; k < this._used; k++) r[((head + k) & mask) * W + META] = 0;
    this._r = r;
    this._cap = cap;
    this._mask = mask;
    this._head = head;
    this._used = n;
  }
}
