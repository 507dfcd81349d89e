/**
 * Segment arrival (RFC 9293 3.10.7), for a connection that has a TCB.
 *
 * Read first: RFC 9293 3.10.7.3 (SYN-SENT) and 3.10.7.4 (other states), then
 * RFC 5961 (blind attacks: RST and SYN checks, ACK validity, challenge ACKs),
 * RFC 7323 (PAWS, TS.Recent), RFC 5681 and RFC 6298 (ACK processing: the
 * congestion window and the retransmission timer), RFC 5681 4.2 (when to ACK).
 *
 * The checks run in the RFC's order: sequence number, RST, SYN, ACK, text,
 * FIN; each arm names the state and the rule.
 *
 * @module
 */
import { seqGe, seqGt, seqLe, seqLt, TcpFlags } from "../wire/mod.ts";
import { CcAction } from "./congestion.ts";
import { holdAck, type TcpContext } from "./context.ts";
import { ecnAck, ecnReceive } from "./ecn.ts";
import { frtoAck } from "./frto.ts";
import { negotiate, synAgain } from "./handshake.ts";
import { Reassembly } from "./reassembly.ts";
import { afterAck, pipeOf, sackRecovery, startRecovery } from "./recovery.ts";
import { Inserted, insertPayload, queuePayload, segmentsIn } from "./rx_pieces.ts";
import { SackBlockBuilder } from "./sack.ts";
import type { Segment } from "./segment.ts";
import { State } from "./state.ts";
import { pawsWindowTicks, scoreboard, type Tcb, tsNow } from "./tcb.ts";
import { oowAckIntervalMs } from "./time_wait.ts";

const { syn, ack, rst, fin } = TcpFlags;
/**
 * In-order bytes an owed ACK may wait for until the iteration ends: a small answer's worth (a 4 KiB
 * answer is two full-sized segments and a short one with PSH, coalesced into one segment, whose
 * answer carries the ACK). More is bulk, and its sender waits on the ACK clock: held to the iteration's end, a 64 KiB
 * answer's ACKs cut storage RPC in inline mode to a third over memif (18k against 35-63k op/s at
 * 16 connections), so such data is ACKed at once, as RFC 5681 4.2 asks.
 */
const ackHoldBytesMax = 8192;

/** RFC 7323 5.5: TS.Recent is valid for 24 days of idleness (the peer's clock may have wrapped since). */
const tsRecentIdleMsMax = 24 * 24 * 3600 * 1000;

/** The connection is established: tell the application (accept and open). */
function established(x: TcpContext, tcb: Tcb, now: number): void {
  tcb.state = State.established;
  x.counters.currEstab++;
  if (tcb.listenerPort >= 0) x.conns.accepted(tcb);
  if (!tcb.dead) tcb.handlers.onOpen?.(tcb);
  if (!tcb.dead && tcb.finQueued) tcb.state = State.finWait1; // closed before the handshake ended
  x.timers.keepaliveReset(tcb, now);
}

/**
 * The handshake's RTT sample: from the timestamp echo, or (Karn) from the SYN
 * if it was not retransmitted. Without one after a retransmitted SYN, the RTO
 * starts at 3 s (RFC 6298 (5.7)).
 */
function handshakeRtt(tcb: Tcb, seg: Segment, now: number): void {
  const o = seg.options;
  let sampled = false;
  if (tcb.tsOk && o.timestamps && o.tsEcr !== 0) {
    tcb.rto.sampleTimestamp(tsNow(now) - o.tsEcr);
    sampled = true;
  } else if (tcb.retransmits === 0) {
    sampled = tcb.rto.sampleSegment(now - tcb.rttStart, false);
  }
  if (!sampled && tcb.retransmits > 0) tcb.rto.applySynFallback();
  tcb.retransmits = 0;
}

