/**
 * Loss detection and SACK-based recovery, after each ACK: which segments are
 * lost — RACK (RFC 8985, rack.ts; the default, with the tail loss probe of
 * tlp.ts) or the RFC 6675 scoreboard's IsLost() (sack.ts; config
 * `lossDetection: "rfc6675"`) — when recovery starts, what it sends (RFC 6675
 * 5 step C: lost segments first, then new data) and how much (PRR, RFC 6937,
 * prr.ts, in place of cwnd - pipe). The congestion controller still chooses
 * ssthresh and says when recovery ends.
 *
 * Read first: RFC 8985 6.2 (RACK on an ACK), RFC 6675 5 (the recovery
 * procedure), RFC 6937 3 (PRR).
 *
 * @module
 */
import { seqGe, seqLt } from "../wire/seq.ts";
import { type TcpContext, txHeld } from "./context.ts";
import { effectiveMss } from "./window.ts";
import { Prr } from "./prr.ts";
import { RackTimer } from "./rack.ts";
import { NextSeg } from "./sack.ts";
import type { Segment } from "./segment.ts";
import { inSackRecovery, scoreboard, type Tcb } from "./tcb.ts";
import { armRackTimer, armRto, probeAcked, scheduleProbe } from "./tlp.ts";
import { sendLarge } from "./large_segment.ts";
import { paced, pacedUnit, paceHeld } from "./pacer.ts";

/**
 * The bytes in flight during recovery (RFC 6675 SetPipe()): with RACK, what
 * was sent less what is SACKed and what is marked lost and not yet sent again.
 * Needs the scoreboard, or RACK (then without a scoreboard nothing is SACKed).
 */
export function pipeOf(tcb: Tcb): number {
  const sb = tcb.sb;
  const r = tcb.rack;
  if (r === undefined) return sb!.pipe();
  const p = ((tcb.sndMax - tcb.sndUna) >>> 0) - (sb === undefined ? 0 : sb.sackedBytes) - r.lostBytes;
  return p > 0 ? p : 0;
}

/**
 * The FlightSize a loss reduces the window from (RFC 5681 (4), RFC 9438 4.6):
 * the flight now, or, where more was in flight when new data last left,
 * that, up to cwnd. The flight now is what the window held when the loss
 * happened only if the ACKs came in one by one, each followed by a send: a
 * poller that takes a burst of ACKs late (the machine scheduled it out) with
 * its transmit batch full sends nothing between them, and the ACK that shows
 * the loss can find most of the window acknowledged. Over `packet:` at 1%
 * loss a window of 800 KB so became an ssthresh of 46 KB (0.7 of the 66 KB
 * left in flight), the rest of the transfer spent growing back. Linux takes
 * cwnd (tcp_cubic's bictcp_recalc_ssthresh, tcp_reno_ssthresh); the flight
 * when data last left is at most cwnd and shows the window in use (RFC
 * 9438 4.6 asks that a window not used does not count).
 */
export function lossFlightSize(tcb: Tcb): number {
  const sent = tcb.flightAtSend < tcb.cc.cwnd ? tcb.flightAtSend : tcb.cc.cwnd;
  return sent > tcb.flight ? sent : tcb.flight;
}

/** SACK-based recovery begins (RFC 6675 5 step 4, or a loss RACK found): the controller's ssthresh, PRR's start. */
export function startRecovery(x: TcpContext, tcb: Tcb, now: number): void {
  const sb = scoreboard(tcb);
  if (!tcb.cc.inRecovery) tcb.cc.enterRecovery(now, tcb.flight, tcb.sndNxt, lossFlightSize(tcb));
  if (!sb.inRecovery) sb.startRecovery();
  tcb.rttSeq = -1; // Karn
  tcb.stats.fastRetrans++;
  (tcb.prr ??= new Prr()).start(tcb.flight, tcb.cc.ssthresh);
  if (tcb.rack !== undefined && tcb.rack.timerOf(tcb.rtxAt) === RackTimer.probe) armRto(x, tcb, now);
}

/**
 * Loss detection once an ACK is processed (RFC 8985 6.2 steps 4 and 5, 7.4;
 * RFC 6675 5 step 4), and PRR's quota for it. `acked`: bytes SND.UNA
 * advanced by; `newlySacked`: bytes the ACK SACKed first; `wasInRecovery`:
 * whether recovery was under way before it.
 */
