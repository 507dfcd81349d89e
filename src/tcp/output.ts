/**
 * The send side of TCP: segments cut from the send queue with their header
 * written in place in front of the payload (zero-copy), control segments,
 * the send policy (RFC 9293 3.8.6.2.1 sender SWS avoidance, RFC 9293 3.7.4
 * Nagle, RFC 5681 congestion window) and the window we advertise
 * (RFC 9293 3.8.6.2.2 receiver SWS avoidance).
 *
 * @module
 */
import { ipHeadroom } from "../ip/ipv4_layer.ts";
import { seqGt, seqLt, TcpFlags } from "../wire/mod.ts";
import { State } from "./state.ts";
import type { Tcb } from "./tcb.ts";
import type { TcpLayer } from "./tcp_layer.ts";
import { NextSeg, SackScoreboard } from "./sack.ts";

/** TSval of our clock: milliseconds, modulo 2^32 (RFC 7323 5.4: 1 ms to 1 s per tick). */
export function tsNow(now: number): number {
  return Math.floor(now) >>> 0;
}

/** Payload bytes per segment with the options every segment carries (RFC 9293 3.7.1 Eff.snd.MSS). */
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

export function effectiveMss(tcb: Tcb): number {
  return tcb.sndMss - (tcb.tsOk ? 12 : 0);
}

/** The window to advertise now, bytes, with receiver SWS avoidance; never shrinks the right edge. */
export function receiveWindow(L: TcpLayer, tcb: Tcb): number {
  const held = tcb.recvq.bytes + L.reassemblyBytes(tcb);
  let free = tcb.rcvBufBytes - held;
  if (free < 0) free = 0;
  const max = 65535 * (1 << tcb.rcvScale);
  if (free > max) free = max;
  let current = seqGt(tcb.rcvAdv, tcb.rcvNxt) ? (tcb.rcvAdv - tcb.rcvNxt) >>> 0 : 0;
  if (current > max) current = max;
  // RFC 9293 3.8.6.2.2: move the right edge only by at least min(buffer/2, MSS).
  if (free - current < Math.min(tcb.rcvBufBytes >>> 1, tcb.sndMss) && free < tcb.rcvBufBytes) {
    free = current;
  } else if (L.poolTight && free > current) {
    // The zone runs low: hold the right edge where it is until buffers come back.
    L.windowHeld(tcb);
    free = current;
  }
  // Round down to what the scaled field can say, but never below the edge
  // already advertised: that one rounds up (RFC 7323 2.4, RFC 9293 3.8.6.2.2).
  const unit = (1 << tcb.rcvScale) - 1;
  free -= free & unit;
  if (free < current) free = (current + unit) & ~unit;
  return free;
}

/**
 * Fills the shared header representation for a segment of `tcb` and returns
 * the header's length, options included; {@link emit} then writes and sends it.
 */
function prepare(L: TcpLayer, tcb: Tcb, seq: number, flags: number, payloadLen: number, now: number): number {
  const r = L.repr;
  r.srcPort = tcb.localPort;
  r.dstPort = tcb.remotePort;
  r.seq = seq;
  r.flags = flags;
  r.urgent = 0;
  r.payloadLen = payloadLen;
  const o = r.options;
  o.clear();
  if ((flags & TcpFlags.syn) !== 0) {
    o.mss = L.config.mss;
    if (L.config.windowScaling && (!(flags & TcpFlags.ack) || tcb.rcvScale > 0)) o.windowScale = tcb.rcvScaleOffered;
    if (L.config.sack && (!(flags & TcpFlags.ack) || tcb.sackOk)) o.sackPermitted = true;
    if (L.config.timestamps && (!(flags & TcpFlags.ack) || tcb.tsOk)) {
      o.timestamps = true;
      o.tsVal = tsNow(now);
      o.tsEcr = tcb.tsRecent;
    }
  } else if (tcb.tsOk) {
    o.timestamps = true;
    o.tsVal = tsNow(now);
    o.tsEcr = tcb.tsRecent;
  }
  if ((flags & TcpFlags.syn) === 0 && tcb.sackOk && (flags & TcpFlags.rst) === 0) L.fillSackBlocks(tcb, o);
  if ((flags & TcpFlags.ack) !== 0) {
    r.ack = tcb.rcvNxt;
    tcb.lastAckSent = tcb.rcvNxt;
    const wnd = (flags & TcpFlags.syn) !== 0 ? Math.min(receiveWindow(L, tcb), 65535) : receiveWindow(L, tcb);
    r.window = (flags & TcpFlags.syn) !== 0 ? wnd : wnd >>> tcb.rcvScale;
    tcb.rcvAdv = (tcb.rcvNxt + wnd) >>> 0;
  } else {
    r.ack = 0;
    // An active open's SYN offers a window too; it is never scaled (RFC 7323 2.2).
    r.window = (flags & TcpFlags.syn) !== 0 ? Math.min(tcb.rcvBufBytes, 65535) : 0;
  }
  return r.headerLen();
}