/** RFC 9293 3.10.7.3: a segment arrives in SYN-SENT. Returns whether its buffer was kept. */
function synSent(x: TcpContext, tcb: Tcb, seg: Segment, now: number): boolean {
  // First, the ACK bit.
  if (seg.has(ack) && (seqLe(seg.ack, tcb.iss) || seqGt(seg.ack, tcb.sndNxt))) {
    if (!seg.has(rst)) x.out.sendRstAck(seg, seg.ack, now);
    return false;
  }
  // Second, the RST bit: only with an acceptable ACK (RFC 5961 3.2 leaves SYN-SENT as RFC 793 had it).
  if (seg.has(rst)) {
    if (seg.has(ack)) x.conns.destroy(tcb, "connection refused", now);
    return false;
  }
  // Fourth, the SYN bit.
  if (!seg.has(syn)) return false;
  tcb.irs = seg.seq;
  tcb.rcvNxt = (seg.seq + 1) >>> 0;
  negotiate(x, tcb, seg, now);
  tcb.sndWnd = seg.wnd; // a SYN's window is never scaled (RFC 7323 2.2)
  tcb.maxSndWnd = seg.wnd;
  tcb.sndWl1 = seg.seq;
  tcb.sndWl2 = seg.ack;
  if (seg.has(ack)) {
    tcb.sndUna = seg.ack;
    handshakeRtt(tcb, seg, now);
    tcb.rtxAt = Infinity;
    x.timers.rearm(tcb);
    // The handshake's ACK (RFC 9293 3.10.7.3) is owed at the end of the receive burst, not at
    // once: what the application writes on open (inline, from onOpen here; batch, from the event
    // queue before TcpLayer.flushCorked) carries it, as RFC 9293 3.5 lets the third segment carry
    // data. Sent at once, it cost a pure ACK before the first request; in inline mode onOpen's
    // request left first and the ACK after it, a segment that acknowledged nothing new.
    holdAck(x, tcb, true);
    established(x, tcb, now);
    if (tcb.dead) return false;
    // RFC 9293 3.10.7.3: text (and a FIN) on the SYN|ACK continue at the sixth step.
    let kept = false;
    if (seg.payloadLen > 0) {
      seg.seq = (seg.seq + 1) >>> 0; // the data starts after the SYN
      kept = receiveText(x, tcb, seg, now);
      if (tcb.dead) return kept;
      if (seg.has(fin) && ((seg.seq + seg.payloadLen) >>> 0) === tcb.rcvNxt) receiveFin(x, tcb, now);
    } else if (seg.has(fin)) {
      receiveFin(x, tcb, now);
    }
    if (!tcb.dead) x.out.output(tcb, now);
    return kept;
  }
  // Simultaneous open: SYN without ACK (RFC 9293 3.5, figure 8).
  tcb.state = State.synReceived;
  tcb.ackNow = true;
  x.out.sendControl(tcb, syn | ack, tcb.iss, now);
  return false;
}

/** RFC 9293 3.10.7.4, first check: is the segment's sequence number acceptable? */
function acceptable(tcb: Tcb, seg: Segment): boolean {
  const wnd = seqGt(tcb.rcvAdv, tcb.rcvNxt) ? (tcb.rcvAdv - tcb.rcvNxt) >>> 0 : 0;
  const len = seg.len;
  const end = (tcb.rcvNxt + wnd) >>> 0;
  if (len === 0) {
    if (wnd === 0) return seg.seq === tcb.rcvNxt;
    return seqGe(seg.seq, tcb.rcvNxt) && seqLt(seg.seq, end);
  }
  if (wnd === 0) return false;
  const last = (seg.seq + len - 1) >>> 0;
  return (seqGe(seg.seq, tcb.rcvNxt) && seqLt(seg.seq, end)) || (seqGe(last, tcb.rcvNxt) && seqLt(last, end));
}

/**
 * Processes a segment for `tcb`. Returns true when the connection kept the
 * segment's buffer (its payload was queued).
 */