export function afterAck(
  x: TcpContext,
  tcb: Tcb,
  seg: Segment,
  now: number,
  acked: number,
  newlySacked: number,
  wasInRecovery: boolean,
): void {
  const sb = tcb.sb;
  const r = tcb.rack;
  if (r !== undefined) {
    if (r.rtoRecovery && seqGe(tcb.sndUna, r.rtoRecoveryPoint)) r.rtoRecovery = false;
    if (r.reorderingDetected) {
      tcb.stats.rackReorderDetected++;
      x.counters.rackReorderDetected++;
    }
    if (wasInRecovery && !tcb.cc.inRecovery) r.onRecoveryExit();
    const dsack = sb !== undefined && sb.dsack;
    probeAcked(
      x,
      tcb,
      seg.ack,
      acked > 0,
      seg.options.sackCount > (dsack ? 1 : 0),
      dsack ? sb.dsackEnd : -1,
      now,
    );
    const srtt = tcb.rto.hasSample ? tcb.rto.srttMs : 0;
    const sackedSegs = sb === undefined ? 0 : Math.floor(sb.sackedBytes / effectiveMss(tcb));
    r.updateReoWnd(tcb.sndUna, tcb.sndNxt, dsack, tcb.cc.inRecovery, srtt, sackedSegs);
    const timeout = r.detectLoss(now);
    const lost = r.takeNewlyLost();
    if (lost > 0) {
      tcb.stats.rackLosses += lost;
      x.counters.rackLosses += lost;
    }
    if (
      r.lostBytes > 0 && !tcb.cc.inRecovery && tcb.flight > 0 && tcb.sndNxt === tcb.sndMax &&
      (sb === undefined || sb.recoveryAllowed())
    ) {
      startRecovery(x, tcb, now);
    }
    if (timeout > 0) armRackTimer(x, tcb, RackTimer.reorder, now + timeout);
    // In fast recovery an ACK that only SACKs keeps the ACK clock running too (tlp.ts, probeAllowed).
    else if (acked > 0 || (newlySacked > 0 && tcb.cc.inRecovery)) scheduleProbe(x, tcb, now);
    else if (r.timerOf(tcb.rtxAt) === RackTimer.reorder) armRto(x, tcb, now);
  } else if (
    sb !== undefined && !tcb.cc.inRecovery && tcb.flight > 0 && sb.recoveryAllowed() && sb.isLost(tcb.sndUna)
  ) {
    // RFC 6675 5 step 4: SACKs above SND.UNA alone can show it lost.
    startRecovery(x, tcb, now);
  }
  const prr = tcb.prr;
  if (prr !== undefined && inSackRecovery(tcb)) {
    prr.onAck(acked + newlySacked, pipeOf(tcb), effectiveMss(tcb));
  }
}

/** RACK's reordering timer fired (RFC 8985 6.2 step 5: RACK_detect_loss_and_arm_timer()). */
export function reorderTimerFired(x: TcpContext, tcb: Tcb, now: number): void {
  const r = tcb.rack!;
  const timeout = r.detectLoss(now);
  const lost = r.takeNewlyLost();
  tcb.stats.rackLosses += lost;
  x.counters.rackLosses += lost;
  // The recovery first, then the timer: a recovery this marking begins has its probe timeout
  // (tlp.ts), or a lost retransmission of the hole, with nothing sent after it, waits for the RTO.
  const sb = tcb.sb;
  if (
    r.lostBytes > 0 && !tcb.cc.inRecovery && tcb.sndNxt === tcb.sndMax &&
    (sb === undefined || sb.recoveryAllowed())
  ) {
    startRecovery(x, tcb, now);
  }
  if (timeout > 0) armRackTimer(x, tcb, RackTimer.reorder, now + timeout);
  else {
    armRto(x, tcb, now);
    scheduleProbe(x, tcb, now); // in fast recovery, the probe timeout in its place (tlp.ts)
  }
  // Nothing was delivered: PRR's quota allows the first retransmission only.
  if (tcb.prr !== undefined && inSackRecovery(tcb)) tcb.prr.onAck(0, pipeOf(tcb), effectiveMss(tcb));
  x.out.output(tcb, now);
}

/**
 * Sends `[seq, end)` again (end may count the FIN), in as many segments as
 * it takes; returns the sequence space sent (0: nothing could go).
 */
export function retransmitRange(x: TcpContext, tcb: Tcb, seq: number, end: number, now: number): number {
  const mss = effectiveMss(tcb);
  let s = seq;
  while (seqLt(s, end)) {
    const finHere = tcb.finSeq >= 0 && seqLt(tcb.finSeq, end) && seqGe(tcb.finSeq, s);
    const dataEnd = finHere ? tcb.finSeq : end;
    let len = (dataEnd - s) >>> 0;
    if (len > mss) len = mss;
    const fin = finHere && ((s + len) >>> 0) === tcb.finSeq;
    const sent = x.out.sendData(tcb, s, len, fin, now);
    const adv = sent + (fin && (sent === len) ? 1 : 0);
    if (adv === 0) break;
    tcb.stats.retransSegs++;
    x.counters.retransSegs++;
    s = (s + adv) >>> 0;
  }
  const n = (s - seq) >>> 0;
  if (n > 0) tcb.sb?.retransmitted(seq, n);
  return n;
}

