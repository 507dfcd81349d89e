/**
 * The send side of TCP: segments cut from the send queue with their header
 * written in place in front of the payload (zero-copy), control segments,
 * the send policy (RFC 9293 3.8.6.2.1 sender SWS avoidance, RFC 9293 3.7.4
 * Nagle, RFC 5681 congestion window). The window we advertise is window.ts's;
 * large segments, which the device cuts, are large_segment.ts's.
 *
 * @module
 */
import { CHAIN_RECORDS_MAX, GSO_SEGS_MAX } from "../device/device.ts";
import { ipHeadroom } from "../ip/ipv4_layer.ts";
import type { MemZone } from "../mem/zone.ts";
import { seqGt, seqLt, TcpFlags, type TcpOptions, TcpPacket, TcpRepr } from "../wire/mod.ts";
import type { TcpConfig } from "./config.ts";
import { holdAck, type TcpContext, type TcpLink, txHeld } from "./context.ts";
import type { TcpCounters } from "./counters.ts";
import { dataEcn, EcnState, synEcnFlags } from "./ecn.ts";
import { recvHeld } from "./pool_pressure.ts";
import { TokenBucket } from "./rate_limit.ts";
import { takeRack } from "./rack.ts";
import { recoverySend } from "./recovery.ts";
import { type OutOfOrderRanges, SackBlockBuilder } from "./sack.ts";
import type { Segment } from "./segment.ts";
import { State } from "./state.ts";
import { type Tcb, tsNow } from "./tcb.ts";
import { scheduleProbe } from "./tlp.ts";
import { paced, pacedUnit, paceHeld } from "./pacer.ts";
import { bytesPerBuffer, effectiveMss, receiveWindow } from "./window.ts";
import { deferLarge, pushFlag, sendLarge } from "./large_segment.ts";

/** Nothing held out of order (a connection that never had a reassembly queue). */
const noRanges: OutOfOrderRanges = { count: 0, seqAt: () => 0, endAt: () => 0 };
/**
 * The sender of one TCP layer: it builds every segment's header in one
 * shared representation and hands the segment to the link.
 */
export class TcpOutput {
  /** The header being built; the handshake fills it for connectionless answers (see {@link sendRaw}). */
  readonly repr: TcpRepr = new TcpRepr();
  /** @internal */
  readonly _view: TcpPacket = new TcpPacket();
  /** @internal */
  readonly _x: TcpContext;
  /** @internal */
  readonly _zone: MemZone;
  /** @internal */
  readonly _link: TcpLink;
  private readonly _config: TcpConfig;
  /** @internal */
  readonly _counters: TcpCounters;
  private readonly _sackScratch = new Uint32Array(8);
  /** The header length {@link _prepare} last computed (options included). */
  private _hdrLen = 20;
  /** {@link segmentUnit}'s last answer, and the MSS and device maximum it was for. */
  private _unit = 0;
  private _unitMss = -1;
  private _unitSegMax = -1;
  /** @internal The chain of a large segment: (buffer, data offset, length) per piece. */
  readonly _pieces: Uint32Array = new Uint32Array(3 * CHAIN_RECORDS_MAX);

  constructor(x: TcpContext) {
    this._x = x;
    this._zone = x.zone;
    this._link = x.link;
    this._config = x.config;
    this._counters = x.counters;
  }

  /** Sends the header in {@link repr} to `dst` in a fresh buffer (no connection). */
  sendRaw(dst: number, now: number): void {
    const zone = this._zone;
    const h = zone.tryTake();
    if (h < 0) {
      this._counters.noBufferDrops++;
      return;
    }
    const tcpOff = zone.dataStart(h) + zone.headroom + ipHeadroom;
    const len = this.repr.headerLen();
    this.repr.emit(this._view.attach(zone.bytes, tcpOff, len), this._link.address, dst, false);
    this._counters.outSegs++;
    this._link.sendTcp(h, tcpOff, len, dst, now);
  }

  /** Sends <SEQ=seq><CTL=RST> in answer to `seg`. */
  sendRstAck(seg: Segment, seq: number, now: number): void {
    this.sendRst(seg, seq, -1, now);
  }