/** Writes the prepared header at zone offset `tcpOff` of buffer `h` and sends it with the payload after it. */
function emit(L: TcpLayer, tcb: Tcb, h: number, tcpOff: number, now: number): void {
  const r = L.repr;
  if ((r.flags & TcpFlags.ack) !== 0) {
    // An ACK leaves: the delayed one is no longer owed.
    tcb.ackNow = false;
    tcb.unackedSegs = 0;
    if (tcb.delackAt !== Infinity) {
      tcb.delackAt = Infinity;
      L.rearm(tcb);
    }
  }
  const zone = L.ip.device.zone;
  const len = r.headerLen() + r.payloadLen;
  r.emit(L.tcpView.attach(zone.bytes, tcpOff, len), tcb.localIp, tcb.remoteIp, false);
  tcb.stats.segsOut++;
  tcb.lastSendAt = now;
  L.counters.outSegs++;
  L.ip.sendTcp(h, tcpOff, len, tcb.remoteIp, now);
}

/** Sends a segment with no payload (SYN, ACK, FIN, RST of a connection) in a fresh buffer. */
export function sendControl(L: TcpLayer, tcb: Tcb, flags: number, seq: number, now: number): void {
  const zone = L.ip.device.zone;
  const h = zone.tryTake();
  if (h < 0) {
    L.counters.noBufferDrops++; // lost like a dropped frame; timers recover
    return;
  }
  const tcpOff = zone.dataStart(h) + zone.headroom + ipHeadroom;
  prepare(L, tcb, seq, flags, 0, now);
  emit(L, tcb, h, tcpOff, now);
}

/**
 * Sends a pure ACK now. Its sequence number is SND.MAX, not SND.NXT: after a
 * timeout rolls SND.NXT back, an ACK numbered below what the peer has
 * received would fail its acceptability test and never be read.
 */
export function sendAck(L: TcpLayer, tcb: Tcb, now: number): void {
  const tx = L.ip.tx;
  if (tx.length >= tx.capacity - 1) {
    L.ip.flush(now); // the device may take some now
    if (tx.length >= tx.capacity - 1) {
      // The device is behind and the batch is full: a frame pushed now would be dropped.
      // The ACK waits instead (it is cumulative: a later one says as much) and poll()
      // sends it once the batch drains, as it resumes blocked data.
      tcb.ackNow = true;
      L.counters.acksDeferred++;
      L.txBlocked(tcb);
      return;
    }
  }
  sendControl(L, tcb, TcpFlags.ack, tcb.sndMax, now);
}

/**
 * Sends the data segment of `len` bytes at `seq` (with FIN if `fin`). The
 * header goes in place in front of the payload when the bytes before it are
 * free to overwrite (headroom, or payload already acknowledged) and nobody
 * else holds the buffer; otherwise the payload is copied to a fresh buffer.
 * Returns the payload bytes sent (possibly fewer than `len`: a segment does
 * not cross buffers).
 */