export function segmentArrives(x: TcpContext, tcb: Tcb, seg: Segment, now: number): boolean {
  tcb.stats.segsIn++;
  tcb.lastRecvAt = now;
  if (tcb.state === State.synSent) return synSent(x, tcb, seg, now);
  const o = seg.options;

  // RFC 7323 5.3 R1: PAWS, before the sequence number check; a RST is exempt.
  if (
    tcb.tsOk && o.timestamps && !seg.has(rst) && seqLt((o.tsVal + pawsWindowTicks) >>> 0, tcb.tsRecent)
  ) {
    if (now - tcb.tsRecentAge > tsRecentIdleMsMax) {
      tcb.tsRecent = o.tsVal; // RFC 7323 5.5: TS.Recent is too old to judge by
    } else {
      // R1: not acceptable, answered as an unacceptable segment is (RFC 9293 3.10.7.4).
      x.counters.pawsDrops++;
      ackUnacceptable(x, tcb, seg, now);
      return false;
    }
  }

  // RFC 7323 3.2: once timestamps are agreed, a non-RST segment without them is dropped.
  if (tcb.tsOk && !o.timestamps && !seg.has(rst) && tcb.state !== State.synReceived) {
    x.counters.noTimestampDrops++;
    return false;
  }

  synAgain(tcb, seg, now); // before the check that finds it unacceptable (handshake.ts)

  // First: sequence number.
  if (!acceptable(tcb, seg)) {
    // RFC 9293 3.10.7.4: with RCV.WND zero nothing is acceptable, but a valid ACK at RCV.NXT
    // is still processed.
    if (
      seg.has(ack) && !seg.has(rst) && !seg.has(syn) && seg.seq === tcb.rcvNxt && tcb.rcvAdv === tcb.rcvNxt &&
      tcb.state >= State.established && tcb.state !== State.timeWait
    ) {
      processAck(x, tcb, seg, now);
      if (tcb.dead) return false;
    }
    if (!seg.has(rst)) ackUnacceptable(x, tcb, seg, now);
    return false;
  }

  // Second: RST (RFC 5961 3.2).
  if (seg.has(rst)) {
    if (seg.seq !== tcb.rcvNxt) {
      x.out.challengeAck(tcb, now);
      return false;
    }
    if (tcb.state === State.synReceived && tcb.listenerPort >= 0) {
      x.conns.destroy(tcb, undefined, now); // back to LISTEN: the listener stays, this attempt goes
    } else {
      x.counters.estabResets += tcb.state === State.established || tcb.state === State.closeWait ? 1 : 0;
      // RFC 9293 3.10.7.4: an active open refused in SYN-RECEIVED (simultaneous open).
      const why = tcb.state === State.timeWait
        ? undefined
        : tcb.state === State.synReceived
        ? "connection refused"
        : "connection reset by peer";
      x.conns.destroy(tcb, why, now);
    }
    return false;
  }

  // Fourth: SYN in a synchronized state (RFC 5961 4.2): a challenge ACK, nothing else.
  if (seg.has(syn)) {
    if (tcb.state === State.synReceived && seg.seq === tcb.irs && !seg.has(ack)) {
      x.out.sendControl(tcb, syn | ack, tcb.iss, now); // the peer's SYN again: our SYN-ACK was lost
      return false;
    }
    x.out.challengeAck(tcb, now);
    return false;
  }

  // RFC 7323 4.3: TS.Recent follows the segment that covers Last.ACK.sent.
  if (tcb.tsOk && o.timestamps && seqGe(o.tsVal, tcb.tsRecent) && seqLe(seg.seq, tcb.lastAckSent)) {
    tcb.tsRecent = o.tsVal;
    tcb.tsRecentAge = now;
  }

  // Fifth: ACK.
  if (!seg.has(ack)) return false;
  if (tcb.state === State.synReceived) {
    if (seqGt(seg.ack, tcb.sndUna) && seqLe(seg.ack, tcb.sndNxt)) {
      tcb.sndUna = seg.ack;
      tcb.sndWnd = seg.wnd << tcb.sndScale;
      tcb.maxSndWnd = tcb.sndWnd;
      tcb.sndWl1 = seg.seq;
      tcb.sndWl2 = seg.ack;
      handshakeRtt(tcb, seg, now);
      tcb.rtxAt = Infinity;
      x.timers.rearm(tcb);
      established(x, tcb, now);
      if (tcb.dead) return false;
    } else {
      x.out.sendRstAck(seg, seg.ack, now); // RFC 9293: <SEQ=SEG.ACK><CTL=RST>
      return false;
    }
  }
  if (!processAck(x, tcb, seg, now)) return false;
  if (tcb.ecnOk) ecnReceive(x, tcb, seg, now); // RFC 3168 6.1.3: CE and CWR, before the text is ACKed

  // Seventh: segment text.
  let kept = false;
  const s = tcb.state;
  if (seg.payloadLen > 0 && (s === State.established || s === State.finWait1 || s === State.finWait2)) {
    kept = receiveText(x, tcb, seg, now);
    if (tcb.dead) return kept;
  }

  // Eighth: FIN, once every byte before it has arrived.
  if (seg.has(fin)) {
    const finAt = (seg.seq + seg.payloadLen) >>> 0;
    if (seqGt(finAt, tcb.rcvNxt)) tcb.rcvFinSeq = finAt; // ahead of missing data: later
    else if (finAt === tcb.rcvNxt) receiveFin(x, tcb, now);
  } else if (tcb.rcvFinSeq >= 0 && tcb.rcvFinSeq === tcb.rcvNxt) {
    receiveFin(x, tcb, now);
  }
  if (tcb.dead) return kept;
  x.out.output(tcb, now);
  return kept;
}