  /** Sends a RST in answer to `seg`: <SEQ=seq><CTL=RST>, or with `ackNum` >= 0 <SEQ=seq><ACK=ackNum><CTL=RST,ACK>. */
  sendRst(seg: Segment, seq: number, ackNum: number, now: number): void {
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
    this.sendRaw(seg.srcIp, now);
    this._counters.outRsts++;
  }

  /** An ACK that tells a blind attacker nothing, rate-limited (RFC 5961 3.2, 4.2, 7). */
  challengeAck(tcb: Tcb, now: number): void {
    // One budget per connection: a shared one is a side channel (CVE-2016-5696).
    const rate = this._config.challengeAckPerSecond;
    tcb.challenge ??= new TokenBucket(rate, rate, now);
    if (tcb.challenge.take(now)) {
      this._counters.challengeAcks++;
      this.sendAck(tcb, now);
    } else {
      this._counters.challengeAcksSuppressed++;
    }
  }

  /** Puts the SACK blocks of what `tcb` holds out of order into outgoing options (RFC 2018 4). */
  private _fillSackBlocks(tcb: Tcb, o: TcpOptions): void {
    const q = tcb.reasm;
    const b = tcb.sackRx;
    // Blocks for what is held out of order, or a D-SACK alone (RFC 2883 4: a duplicate below
    // RCV.NXT with nothing held beyond it).
    if ((q === undefined || q.count === 0) && (b === undefined || !b.dsackPending)) return;
    const s = this._sackScratch;
    const n = (tcb.sackRx ??= new SackBlockBuilder()).build(
      tcb.rcvNxt,
      q === undefined ? noRanges : q.runs,
      s,
      tcb.tsOk ? 3 : 4,
    );
    for (let i = 0; i < n; i++) o.addSackBlock(s[2 * i], s[2 * i + 1]);
  }

  /**
   * Fills the shared header representation for a segment of `tcb` and returns
   * the header's length, options included; {@link emit} then writes and sends it.
   *
   * @internal
   */
  _prepare(tcb: Tcb, seq: number, flags: number, payloadLen: number, now: number): number {
    const r = this.repr;
    r.srcPort = tcb.localPort;
    r.dstPort = tcb.remotePort;
    r.seq = seq;
    r.flags = flags;
    r.urgent = 0;
    r.payloadLen = payloadLen;
    const o = r.options;
    o.clear();
    if ((flags & TcpFlags.syn) !== 0) {
      r.flags = flags | synEcnFlags(this._x, tcb, flags); // RFC 3168 6.1.1
      o.mss = this._config.mss;
      if (this._config.windowScaling && (!(flags & TcpFlags.ack) || tcb.rcvScale > 0)) {
        o.windowScale = tcb.rcvScaleOffered;
      }
      if (this._config.sack && (!(flags & TcpFlags.ack) || tcb.sackOk)) o.sackPermitted = true;
      if (this._config.timestamps && (!(flags & TcpFlags.ack) || tcb.tsOk)) {
        o.timestamps = true;
        o.tsVal = tsNow(now);
        o.tsEcr = tcb.tsRecent;
      }
    } else if (tcb.tsOk) {
      o.timestamps = true;
      o.tsVal = tsNow(now);
      o.tsEcr = tcb.tsRecent;
    }
    if ((flags & TcpFlags.syn) === 0 && tcb.sackOk && (flags & TcpFlags.rst) === 0) {
      this._fillSackBlocks(tcb, o);
    }
    if ((flags & TcpFlags.ack) !== 0) {
      // RFC 3168 6.1.3 (RFC 8257 3.2 with DCTCP): ECE while the receiver echoes CE.
      if ((tcb.ecnState & EcnState.echo) !== 0 && (flags & TcpFlags.syn) === 0) {
        r.flags = flags | TcpFlags.ece;
      }
      r.ack = tcb.rcvNxt;
      tcb.lastAckSent = tcb.rcvNxt;
      const wnd = (flags & TcpFlags.syn) !== 0
        ? Math.min(receiveWindow(this._x.pool, tcb), 65535)
        : receiveWindow(this._x.pool, tcb);
      r.window = (flags & TcpFlags.syn) !== 0 ? wnd : wnd >>> tcb.rcvScale;
      tcb.rcvAdv = (tcb.rcvNxt + wnd) >>> 0;
      if ((flags & TcpFlags.syn) === 0 && wnd > tcb.rcvWndAdvMax) tcb.rcvWndAdvMax = wnd;
    } else {
      r.ack = 0;
      // An active open's SYN offers a window too; it is never scaled (RFC 7323 2.2).
      r.window = (flags & TcpFlags.syn) !== 0 ? Math.min(tcb.rcvBufBytes, 65535) : 0;
    }
    return this._hdrLen = r.headerLen();
  }