export function sendData(L: TcpLayer, tcb: Tcb, seq: number, len: number, fin: boolean, now: number): number {
  const zone = L.ip.device.zone;
  const flags = TcpFlags.ack | (fin ? TcpFlags.fin : 0) | (len > 0 ? TcpFlags.psh : 0);
  if (len === 0) {
    sendControl(L, tcb, flags, seq, now);
    return 0;
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
  let hdr = prepare(L, tcb, seq, TcpFlags.ack | TcpFlags.psh | (fin ? TcpFlags.fin : 0), len, now);
  // Options take room from the payload: header and payload stay within MSS + 20 (RFC 9293 3.7.1).
  const payloadMax = tcb.sndMss + 20 - hdr;
  if (len > payloadMax) {
    len = payloadMax;
    fin = false;
    hdr = prepare(L, tcb, seq, TcpFlags.ack | TcpFlags.psh, len, now);
  }
  // Zero-copy when the segment starts a chunk: cut it at the chunk's end unless
  // that would leave a sliver (then gathering into a copy sends a fuller segment).
  const inPlace = q.foundChunkStart && room >= hdr + ipHeadroom && zone.refcount(h) === 1 &&
    (len <= q.foundLen || q.foundLen >= (len >>> 1));
  if (inPlace && len > q.foundLen) {
    len = q.foundLen;
    fin = false;
    hdr = prepare(L, tcb, seq, TcpFlags.ack | TcpFlags.psh, len, now);
  }
  if (inPlace) {
    zone.retain(h); // the device's reference; the queue keeps its own for retransmission
    emit(L, tcb, h, payloadOff - hdr, now);
    return len;
  }
  const copy = zone.tryTake();
  if (copy < 0) {
    L.counters.noBufferDrops++;
    return 0;
  }
  const tcpOff = zone.dataStart(copy) + zone.headroom + ipHeadroom;
  const room2 = zone.dataRoomSize - (zone.headroom + ipHeadroom + hdr);
  if (len > room2) {
    len = room2;
    L.repr.payloadLen = len;
    L.repr.flags &= ~TcpFlags.fin;
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
  emit(L, tcb, copy, tcpOff, now);
  return len;
}

/** Whether `tcb` may send a FIN now (it has asked to close, and is in a state that sends one). */
function finAllowed(tcb: Tcb): boolean {
  return tcb.finQueued &&
    (tcb.state === State.finWait1 || tcb.state === State.lastAck || tcb.state === State.closing);
}

/**
 * Sends what the windows and the send policy allow: new data (or data again
 * after a retransmission timeout rolled SND.NXT back), the FIN, and an ACK if
 * one is owed and nothing else carried it.
 */
export function output(L: TcpLayer, tcb: Tcb, now: number): void {
  const s = tcb.state;
  if (s === State.synSent || s === State.synReceived || s === State.closed || s === State.listen) {
    if (tcb.ackNow && s === State.synReceived) sendControl(L, tcb, TcpFlags.syn | TcpFlags.ack, tcb.iss, now);
    return;
  }
  const mss = effectiveMss(tcb);
  if (tcb.sb !== undefined && tcb.sb.inRecovery && tcb.cc.inRecovery) {
    sackRecovery(L, tcb, now);
    if (tcb.ackNow) sendAck(L, tcb, now);
    return;
  }
  for (let guard = 0; guard < 4096; guard++) {
    const dataOff = (tcb.sndNxt - tcb.sndUna) >>> 0;
    // Once the FIN is sent, SND.NXT counts it: the data ends one before.
    const dataSent = tcb.finSeq >= 0 && !seqLt(tcb.sndNxt, (tcb.finSeq + 1) >>> 0) ? dataOff - 1 : dataOff;
    const avail = tcb.sendq.bytes - dataSent;
    const flight = tcb.flight;
    // The window's right edge is SND.WL2 + SND.WND: the window was offered
    // relative to the ACK that carried it, which can be older than SND.UNA.
    const wndLeft = ((tcb.sndWl2 + tcb.sndWnd - tcb.sndNxt) | 0);
    let ccLeft = tcb.cc.sendAllowance(flight);
    if (flight === 0 && ccLeft < mss) ccLeft = mss; // never less than one segment with nothing in flight
    const finPending = finAllowed(tcb) && (tcb.finSeq < 0 || seqLt(tcb.sndNxt, (tcb.finSeq + 1) >>> 0));
    if (avail > 0) {
      // The device is behind (its transmit batch nearly full): new data waits in the send
      // queue rather than being dropped on the way out; poll() resumes it (like Linux's TSQ).
      if (L.ip.tx.length >= L.ip.tx.capacity - 16) {
        L.txBlocked(tcb);
        break;
      }
      if (wndLeft <= 0 || ccLeft <= 0) {
        if (tcb.sndWnd === 0 && flight === 0) L.armPersist(tcb, now);
        break;
      }
      const len = Math.min(avail, mss, wndLeft, ccLeft);
      const last = len === avail;
      // Sender SWS avoidance (RFC 9293 3.8.6.2.1): a segment the peer's window cuts short waits
      // unless it is at least half the largest window offered; the persist timer overrides.
      if (len < mss && !last && len === wndLeft && len < (tcb.maxSndWnd >>> 1) && !tcb.swsOverride) {
        if (flight === 0) L.armPersist(tcb, now);
        break;
      }
      tcb.swsOverride = false;
      if (len < mss && flight > 0 && !L.noDelay(tcb) && !(last && finPending)) break; // Nagle
      const fin = last && finPending;
      const sent = sendData(L, tcb, tcb.sndNxt, len, fin, now);
      if (sent === 0) break;
      const withFin = fin && sent === avail && (L.repr.flags & TcpFlags.fin) !== 0;
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
      L.armRetransmit(tcb, now);
      continue;
    }
    if (finPending) {
      if (flight > 0 && tcb.sndWnd - flight < 0) break;
      sendData(L, tcb, tcb.sndNxt, 0, true, now);
      if (tcb.finSeq < 0) tcb.finSeq = tcb.sndNxt;
      tcb.sndNxt = (tcb.sndNxt + 1) >>> 0;
      if (seqGt(tcb.sndNxt, tcb.sndMax)) tcb.sndMax = tcb.sndNxt;
      L.armRetransmit(tcb, now);
    }
    break;
  }
  if (tcb.ackNow) sendAck(L, tcb, now);
}

/** Retransmits one segment at SND.UNA (fast retransmit, a partial ACK, or a timeout's first). */
export function retransmitFirst(L: TcpLayer, tcb: Tcb, now: number): void {
  const mss = effectiveMss(tcb);
  const finAt = tcb.finSeq;
  const dataLeft = tcb.sendq.bytes;
  if (dataLeft > 0) {
    const len = Math.min(dataLeft, mss);
    const fin = finAt >= 0 && len === dataLeft;
    sendData(L, tcb, tcb.sndUna, len, fin, now);
  } else if (finAt >= 0) {
    sendData(L, tcb, tcb.sndUna, 0, true, now);
  }
  tcb.stats.retransSegs++;
  L.counters.retransSegs++;
}

/**
 * SACK-based loss recovery (RFC 6675 5, step C): while the congestion window
 * has room for a segment beyond the pipe estimate, send what NextSeg()
 * chooses: a lost hole, new data, or a hole not yet deemed lost.
 */
export function sackRecovery(L: TcpLayer, tcb: Tcb, now: number): void {
  const sb = tcb.sb!;
  const mss = effectiveMss(tcb);
  for (let guard = 0; guard < 1024; guard++) {
    if (tcb.cc.cwnd - sb.pipe() < mss) break;
    const dataEnd = (tcb.sndUna + tcb.sendq.bytes) >>> 0;
    const edge = (tcb.sndWl2 + tcb.sndWnd) >>> 0;
    const canSendNew = tcb.sndNxt === tcb.sndMax && seqLt(tcb.sndMax, dataEnd) && seqLt(tcb.sndMax, edge) &&
      (tcb.finSeq < 0 || seqLt(tcb.sndMax, tcb.finSeq));
    const kind = sb.nextSeg(canSendNew);
    if (kind === NextSeg.none) break;
    if (kind === NextSeg.newData) {
      const len = Math.min(mss, (dataEnd - tcb.sndMax) >>> 0, (edge - tcb.sndMax) >>> 0);
      const sent = sendData(L, tcb, tcb.sndMax, len, false, now);
      if (sent === 0) break;
      tcb.sndNxt = tcb.sndMax = (tcb.sndMax + sent) >>> 0;
      sb.sent(tcb.sndMax);
    } else {
      // A hole: data (FIN included when the hole ends at it).
      const seq = sb.segSeq;
      let len = Math.min(sb.segLen, mss);
      const off = (seq - tcb.sndUna) >>> 0;
      const dataLeft = tcb.sendq.bytes - off;
      if (len > dataLeft) len = dataLeft > 0 ? dataLeft : 0;
      const fin = tcb.finSeq >= 0 && ((seq + len) >>> 0) === tcb.finSeq;
      const sent = sendData(L, tcb, seq, len, fin, now);
      sb.retransmitted(seq, sent > 0 ? sent : 1);
      tcb.stats.retransSegs++;
      L.counters.retransSegs++;
    }
    L.armRetransmit(tcb, now);
  }
}