/**
 * How much one send in recovery may carry with `quota` bytes allowed (PRR's,
 * or cwnd - pipe): whole segments up to a large segment's size (capped by the
 * pacer's send quantum), never less than one segment.
 */
function recoveryRoom(x: TcpContext, tcb: Tcb, quota: number, mss: number): number {
  const room = Math.min(quota, pacedUnit(tcb, x.out.segmentUnit(mss), mss));
  return room > mss ? room - room % mss : mss;
}

/**
 * Sends the lost `[seq, end)` again, up to `room` bytes of it: where the
 * device cuts large segments, as one of them (as Linux resends a lost TSO
 * buffer whole, within cwnd: a lost GSO packet of 45 segments goes again as
 * one packet, not 45 turns of the recovery loop), else, or with the FIN in
 * it, one MSS. Returns the sequence space sent.
 */
function retransmitLost(
  x: TcpContext,
  tcb: Tcb,
  seq: number,
  end: number,
  room: number,
  mss: number,
  now: number,
): number {
  let len = (end - seq) >>> 0;
  if (len > room) len = room;
  const fin = tcb.finSeq >= 0 && seqLt(tcb.finSeq, (seq + len) >>> 0);
  if (len <= mss || fin) return retransmitRange(x, tcb, seq, (seq + (len < mss ? len : mss)) >>> 0, now);
  const sent = sendLarge(x.out, tcb, seq, len, false, now);
  if (sent === 0) return 0;
  const segs = Math.ceil(sent / mss);
  tcb.stats.retransSegs += segs;
  x.counters.retransSegs += segs;
  tcb.sb?.retransmitted(seq, sent);
  return sent;
}

/**
 * A retransmission timeout with RACK (RFC 8985 6.3): the first segment marked
 * lost goes again now, one MSS of it, whatever the window. Returns the
 * sequence space sent.
 */
export function retransmitFirstLost(x: TcpContext, tcb: Tcb, now: number): number {
  const r = tcb.rack!;
  if (!r.firstLost(tcb.sndUna)) return 0;
  const mss = effectiveMss(tcb);
  const end = ((r.segEnd - r.segSeq) >>> 0) > mss ? (r.segSeq + mss) >>> 0 : r.segEnd;
  return retransmitRange(x, tcb, r.segSeq, end, now);
}

/**
 * What output() sends first while a loss recovery is under way: in SACK-based
 * fast recovery, everything (returns true); in RACK's recovery after a
 * timeout, the segments marked lost as cwnd - pipe allows (returns false:
 * new data and the FIN follow as usual).
 */
export function recoverySend(x: TcpContext, tcb: Tcb, now: number): boolean {
  const sb = tcb.sb;
  if (sb === undefined) return false;
  if (sb.inRecovery && tcb.cc.inRecovery) {
    sackRecovery(x, tcb, now);
    return true;
  }
  const r = tcb.rack;
  if (r !== undefined && r.rtoRecovery && r.lostBytes > 0) sackRecovery(x, tcb, now);
  return false;
}

/**
 * SACK-based loss recovery (RFC 6675 5, step C): while PRR's quota (or, without
 * it, cwnd - pipe) has room for a segment, send what NextSeg() chooses: a lost
 * segment (by RACK's marks, or RFC 6675's IsLost()), new data, or (RFC 6675
 * only, rule 3) a hole not yet deemed lost. After a timeout (RACK) PRR has no
 * part: the window is cwnd - pipe.
 */