  /**
   * Writes the prepared header at zone offset `tcpOff` of buffer `h` and sends it with the payload after it;
   * `ecn`: the IP header's ECN field.
   */
  private _emit(tcb: Tcb, h: number, tcpOff: number, now: number, ecn = 0): void {
    const r = this.repr;
    if ((r.flags & TcpFlags.ack) !== 0) {
      // An ACK leaves: the delayed one is no longer owed. A deadline that moves later leaves the
      // wheel alone (TcpTimers.rearm): its slot fires early, finds nothing due, and moves on.
      tcb.ackNow = false;
      tcb.ackBurstEnd = false;
      tcb.unackedSegs = 0;
      tcb.delackAt = Infinity;
    }
    const zone = this._zone;
    const len = this._hdrLen + r.payloadLen;
    r.emit(this._view.attach(zone.bytes, tcpOff, len), tcb.localIp, tcb.remoteIp, false);
    tcb.stats.segsOut++;
    tcb.lastSendAt = now;
    this._counters.outSegs++;
    this._link.sendTcp(h, tcpOff, len, tcb.remoteIp, now, ecn);
  }

  /** @internal An ACK leaves: the delayed one is no longer owed (as in {@link _emit}). */
  _ackLeaves(tcb: Tcb): void {
    tcb.ackNow = false;
    tcb.ackBurstEnd = false;
    tcb.unackedSegs = 0;
    tcb.delackAt = Infinity;
  }

  /** Sends a segment with no payload (SYN, ACK, FIN, RST of a connection) in a fresh buffer. */
  sendControl(tcb: Tcb, flags: number, seq: number, now: number): void {
    const zone = this._zone;
    const h = zone.tryTake();
    if (h < 0) {
      this._counters.noBufferDrops++; // lost like a dropped frame; timers recover
      return;
    }
    const tcpOff = zone.dataStart(h) + zone.headroom + ipHeadroom;
    this._prepare(tcb, seq, flags, 0, now);
    this._emit(tcb, h, tcpOff, now);
  }

  /**
   * Sends a pure ACK now. Its sequence number is SND.MAX, not SND.NXT: after a
   * timeout rolls SND.NXT back, an ACK numbered below what the peer has
   * received would fail its acceptability test and never be read.
   */
  sendAck(tcb: Tcb, now: number): void {
    const link = this._link;
    if (link.txRoom() < 2) {
      link.flush(now); // the device may take some now
      if (link.txRoom() < 2) {
        // The device is behind and the batch is full: a frame pushed now would be dropped.
        // The ACK waits instead (it is cumulative: a later one says as much) and poll()
        // sends it once the batch drains, as it resumes blocked data.
        tcb.ackNow = true;
        this._counters.acksDeferred++;
        this._x.conns.txBlocked(tcb);
        return;
      }
    }
    this.sendControl(tcb, TcpFlags.ack, tcb.sndMax, now);
  }