/** RFC 9293 3.10.7.4 fifth check, in a synchronized state. Returns false when the segment is to be dropped. */
function processAck(x: TcpContext, tcb: Tcb, seg: Segment, now: number): boolean {
  // RFC 5961 5.2: an ACK must be within [SND.UNA - MAX.SND.WND, SND.NXT].
  if (seqGt(seg.ack, tcb.sndMax)) {
    x.out.sendAck(tcb, now);
    return false;
  }
  if (seqLt(seg.ack, (tcb.sndUna - Math.max(tcb.maxSndWnd, 1)) >>> 0)) {
    x.out.challengeAck(tcb, now);
    return false;
  }
  const wndRaw = seg.wnd;
  let after = 0;
  const una = tcb.sndUna;
  const wasInRecovery = tcb.cc.inRecovery;
  // RFC 6675 Update(): the scoreboard takes the cumulative ACK and the SACK blocks.
  // It is made when the first SACK block arrives (see scoreboard()).
  let sb = tcb.sb;
  const o = seg.options;
  if (sb === undefined && tcb.sackOk && o.sackCount > 0) sb = scoreboard(tcb);
  const newlySacked = sb !== undefined ? sb.update(seg.ack, o.sackBlocks, o.sackCount) : 0;
  // RFC 8985 6.2 steps 2 and 3: what this ACK delivered updates RACK.
  const rack = tcb.rack;
  if (rack !== undefined && seqGe(seg.ack, una)) {
    rack.onAck(seg.ack, o.sackBlocks, o.sackCount, sb?.dsack ? 1 : 0, o.tsEcr, tcb.tsOk && o.timestamps, now);
  }
  const frto = tcb.frtoStage;
  if (seqGt(seg.ack, tcb.sndUna)) {
    after = newAck(x, tcb, seg, now);
    if (tcb.dead) return false;
  } else if (
    seg.ack === tcb.sndUna && tcb.flight > 0 &&
    (newlySacked > 0 ||
      (seg.payloadLen === 0 && !seg.has(fin) && (wndRaw << tcb.sndScale) === tcb.sndWnd))
  ) {
    // A duplicate ACK: RFC 5681 2, or with SACK, one that SACKs new data (RFC 6675 2).
    // With RACK (RFC 8985), time rather than DupThresh tells a loss: afterAck() below.
    tcb.stats.dupAcksIn++;
    const flags = rack === undefined ? tcb.cc.onDupAck(seg.ack, tcb.flight, tcb.sndNxt, now) : 0;
    if ((flags & CcAction.retransmit) !== 0) {
      after |= afterRetransmit;
      if ((flags & CcAction.enteredRecovery) !== 0 && tcb.sackOk) {
        startRecovery(x, tcb, now);
        sb = tcb.sb;
      } else {
        tcb.stats.fastRetrans++;
        if ((flags & CcAction.enteredRecovery) !== 0) tcb.rttSeq = -1; // Karn
      }
    }
  }
  // F-RTO (RFC 5682) after a timeout: was it spurious?
  if (frto !== 0) frtoAck(x, tcb, seqGt(tcb.sndUna, una), newlySacked, now);
  // Loss detection (RACK, or RFC 6675 5 step 4) and PRR's quota for this ACK.
  if (tcb.sackOk) {
    afterAck(
      x,
      tcb,
      seg,
      now,
      seqGt(tcb.sndUna, una) ? (tcb.sndUna - una) >>> 0 : 0,
      newlySacked,
      wasInRecovery,
    );
    sb = tcb.sb;
    if (sb !== undefined && sb.inRecovery && tcb.cc.inRecovery) after &= ~afterRetransmit;
  }
  // The ACK's delivery-rate sample, once loss detection marked what it shows lost (BBR's model).
  if (rack !== undefined && rack.sampling) {
    tcb.cc.onRateSample(rack.rate, pipeOf(tcb), now);
    rack.rate.newlyLost = 0;
  }
  if (tcb.ecnOk) {
    ecnAck(x, tcb, seg, (seqGt(tcb.sndUna, una) ? (tcb.sndUna - una) >>> 0 : 0) + newlySacked, now);
  }
  // Window update, before anything is sent: the window is relative to this ACK. RFC 9293
  // 3.10.7.4 takes it with SND.UNA =< SEG.ACK, and SND.WL1 < SEG.SEQ, or equal and SND.WL2 =<
  // SEG.ACK. As Linux (tcp_may_update_window), an ACK that moves SND.UNA takes it too whatever
  // its SEG.SEQ: the peer's retransmission of older data carries its current ACK and window, and
  // missing it leaves the right edge where the last update put it (at SND.NXT: until a persist
  // probe). An ACK older than SND.UNA never gives a window, nor does an older SEG.SEQ with an ACK
  // that moves nothing (a reordered copy of an earlier segment); SND.WL1 never goes back.
  if (
    seqGe(seg.ack, tcb.sndUna) &&
    (seqGt(seg.ack, una) || seqLt(tcb.sndWl1, seg.seq) ||
      (tcb.sndWl1 === seg.seq && seqLe(tcb.sndWl2, seg.ack)))
  ) {
    tcb.sndWnd = wndRaw << tcb.sndScale;
    if (seqGt(seg.seq, tcb.sndWl1)) tcb.sndWl1 = seg.seq;
    tcb.sndWl2 = seg.ack;
    if (tcb.sndWnd > tcb.maxSndWnd) tcb.maxSndWnd = tcb.sndWnd;
    if (tcb.sndWnd > 0 && tcb.persistAt !== Infinity) {
      tcb.persistAt = Infinity;
      tcb.persistBackoff = 0;
      x.timers.rearm(tcb);
    }
  }
  if (sb !== undefined && sb.inRecovery && tcb.cc.inRecovery) {
    sackRecovery(x, tcb, now); // RFC 6675 5 (C): what NextSeg() chooses, as PRR allows
  } else if ((after & afterRetransmit) !== 0) {
    x.out.retransmitFirst(tcb, now);
  }
  // Nothing SACKed and no recovery to remember: drop the scoreboard (memory per idle connection).
  if (sb !== undefined && sb === tcb.sb && sb.empty()) tcb.sb = undefined;
  if ((after & afterWritable) !== 0 && !tcb.dead) tcb.handlers.onWritable?.(tcb);
  return !tcb.dead;
}