export function sackRecovery(x: TcpContext, tcb: Tcb, now: number): void {
  const sb = tcb.sb!;
  const r = tcb.rack;
  const prr = tcb.cc.inRecovery && tcb.cc.usesPrr ? tcb.prr : undefined;
  const mss = effectiveMss(tcb);
  for (let guard = 0; guard < 1024; guard++) {
    if (prr !== undefined ? prr.sndcnt <= 0 : tcb.cc.cwnd - pipeOf(tcb) < mss) {
      if (prr !== undefined && tcb.cc.cwnd - pipeOf(tcb) >= mss) {
        tcb.stats.prrLimitedSends++;
        x.counters.prrLimitedSends++;
      }
      break;
    }
    if (paceHeld(x, tcb, mss, now)) break;
    // The device is behind: what would go now waits for the batch to drain (output() resumes).
    if (txHeld(x, tcb)) break;
    const dataEnd = (tcb.sndUna + tcb.sendq.bytes) >>> 0;
    const edge = (tcb.sndWl2 + tcb.sndWnd) >>> 0;
    const canSendNew = tcb.sndNxt === tcb.sndMax && seqLt(tcb.sndMax, dataEnd) && seqLt(tcb.sndMax, edge) &&
      (tcb.finSeq < 0 || seqLt(tcb.sndMax, tcb.finSeq));
    let kind: number;
    if (r !== undefined) {
      kind = r.firstLost(tcb.sndUna) ? NextSeg.retransmitLost : canSendNew ? NextSeg.newData : NextSeg.none;
    } else {
      kind = sb.nextSeg(canSendNew);
    }
    if (kind === NextSeg.none) break;
    let sent: number;
    if (kind === NextSeg.newData) {
      // New data in whole segments, as many as the quota allows, in one large segment where the
      // device cuts them (per-segment work once per 64 KB in recovery too: under random loss a
      // connection spends much of its time there).
      const room = recoveryRoom(x, tcb, prr !== undefined ? prr.sndcnt : tcb.cc.cwnd - pipeOf(tcb), mss);
      const len = Math.min(room, (dataEnd - tcb.sndMax) >>> 0, (edge - tcb.sndMax) >>> 0);
      sent = len > mss
        ? sendLarge(x.out, tcb, tcb.sndMax, len, false, now)
        : x.out.sendData(tcb, tcb.sndMax, len, false, now);
      if (sent === 0) break;
      tcb.sndNxt = tcb.sndMax = (tcb.sndMax + sent) >>> 0;
      sb.sent(tcb.sndMax);
    } else if (r !== undefined) {
      const room = recoveryRoom(x, tcb, prr !== undefined ? prr.sndcnt : tcb.cc.cwnd - pipeOf(tcb), mss);
      sent = retransmitLost(x, tcb, r.segSeq, r.segEnd, room, mss, now);
      if (sent === 0) break;
    } else {
      // A hole: data (FIN included when the hole ends at it).
      const seq = sb.segSeq;
      let len = Math.min(sb.segLen, mss);
      const off = (seq - tcb.sndUna) >>> 0;
      const dataLeft = tcb.sendq.bytes - off;
      if (len > dataLeft) len = dataLeft > 0 ? dataLeft : 0;
      const fin = tcb.finSeq >= 0 && ((seq + len) >>> 0) === tcb.finSeq;
      sent = x.out.sendData(tcb, seq, len, fin, now);
      sb.retransmitted(seq, sent > 0 ? sent : 1);
      tcb.stats.retransSegs++;
      x.counters.retransSegs++;
    }
    prr?.sent(sent > 0 ? sent : 1);
    paced(tcb, sent, now);
    x.timers.armRetransmit(tcb, now);
  }
}

/**
 * The recovery after a retransmission timeout that was not (or is no longer)
 * taken for spurious (RFC 6298 5.4, RFC 5681 3.1). With RACK (RFC 8985 6.3):
 * the scoreboard keeps what was SACKed, RACK marks what the timeout shows
 * lost, and those segments go again as the window opens (recoverySend);
 * with `first`, the first of them goes now, one MSS of it. With RFC 6675
 * alone: back to SND.UNA (the scoreboard forgets its marks), and output()
 * resends from there. `first` is false where F-RTO already resent the first
 * segment at the timeout and the ACKs since show the timeout real.
 */
export function timeoutRecovery(x: TcpContext, tcb: Tcb, now: number, first: boolean): void {
  const rack = tcb.rack;
  if (tcb.sackOk) scoreboard(tcb).onRetransmitTimeout(rack !== undefined);
  if (rack !== undefined) {
    rack.timerKind = RackTimer.none;
    rack.tlpActive = false;
    rack.markLostOnRto(now);
    const lost = rack.takeNewlyLost();
    tcb.stats.rackLosses += lost;
    x.counters.rackLosses += lost;
    rack.rtoRecovery = true;
    rack.rtoRecoveryPoint = tcb.sndMax;
    // A new episode: the probes before the timeout went unanswered, and the timeout's
    // retransmission gets its own probe timeout (tlp.ts), the backed-off RTO behind it.
    rack.rttSinceProbe = true;
    rack.probesUnanswered = 0;
    if (first && retransmitFirstLost(x, tcb, now) > 0) {
      armRto(x, tcb, now);
      scheduleProbe(x, tcb, now);
    }
  } else {
    tcb.sndNxt = tcb.sndUna; // go back: resend from the first unacknowledged byte
    if (first) {
      tcb.stats.retransSegs++;
      x.counters.retransSegs++;
    }
  }
}