  /**
   * Sends the data segment of `len` bytes at `seq` (with FIN if `fin`). The
   * header goes in place in front of the payload when the bytes before it are
   * free to overwrite (headroom, or payload already acknowledged) and nobody
   * else holds the buffer; otherwise the payload is copied to a fresh buffer.
   * Returns the payload bytes sent (possibly fewer than `len`: a segment does
   * not cross buffers).
   */
  sendData(tcb: Tcb, seq: number, len: number, fin: boolean, now: number): number {
    const zone = this._zone;
    if (len === 0) {
      this.sendControl(tcb, TcpFlags.ack | (fin ? TcpFlags.fin : 0), seq, now);
      if (fin) this._sent(tcb, seq, 1, now);
      return 0;
    }
    // No room for the frame even after a flush: it would be dropped. Nothing goes; the
    // connection resumes when the batch drains (callers' own checks keep room for ACKs).
    if (this._link.txRoom() < 1) {
      this._link.flush(now);
      if (this._link.txRoom() < 1) {
        this._x.conns.txBlocked(tcb);
        return 0;
      }
    }
    const q = tcb.sendq;
    const at = (seq - tcb.sndUna) >>> 0;
    if (!q.find(at)) return 0;
    if (len > q.bytes - at) {
      len = q.bytes - at;
      fin = false;
    }
    const h = q.foundH;
    const payloadOff = q.foundOff;
    const room = payloadOff - zone.dataStart(h);
    const flags = TcpFlags.ack | pushFlag(q, at, len) | (fin ? TcpFlags.fin : 0);
    let hdr = this._prepare(tcb, seq, flags, len, now);
    // Options take room from the payload: header and payload stay within MSS + 20 (RFC 9293 3.7.1).
    const payloadMax = tcb.sndMss + 20 - hdr;
    if (len > payloadMax) {
      len = payloadMax;
      fin = false;
      hdr = this._prepare(tcb, seq, TcpFlags.ack | pushFlag(q, at, len), len, now);
    }
    // A link that chains buffers for frames longer than one (memif at a loopback-class MTU):
    // a segment that spans chunks goes as a chain of them, whole, without a copy.
    if (len > q.foundLen && this._link.frameChains) return sendLarge(this, tcb, seq, len, fin, now);
    // Zero-copy when the segment starts a chunk: cut it at the chunk's end unless
    // that would leave a sliver (then gathering into a copy sends a fuller segment).
    const inPlace = q.foundChunkStart && room >= hdr + ipHeadroom && zone.refcount(h) === 1 &&
      (len <= q.foundLen || q.foundLen >= (len >>> 1));
    if (inPlace && len > q.foundLen) {
      len = q.foundLen;
      fin = false;
      hdr = this._prepare(tcb, seq, TcpFlags.ack | pushFlag(q, at, len), len, now);
    }
    const ef = dataEcn(this._x, tcb, seq, len, this.repr.flags); // RFC 3168 6.1.5, 6.1.2
    this.repr.flags = ef & 0xff;
    if (inPlace) {
      zone.retain(h); // the device's reference; the queue keeps its own for retransmission
      this._emit(tcb, h, payloadOff - hdr, now, ef >>> 8);
      this._sent(tcb, seq, len + (fin ? 1 : 0), now);
      return len;
    }
    const copy = zone.tryTake();
    if (copy < 0) {
      this._counters.noBufferDrops++;
      return 0;
    }
    const tcpOff = zone.dataStart(copy) + zone.headroom + ipHeadroom;
    const room2 = zone.dataRoomSize - (zone.headroom + ipHeadroom + hdr);
    if (len > room2) {
      len = room2;
      this.repr.payloadLen = len;
      this.repr.flags &= ~(TcpFlags.fin | TcpFlags.psh); // the queue goes on past this segment
    }
    // Gather the payload from as many chunks as it spans (a segment may cross buffers).
    let done = 0;
    while (done < len) {
      if (done > 0 && !q.find(at + done)) break;
      const n = Math.min(len - done, q.foundLen);
      zone.bytes.copyWithin(tcpOff + hdr + done, q.foundOff, q.foundOff + n);
      done += n;
    }
    tcb.stats.sendCopies++;
    this._emit(tcb, copy, tcpOff, now, ef >>> 8);
    this._sent(tcb, seq, len + ((this.repr.flags & TcpFlags.fin) !== 0 ? 1 : 0), now);
    return len;
  }