const afterRetransmit = 1;
const afterWritable = 2;

/**
 * SND.UNA advances: release acknowledged data, sample the RTT, grow the
 * window, move the timer. Returns what is left to do once the send window is
 * updated (a retransmission, telling the application it may write).
 */
function newAck(x: TcpContext, tcb: Tcb, seg: Segment, now: number): number {
  const acked = (seg.ack - tcb.sndUna) >>> 0;
  const finAcked = tcb.finSeq >= 0 && seqGt(seg.ack, tcb.finSeq);
  const dataAcked = acked - (finAcked && seqLe(tcb.sndUna, tcb.finSeq) ? 1 : 0);
  tcb.sendq.consume(dataAcked);
  if (dataAcked > 0) x.timers.progress(tcb, now); // the user timeout restarts
  tcb.stats.bytesAcked += dataAcked;
  tcb.sndUna = seg.ack;
  if (seqLt(tcb.sndNxt, tcb.sndUna)) tcb.sndNxt = tcb.sndUna;
  // RTT (RFC 7323 4.1 with timestamps; RFC 6298 3 with Karn's rule without).
  const o = seg.options;
  if (tcb.tsOk && o.timestamps && o.tsEcr !== 0) {
    // An echo from before the last timeout may belong to a transmission the
    // timeout superseded: it would measure the timeout, not the path.
    if (seqGe(o.tsEcr, tcb.tsSampleFloor)) {
      const rtt = tsNow(now) - o.tsEcr;
      tcb.rto.sampleTimestamp(rtt);
      tcb.cc.onRttSample(rtt);
    }
  } else if (tcb.rttSeq >= 0 && seqGt(seg.ack, tcb.rttSeq)) {
    tcb.rto.sampleSegment(now - tcb.rttStart, false);
    tcb.cc.onRttSample(now - tcb.rttStart);
    tcb.rttSeq = -1;
  }
  tcb.retransmits = 0;
  const srtt = tcb.rto.hasSample ? tcb.rto.srttMs : -1;
  const hsExits = tcb.cc.hystartExits;
  const flags = tcb.cc.onAck(seg.ack, acked, tcb.flight, now, srtt);
  if (tcb.cc.hystartExits !== hsExits) x.counters.hystartExits++;
  let after = (flags & CcAction.retransmit) !== 0 ? afterRetransmit : 0;
  // RFC 6298 (5.2), (5.3): stop the timer when all is acknowledged, else restart it. Only a
  // deadline that moved earlier (a smaller RTO) needs the wheel (TcpTimers.rearm).
  const rtxBefore = tcb.rtxAt;
  tcb.rtxAt = tcb.flight === 0 ? Infinity : now + tcb.rto.rtoMs;
  if (tcb.rtxAt < rtxBefore) x.timers.rearm(tcb);

  if (finAcked) {
    switch (tcb.state) {
      case State.finWait1:
        // FIN-WAIT-2 waits for the peer's FIN as long as it takes: our side
        // only half-closed, and the application may still be reading.
        tcb.state = State.finWait2;
        break;
      case State.closing:
        // TIME-WAIT: the layer hands the connection to a TIME-WAIT record once this segment is done.
        tcb.state = State.timeWait;
        x.conns.closedForApp(tcb, now);
        break;
      case State.lastAck:
        x.conns.destroy(tcb, undefined, now);
        return 0;
    }
  }
  if (tcb.wantWritable && tcb.sendSpace > 0 && !tcb.finQueued) {
    tcb.wantWritable = false;
    after |= afterWritable;
  }
  return after;
}

/** Queues the segment's payload: in order to the application, out of order for reassembly. */
function receiveText(x: TcpContext, tcb: Tcb, seg: Segment, now: number): boolean {
  let seq = seg.seq;
  let len = seg.payloadLen;
  // Trim what came before RCV.NXT and what lies past the window.
  if (seqLt(seq, tcb.rcvNxt)) {
    const cut = (tcb.rcvNxt - seq) >>> 0;
    if (cut >= len) {
      noteDuplicate(x, tcb, seq, len, now);
      tcb.ackNow = true; // all of it is old: say where we are
      return false;
    }
    // The bytes before RCV.NXT arrived twice: a D-SACK for them, at once (RFC 2883 4).
    noteDuplicate(x, tcb, seq, cut, now);
    tcb.ackNow = true;
    seq = tcb.rcvNxt;
    len -= cut;
  }
  if (x.pool.dropsPayload(tcb, !seqGt((seq + len) >>> 0, tcb.rcvAdv))) {
    // The zone is nearly out of buffers, or this connection's unread data holds its share
    // of it (pool_pressure.ts): drop the payload and say where we are; the sender
    // retransmits (Linux TCPRcvQDrop).
    tcb.ackNow = true;
    return false;
  }
  const wndEnd = (tcb.rcvAdv - 0) >>> 0;
  if (seqGt((seq + len) >>> 0, wndEnd) && seqGt(wndEnd, seq)) {
    len = (wndEnd - seq) >>> 0; // past the window: dropped, the sender sends it again
    x.counters.rcvWindowTrims++;
  }
  if (seq !== tcb.rcvNxt) {
    // Out of order (RFC 5681 4.2: ACK it at once, so the sender sees the hole).
    const b = tcb.sackRx;
    if (tcb.sackOk && b !== undefined && b.wouldOverflow(seq, len, tcb.tsOk ? 3 : 4)) {
      x.counters.sackAcksEarly++;
      x.out.sendAck(tcb, now);
    }
    ackOutOfOrder(x, tcb);
    tcb.stats.oooSegsIn++;
    const r = insertPayload(reassemblyOf(x, tcb), seg, seq, len);
    if ((r & Inserted.stored) !== 0) noteArrival(tcb, seq, len);
    else if ((r & Inserted.duplicate) !== 0) noteDuplicate(x, tcb, seq, len, now);
    if ((r & Inserted.refused) !== 0) tcb.stats.oooDropped++;
    return (r & Inserted.headKept) !== 0;
  }
  const kept = queuePayload(tcb.recvq, seg, seq, len);
  tcb.rcvNxt = (tcb.rcvNxt + len) >>> 0;
  tcb.stats.bytesReceived += len;
  // Pieces that were waiting behind the hole.
  const q = tcb.reasm;
  if (q !== undefined && q.count > 0) {
    while (q.pop(tcb.rcvNxt)) {
      tcb.recvq.push(q.outHandle, q.outOffset, q.outLen);
      tcb.rcvNxt = (tcb.rcvNxt + q.outLen) >>> 0;
      tcb.stats.bytesReceived += q.outLen;
    }
    // RFC 5681 4.2: a segment that fills all or part of a gap is ACKed at once.
    tcb.ackNow = true;
  }
  // RFC 9293 3.8.6.3 / RFC 5681 4.2: an ACK for at least every second full-sized segment. A
  // coalesced segment counts the segments it was made of. The rule followed is Linux's one ACK
  // per GRO segment, with the receive burst as the unit of coalescing for small exchanges: the ACK
  // owed leaves at the end of the loop's iteration (TcpLayer.flushCorked), or at once when
  // ackHoldBytesMax wait for it. The segments of one burst arrived together, so an ACK sent in
  // the middle of the burst would reach the peer no sooner than one at its end but for the
  // burst's processing time, and an answer the application writes meanwhile (inline, or from the
  // event queue) carries it: a 4 KiB answer (two segments then one with PSH, which a GRO that did
  // not merge PSH segments gave TCP as two) cost the requester a pure ACK besides its next request.
  tcb.unackedSegs += segmentsIn(seg);
  if (tcb.unackedSegs >= 2 && !tcb.ackNow) {
    if (((tcb.rcvNxt - tcb.lastAckSent) >>> 0) >= ackHoldBytesMax) tcb.ackNow = true;
    else holdAck(x, tcb, false);
  }
  // The application hears first: an inline handler that answers in place sends the ACK on its
  // answer (output.ts clears what is owed), and no delayed-ACK timer is armed only to be
  // cancelled. Batch mode only queues the event here; its answer cancels the timer later.
  if (tcb.handlers.onData !== undefined) tcb.handlers.onData(tcb);
  if (tcb.unackedSegs > 0 && !tcb.ackNow && !tcb.ackHeld && !tcb.dead) x.timers.armDelayedAck(tcb, now);
  return kept;
}