  /** @internal RACK's record of a data segment that left (RFC 8985 6.1: Segment.xmit_ts), when RACK-TLP is on. */
  _sent(tcb: Tcb, seq: number, len: number, now: number): void {
    let r = tcb.rack;
    if (r === undefined) {
      if (!tcb.sackOk || this._config.lossDetection !== "rack") return;
      r = tcb.rack = takeRack();
      r.sampling = tcb.cc.usesRateSamples;
    }
    r.sent(seq, (seq + len) >>> 0, now);
  }

  /** Bytes per segment: one MSS, or a large segment the device cuts (a multiple of the MSS). */
  segmentUnit(mss: number): number {
    const segMax = this._config.segmentationOffload ? this._link.txSegmentMax : 0;
    // Asked on every write and send, for a few MSS values: the last answer is kept (no modulo).
    if (mss === this._unitMss && segMax === this._unitSegMax) return this._unit;
    this._unitMss = mss;
    this._unitSegMax = segMax;
    return this._unit = segMax >= 2 * mss ? Math.min(segMax - segMax % mss, GSO_SEGS_MAX * mss) : mss;
  }

  /**
   * Sends what the windows and the send policy allow: new data (or data again
   * after a retransmission timeout rolled SND.NXT back), the FIN, and an ACK if
   * one is owed and nothing else carried it.
   */
  output(tcb: Tcb, now: number): void {
    if (tcb.corked) return; // TcpLayer.uncork sends it all
    const s = tcb.state;
    if (s === State.synSent || s === State.synReceived || s === State.closed || s === State.listen) {
      if (tcb.ackNow && s === State.synReceived) {
        this.sendControl(tcb, TcpFlags.syn | TcpFlags.ack, tcb.iss, now);
      }
      return;
    }
    // Nothing to send: every queued byte is out, no FIN, no ACK owed, no SACK recovery (called
    // after every segment that arrives, most often so). Of the full path below only the
    // application-limited mark would be done.
    const flight = tcb.flight;
    if (
      tcb.sendq.bytes <= flight && !tcb.ackNow && !tcb.finQueued && tcb.sb === undefined &&
      tcb.sndNxt === tcb.sndMax
    ) {
      const r = tcb.rack;
      if (r !== undefined && flight < tcb.cc.cwnd) r.rate.markAppLimited(flight);
      return;
    }
    const mss = effectiveMss(tcb);
    if (recoverySend(this._x, tcb, now)) {
      if (tcb.ackNow) this.sendAck(tcb, now);
      return;
    }
    // RFC 5681 4.1: sending again after more than an RTO of silence starts from min(IW, cwnd).
    if (tcb.flight === 0 && tcb.sendq.bytes > 0 && now - tcb.lastSendAt > tcb.rto.rtoMs) {
      const before = tcb.cc.cwnd;
      tcb.cc.onIdleRestart(now);
      if (tcb.cc.cwnd < before) {
        tcb.stats.idleRestarts++;
        this._counters.idleRestarts++;
      }
    }
    const maxBefore = tcb.sndMax;
    const unit = pacedUnit(tcb, this.segmentUnit(mss), mss);
    for (let guard = 0; guard < 4096; guard++) {
      const dataOff = (tcb.sndNxt - tcb.sndUna) >>> 0;
      // Once the FIN is sent, SND.NXT counts it: the data ends one before.
      const dataSent = tcb.finSeq >= 0 && !seqLt(tcb.sndNxt, (tcb.finSeq + 1) >>> 0) ? dataOff - 1 : dataOff;
      const avail = tcb.sendq.bytes - dataSent;
      const flight = tcb.flight;
      const finPending = finAllowed(tcb) && (tcb.finSeq < 0 || seqLt(tcb.sndNxt, (tcb.finSeq + 1) >>> 0));
      if (avail > 0) {
        // The window's right edge is SND.WL2 + SND.WND: the window was offered
        // relative to the ACK that carried it, which can be older than SND.UNA.
        const wndLeft = (tcb.sndWl2 + tcb.sndWnd - tcb.sndNxt) | 0;
        let ccLeft = tcb.cc.sendAllowance(flight);
        if (flight === 0 && ccLeft < mss) ccLeft = mss; // never less than one segment with nothing in flight
        // The device is behind (its transmit batch nearly full): new data waits in the send
        // queue rather than being dropped on the way out; poll() resumes it (like Linux's TSQ).
        if (txHeld(this._x, tcb)) break;
        if (wndLeft <= 0 || ccLeft <= 0) {
          // Nothing in flight to bring an ACK: probe the window, zero or used up at SND.NXT
          // (its last update lost), as Linux arms its probe timer (tcp_check_probe_timer).
          if (wndLeft <= 0 && flight === 0) this._x.timers.armPersist(tcb, now);
          break;
        }
        let len = Math.min(avail, unit, wndLeft, ccLeft);
        if (len > mss && len < avail) len -= len % mss; // whole segments, but for the last
        const last = len === avail;
        // Sender SWS avoidance (RFC 9293 3.8.6.2.1): a segment the peer's window cuts short waits
        // unless it is at least half the largest window offered; the persist timer overrides.
        if (len < mss && !last && len === wndLeft && len < (tcb.maxSndWnd >>> 1) && !tcb.swsOverride) {
          if (flight === 0) this._x.timers.armPersist(tcb, now);
          break;
        }
        tcb.swsOverride = false;
        // The congestion window counts whole segments (as Linux's counts packets), rounded to the
        // nearest: room for half a segment or more lets a whole one go (flight stays under cwnd +
        // MSS/2), less waits for the ACK clock. Sent to the byte, the window's runts were a third
        // more packets under loss, each as likely lost as a whole one; always waiting instead left
        // half a segment of a small window unused every round trip, always rounding up let the
        // initial window (in 1460-byte MSS) carry an eleventh segment of 1448.
        if (len < mss && len === ccLeft && len < avail && len < wndLeft && flight > 0) {
          if (len < mss >>> 1) break;
          len = Math.min(mss, avail, wndLeft);
        }
        if (len < mss && flight > 0 && !(tcb.noDelay ?? this._config.noDelay) && !(last && finPending)) break; // Nagle
        // A large segment the windows cut short waits for the ACK that lets it go whole.
        if (len < unit && len < avail && flight > 0 && unit > mss && deferLarge(tcb, len, now)) break;
        if (paceHeld(this._x, tcb, unit, now)) break;
        const fin = last && finPending;
        const sent = len > mss
          ? sendLarge(this, tcb, tcb.sndNxt, len, fin, now)
          : this.sendData(tcb, tcb.sndNxt, len, fin, now);
        if (sent === 0) break;
        paced(tcb, sent, now);
        const withFin = fin && sent === avail && (this.repr.flags & TcpFlags.fin) !== 0;
        if (withFin) tcb.finSeq = (tcb.sndNxt + sent) >>> 0;
        if (tcb.rttSeq < 0 && !tcb.tsOk && !seqLt(tcb.sndNxt, tcb.sndMax)) {
          tcb.rttSeq = tcb.sndNxt;
          tcb.rttStart = now;
        }
        tcb.sndNxt = (tcb.sndNxt + sent + (withFin ? 1 : 0)) >>> 0;
        if (seqGt(tcb.sndNxt, tcb.sndMax)) {
          tcb.sndMax = tcb.sndNxt;
          tcb.sb?.sent(tcb.sndMax);
        }
        tcb.flightAtSend = tcb.flight;
        this._x.timers.armRetransmit(tcb, now);
        // All of it went, and no FIN is left to send alone: the next turn would find nothing.
        if (sent === avail && (withFin || !finPending)) break;
        continue;
      }
      if (finPending) {
        if (flight > 0 && tcb.sndWnd - flight < 0) break;
        this.sendData(tcb, tcb.sndNxt, 0, true, now);
        if (tcb.finSeq < 0) tcb.finSeq = tcb.sndNxt;
        tcb.sndNxt = (tcb.sndNxt + 1) >>> 0;
        if (seqGt(tcb.sndNxt, tcb.sndMax)) tcb.sndMax = tcb.sndNxt;
        this._x.timers.armRetransmit(tcb, now);
      }
      break;
    }
    const r = tcb.rack;
    if (r !== undefined) {
      // RFC 8985 7.2: new data left: the probe timeout restarts.
      if (tcb.sndMax !== maxBefore) scheduleProbe(this._x, tcb, now);
      // Everything queued is sent and the window has room: the application limits the rate
      // (draft-cheng-iccrg-delivery-rate-estimation 3.4).
      if (tcb.sendq.bytes <= ((tcb.sndMax - tcb.sndUna) >>> 0) && tcb.flight < tcb.cc.cwnd) {
        r.rate.markAppLimited(tcb.flight);
      }
    }
    if (tcb.ackNow) this.sendAck(tcb, now);
  }