/**
 * The ACK a segment that failed the sequence number check or PAWS draws (RFC 9293 3.10.7.4, RFC
 * 7323 5.3 R1). Data is always answered (the sender needs the ACK to recover); a bare ACK at most
 * once per interval, or two stacks could ACK each other forever (throttled as RFC 5961 7 does
 * challenge ACKs; Linux's tcp_invalid_ratelimit). Data below RCV.NXT arrived twice: the ACK
 * reports it as a D-SACK (RFC 2883 4), which tells the sender its retransmission (or loss probe)
 * was spurious; a segment PAWS rejects is often such a duplicate, overtaken by its own
 * retransmission. With SACK
 * the ACK leaves at the end of the receive burst, one for all the burst's unacceptable and
 * out-of-order segments (ackOutOfOrder): the RFC asks for an ACK in reply, not for one per
 * segment, and a sender that repeats a window's worth of data gets one per burst.
 */
function ackUnacceptable(x: TcpContext, tcb: Tcb, seg: Segment, now: number): void {
  const len = seg.payloadLen;
  if (len > 0 && seqLt(seg.seq, tcb.rcvNxt)) {
    const end = (seg.seq + len) >>> 0;
    noteDuplicate(x, tcb, seg.seq, seqLe(end, tcb.rcvNxt) ? len : (tcb.rcvNxt - seg.seq) >>> 0, now);
  }
  if (seg.len === 0 && now - tcb.lastOowAckAt < oowAckIntervalMs) return;
  tcb.lastOowAckAt = now;
  if (tcb.sackOk) ackOutOfOrder(x, tcb);
  else x.out.sendAck(tcb, now);
}

/**
 * The ACK an out-of-order segment owes at once (RFC 5681 4.2). With SACK agreed it leaves at the
 * end of the receive burst (TcpLayer.flushCorked), one for all the burst's out-of-order segments,
 * its blocks the most recent arrival's first: the segments of a burst arrived together, so the
 * sender learns as much and no later (its SACK scoreboard counts bytes, not ACKs), as Linux's
 * receiver compresses SACKs while it holds data out of order. An ACK per segment was three in
 * four segments of a lossy transfer over af_packet (the kernel's receiver: one in ten), and over
 * a veth each ACK runs the sender's stack on the receiver's CPU: the poller spent its time there.
 * Without SACK each one is a duplicate ACK the sender counts (RFC 5681 3.2): at once.
 */
function ackOutOfOrder(x: TcpContext, tcb: Tcb): void {
  if (!tcb.sackOk) {
    tcb.ackNow = true;
    return;
  }
  holdAck(x, tcb, true);
}

/** The peer's FIN is in order (RFC 9293 3.10.7.4, eighth check). */
function receiveFin(x: TcpContext, tcb: Tcb, now: number): void {
  if (tcb.finReceived) {
    tcb.ackNow = true;
    return;
  }
  tcb.finReceived = true;
  tcb.rcvFinSeq = -1;
  tcb.rcvNxt = (tcb.rcvNxt + 1) >>> 0;
  tcb.ackNow = true;
  switch (tcb.state) {
    case State.synReceived:
    case State.established:
      tcb.state = State.closeWait;
      break;
    case State.finWait1:
      // Our FIN acknowledged already would have made this FIN-WAIT-2.
      tcb.state = State.closing;
      break;
    case State.finWait2:
      tcb.state = State.timeWait; // a TIME-WAIT record takes over once this segment is done
      break;
  }
  tcb.handlers.onEnd?.(tcb);
  if (tcb.state === State.timeWait && !tcb.dead) x.conns.closedForApp(tcb, now);
}

/** The out-of-order queue of `tcb`, made when first needed. */
function reassemblyOf(x: TcpContext, tcb: Tcb): Reassembly {
  let q = tcb.reasm;
  if (q === undefined) {
    const zone = x.zone;
    q = new Reassembly({
      release: (h) => zone.release(h),
      bytesMax: x.config.reassemblyBytesMax,
      budget: x.reassemblyBudget,
    });
    tcb.reasm = q;
  }
  return q;
}

/** An out-of-order segment `[seq, seq + len)` was queued: SACK blocks report the most recent first (RFC 2018 4). */
function noteArrival(tcb: Tcb, seq: number, len: number): void {
  if (tcb.sackOk) (tcb.sackRx ??= new SackBlockBuilder()).noteArrival(seq, len);
}

/** A duplicate segment: reported first in the next SACK option (RFC 2883). */
function noteDuplicate(x: TcpContext, tcb: Tcb, seq: number, len: number, now: number): void {
  if (!tcb.sackOk) return;
  const b = (tcb.sackRx ??= new SackBlockBuilder());
  if (b.dsackApart(seq, len)) {
    // The D-SACK waiting for the burst's ACK covers other bytes, and an ACK has room for one:
    // it leaves now, so that the sender hears of every duplicate (it undoes a reduction by
    // counting the retransmissions D-SACKed, RFC 3708), and the burst still owes its ACK.
    x.out.sendAck(tcb, now);
    ackOutOfOrder(x, tcb);
  }
  b.noteDuplicate(seq, len);
}