  /** Retransmits one segment at SND.UNA (fast retransmit, a partial ACK, or a timeout's first). */
  retransmitFirst(tcb: Tcb, now: number): void {
    const mss = effectiveMss(tcb);
    const finAt = tcb.finSeq;
    const dataLeft = tcb.sendq.bytes;
    if (dataLeft > 0) {
      const len = Math.min(dataLeft, mss);
      const fin = finAt >= 0 && len === dataLeft;
      this.sendData(tcb, tcb.sndUna, len, fin, now);
    } else if (finAt >= 0) {
      this.sendData(tcb, tcb.sndUna, 0, true, now);
    }
    tcb.stats.retransSegs++;
    this._counters.retransSegs++;
  }

  /**
   * The application read: tell the peer if its window grew enough to be worth an ACK of its own.
   * `hold` (default): the update waits for the end of the loop's iteration (TcpLayer.flushCorked)
   * and leaves only if no segment carried the window meanwhile: an application that reads a
   * piece at a time (each GRO link of a 64 KiB answer) and then writes its next request sent
   * the peer pure ACKs for the pieces besides the request (at 256 connections, where a share of
   * the zone bounds each window, four of them for each 64 KiB answer).
   */
  windowOpened(c: Tcb, now: number, hold = true): void {
    // RFC 9293 3.8.6.2.2: tell the peer once the window grew by min(buffer/2, MSS).
    const before = seqGt(c.rcvAdv, c.rcvNxt) ? (c.rcvAdv - c.rcvNxt) >>> 0 : 0;
    // Called for every piece read (46 for a 64 KiB answer): the cheap answers first. An ACK owed
    // at the iteration's end carries the window then; a window still at half of the widest the
    // peer was told of (`told` below) has not shrunk.
    if (hold && c.ackBurstEnd) return;
    const told = Math.max(c.rcvWndAdvMax, Math.min(c.rcvBufBytes, 65535));
    if (before >= told >>> 1) return;
    // The window's size is what receiveWindow would offer an idle connection: the buffer, the
    // scaled field, and the connection's share of the zone. Measured against the buffer alone,
    // a share-bounded window (many connections) looked shrunk after every read and each read
    // cost a pure ACK; the peer's next segment carries the update instead.
    const perBuffer = bytesPerBuffer(this._x.pool, c);
    const share = this._x.pool.recvShare();
    const max = Math.min(c.rcvBufBytes, 65535 * 2 ** c.rcvScale, share * perBuffer);
    const room = (share - recvHeld(c)) * perBuffer;
    const free = Math.min(c.rcvBufBytes - c.recvq.bytes - c.reassemblyBytes, max, room);
    // Only a window that had shrunk below half its size is worth an ACK of its own; a wider
    // one rides on the next (possibly delayed) ACK, or every read would cost a segment. Its
    // size is at most the widest the peer was told of: a window still near the SYN's unscaled
    // 64 KiB has not shrunk (a request read after the handshake cost a pure ACK before its answer).
    if (
      free - before >= Math.min(c.rcvBufBytes >>> 1, c.sndMss) && before < Math.min(max, told) >>> 1 &&
      c.state >= State.established
    ) {
      if (!hold) {
        c.ackNow = true;
        this.output(c, now);
        return;
      }
      holdAck(this._x, c, true);
    }
  }
}

/** Whether `tcb` may send a FIN now (it has asked to close, and is in a state that sends one). */
function finAllowed(tcb: Tcb): boolean {
  return tcb.finQueued &&
    (tcb.state === State.finWait1 || tcb.state === State.lastAck || tcb.state === State.closing);
}
