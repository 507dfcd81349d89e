/**
 * The tail loss probe of RFC 8985 (section 7), and the one timer slot that
 * the RTO, RACK's reordering timer and the probe timeout share (section 8).
 *
 * After new data leaves, or an ACK acknowledges new data, outside recovery
 * and with nothing SACKed, the probe timeout (PTO = 2*SRTT + 2 ms, plus the worst
 * delayed ACK when one segment is in flight, never later than the RTO would
 * fire: 7.2) replaces the RTO. When it fires (7.3), one probe goes — new
 * data if the send queue and the peer's window have some, else the highest
 * segment again — unless a probe is already outstanding or no RTT sample came
 * since the last one; then the RTO is armed again, whatever happened. The
 * ACK of a retransmitted probe tells (7.4) whether it repaired a loss (the
 * window is reduced) or both copies arrived (a D-SACK, or a pure duplicate).
 *
 * Beyond RFC 8985, as QUIC's probe timeout (RFC 9002 6.2): an unanswered
 * probe is followed by more, each after twice the wait before ({@link tlpProbesMax}),
 * and in fast recovery the PTO is armed too, after each ACK that delivered
 * data, so that a recovery whose later ACKs are all lost probes (new data,
 * else the segment at SND.UNA) instead of waiting out the RTO. There a
 * probe's episode stays open until SND.UNA passes its end, so an RTT sample
 * since the last probe is what lets the next one go. The same recovery probe
 * follows a retransmission still in flight after its recovery ended, with
 * SACKed data above it (RFC 8985 allows no TLP there, and nothing else would
 * show it lost), and the retransmissions of the recovery after a timeout
 * (RFC 8985 6.3), from the timeout's own on. All keep the RTO behind them. Why: {@link tlpProbesMax} and
 * probeAllowed.
 *
 * @module
 */
import { seqGe, seqGt, seqLt } from "../wire/seq.ts";
import { type TcpContext, txRoomForData } from "./context.ts";
import { effectiveMss } from "./window.ts";
import { RackTimer } from "./rack.ts";
import { lossFlightSize, retransmitRange } from "./recovery.ts";
import { State } from "./state.ts";
import { inSackRecovery, type Tcb } from "./tcb.ts";

/**
 * WCDelAckT of RFC 8985 7.2: the worst delayed ACK a peer is assumed to take
 * when one segment is in flight, ms. The RFC recommends 200 ms; this stack
 * takes 50. Linux bounds its delayed ACK by the larger of its SRTT and
 * TCP_DELACK_MIN (40 ms) once it has an RTT estimate (tcp_send_delayed_ack),
 * and luna-ts delays 40 ms (`tcp.delayedAckMs`); 10 ms more covers a timer
 * tick. With 200 the PTO of a lone tail (the last, short segment of an
 * answer, alone in flight once the ACK of the rest came) was capped at the
 * RTO: in lossyrpc most of the tails that waited 200 ms and more were such
 * a segment, lost with or without its probe. A receiver that holds its ACK
 * longer (200 ms) gets a probe it did not need: one segment, and a D-SACK.
 */
export const tlpMaxAckDelayMs = 50;

/**
 * Added to 2*SRTT in the PTO, ms: on a path of a few microseconds 2*SRTT
 * alone is shorter than any receiver takes to ACK, and every flight would end
 * in a probe. Linux adds TCP_TIMEOUT_MIN (two ticks, 2 ms at 1000 Hz) the
 * same way. It was a floor of 10 ms, max(2*SRTT, 10): on a veth through 3%
 * loss each way, where a lost ACK leaves a small window's flight waiting for
 * the probe (some 40 to 60 of them in a 20 MB download), 8 interleaved
 * rounds of 20 MB took 2.15 s (median) with the floor and 0.79 s with 2 ms
 * added, every round faster.
 */
export const ptoMinMs = 2;

/** PTO before any RTT sample, ms (RFC 8985 7.2: TimeoutInit, RFC 6298's 1 s). */
export const ptoInitialMs = 1000;

/** Arms the connection's slot with RACK's reordering timer or the probe timeout (RFC 8985 8). */
export function armRackTimer(x: TcpContext, tcb: Tcb, kind: number, at: number): void {
  const r = tcb.rack!;
  r.timerKind = kind;
  r.timerAt = at;
  tcb.rtxAt = at;
  x.timers.rearm(tcb);
}

/** Arms the RTO in the slot, in place of a probe or reordering timer (RFC 6298 (5.1), (5.3)). */
export function armRto(x: TcpContext, tcb: Tcb, now: number): void {
  const r = tcb.rack;
  if (r !== undefined) r.timerKind = RackTimer.none;
  tcb.rtxAt = tcb.flight > 0 ? now + tcb.rto.rtoMs : Infinity;
  x.timers.rearm(tcb);
}

/**
 * Whether a loss probe may be scheduled now (RFC 8985 7.2), or, in fast
 * recovery, a recovery probe. RFC 8985 leaves recovery to the ACK clock and
 * RACK's reordering timer; when every ACK after the last one that arrived is
 * lost (with a small window, the one or two ACKs of a flight: measured on a
 * veth through 3% loss each way, most of luna-ts's timeouts), neither runs,
 * and the flight waits out an RTO of 200 ms on a path of 0.3 ms. In recovery
 * the probe timeout is therefore armed, as QUIC arms its PTO in every state
 * (RFC 9002 6.2), after each ACK that delivered data; the probe itself is
 * TLP's (7.3), once per RTT sample, and the RTO stays armed behind it.
 */
function probeAllowed(tcb: Tcb): boolean {
  const r = tcb.rack;
  if (r === undefined || tcb.flight === 0) return false;
  if (tcb.sndNxt !== tcb.sndMax) return false; // RTO recovery: going back over what was sent
  const s = tcb.state;
  if (
    s !== State.established && s !== State.closeWait && s !== State.finWait1 && s !== State.closing &&
    s !== State.lastAck
  ) {
    return false;
  }
  if (tcb.cc.inRecovery) return inSackRecovery(tcb); // fast recovery: a recovery probe
  // The recovery after a timeout (RFC 8985 6.3): when the timeout's retransmission is lost too,
  // or the last of those sent as the window opens, nothing sent after it is left to be delivered
  // for RACK to mark it, and it waited for the backed-off RTO (400 ms after a first of 200). A
  // recovery probe, as in fast recovery; the backed-off RTO stays behind it.
  if (r.rtoRecovery) return true;
  // SACKed data above a retransmission still in flight, recovery over (SND.UNA passed its
  // RecoveryPoint while a hole beyond it was being repaired): when that retransmission is lost
  // too, nothing sent after it is left to be delivered, so RACK cannot mark it and RFC 8985's
  // TLP (not with SACKed data) would leave it to the RTO. A recovery probe, as in recovery.
  if (r.segsSacked > 0) return r.retransInFlight();
  const sb = tcb.sb;
  return sb === undefined || (sb.sackedBytes === 0 && !seqLt(sb.highAck, sb.recoveryPoint));
}

/** TLP_calc_PTO() of RFC 8985 7.2, for a connection whose RTO would fire at `rtoAt`. */
export function probeTimeout(tcb: Tcb, now: number, rtoAt: number): number {
  let pto = ptoInitialMs;
  if (tcb.rto.hasSample) {
    pto = 2 * tcb.rto.srttMs + ptoMinMs;
    if (tcb.flight <= effectiveMss(tcb)) pto += tlpMaxAckDelayMs;
  }
  if (now + pto > rtoAt) pto = rtoAt - now;
  return pto > 0 ? pto : 0;
}

/**
 * RFC 8985 7.2: after new data left (not a probe), or an ACK acknowledged new
 * data, the probe timeout replaces the RTO if a probe is allowed.
 */
export function scheduleProbe(x: TcpContext, tcb: Tcb, now: number): void {
  const r = tcb.rack!;
  if (!probeAllowed(tcb)) {
    if (r.timerOf(tcb.rtxAt) === RackTimer.probe) armRto(x, tcb, now);
    return;
  }
  const rtoAt = tcb.rtxAt !== Infinity && r.timerOf(tcb.rtxAt) === RackTimer.none
    ? tcb.rtxAt
    : now + tcb.rto.rtoMs;
  armRackTimer(x, tcb, RackTimer.probe, now + probeTimeout(tcb, now, rtoAt));
}

/**
 * Probes one tail may get before the RTO: RFC 8985 7.3 allows one per RTT
 * sample. A receiver that acknowledges a flight with one ACK (Linux's does
 * when its reader takes the flight at once, as curl does) leaves a small
 * window's flight with one ACK, and the probe with one more: measured on a
 * veth through 3% loss each way, the probe's ACK lost too was what most of
 * luna-ts's timeouts were (a probe of new data outstanding, nothing SACKed,
 * 200 ms of silence on a path of 0.3 ms). Unanswered probes are followed by
 * more, each after twice the wait before it (2, 4, 8 PTOs), as QUIC's probe
 * timeout backs off and probes again (RFC 9002 6.2.1, 6.2.4), as long as one
 * goes within an RTO of the first (so on a path of 20 ms, two; on one of a
 * millisecond, four); the RTO stays armed behind the last.
 * Two were not enough: captured on both veths of the lossy lab at 3% loss,
 * the timeouts left were tails whose flight's ACK and the one ACK Linux
 * sent for both probes (it delays the ACK of the first, a lone segment,
 * until the second comes) were both dropped, the data all delivered.
 */
export const tlpProbesMax = 4;

/** TLP_send_probe() of RFC 8985 7.3: the probe timeout fired. */
export function probeTimerFired(x: TcpContext, tcb: Tcb, now: number): void {
  const r = tcb.rack!;
  if (x.link.txBehind() || x.link.txRoom() <= txRoomForData) {
    // The device is behind (it refused frames: the peer drains a full ring slower than we fill
    // it). What is in flight may not have left this host, so no ACK is overdue; a probe would
    // only queue behind it, and with the batch nearly full be dropped on the way out, as most of
    // the frames dropped at 256 storage connections over memif were. Linux sends no
    // retransmission while the packet is still in a host queue (TCPSpuriousRtxHostQueues). The
    // probe waits another PTO.
    x.counters.probesHeld++;
    armRackTimer(x, tcb, RackTimer.probe, now + Math.max(1, probeTimeout(tcb, now, now + tcb.rto.rtoMs)));
    return;
  }
  // In fast recovery an episode ends only once SND.UNA passes TLP.end_seq, after every hole is
  // repaired: an RTT sample since the probe (its ACK, or a later one) lets the next probe go, or a
  // retransmission lost whole after it (a large one, dropped as one packet) waits out the RTO.
  const recovering = tcb.cc.inRecovery || r.rtoRecovery;
  // An episode whose probes were all new data (7.4 has nothing to judge) gives way to a new one
  // after an RTT sample: a probe of new data lost whole, when only data before it was ACKed
  // after, is no segment RACK can mark (nothing after it delivered), and it waited for the RTO.
  const first = (!r.tlpActive || recovering || !r.tlpIsRetrans) && r.rttSinceProbe;
  const again = r.tlpActive && !r.rttSinceProbe && r.probesUnanswered > 0 &&
    r.probesUnanswered < tlpProbesMax;
  if ((first || again) && probeAllowed(tcb)) {
    const mss = effectiveMss(tcb);
    const dataEnd = (tcb.sndUna + tcb.sendq.bytes) >>> 0;
    const edge = (tcb.sndWl2 + tcb.sndWnd) >>> 0;
    let sent = 0;
    let retrans = false;
    if (tcb.finSeq < 0 && seqLt(tcb.sndMax, dataEnd) && seqLt(tcb.sndMax, edge)) {
      // The lowest unsent segment, if the receive window allows.
      const len = Math.min(mss, (dataEnd - tcb.sndMax) >>> 0, (edge - tcb.sndMax) >>> 0);
      sent = x.out.sendData(tcb, tcb.sndMax, len, false, now);
      if (sent > 0) {
        tcb.sndNxt = tcb.sndMax = (tcb.sndMax + sent) >>> 0;
        tcb.sb?.sent(tcb.sndMax);
      }
    }
    if (sent === 0 && (recovering || r.segsSacked > 0)) {
      // In recovery (or with SACKed data after it, see probeAllowed) the highest segment is
      // likely SACKed: the one at SND.UNA again (its retransmission may be what was lost; if
      // not, the ACK of the copy ends the recovery).
      const end = ((tcb.sndMax - tcb.sndUna) >>> 0) > mss ? (tcb.sndUna + mss) >>> 0 : tcb.sndMax;
      sent = retransmitRange(x, tcb, tcb.sndUna, end, now);
      retrans = true;
    } else if (sent === 0 && r.last()) {
      // Else the highest segment sent, again: its last MSS (a large segment's tail).
      const seq = ((r.segEnd - r.segSeq) >>> 0) > mss ? (r.segEnd - mss) >>> 0 : r.segSeq;
      sent = retransmitRange(x, tcb, seq, r.segEnd, now);
      retrans = true;
    }
    if (sent > 0) {
      // One episode (7.4) for all its probes: a retransmission in it may have repaired a loss. Not
      // after a timeout: the window was reduced then, and a repair is no loss of its own.
      if (r.rtoRecovery) retrans = false;
      r.tlpIsRetrans = first ? retrans : r.tlpIsRetrans || retrans;
      r.tlpActive = true;
      r.tlpEndSeq = tcb.sndNxt;
      r.rttSinceProbe = false;
      if (r.probesUnanswered++ === 0) r.firstProbeAt = now;
      tcb.stats.tlpProbes++;
      x.counters.tlpProbes++;
      if (r.probesUnanswered < tlpProbesMax) {
        const rtoAt = now + tcb.rto.rtoMs;
        const at = now + (1 << r.probesUnanswered) * probeTimeout(tcb, now, rtoAt);
        if (at < r.firstProbeAt + tcb.rto.rtoMs) {
          armRackTimer(x, tcb, RackTimer.probe, at);
          return;
        }
      }
    }
  }
  armRto(x, tcb, now); // the RTO stays the last resort, whether a probe went or not
}

/**
 * TLP_process_ack() of RFC 8985 7.4: the ACK `ack` of a retransmitted probe
 * tells whether it repaired a loss (then the window is reduced, as a loss
 * recovery would have) or was unneeded. `advanced`: the ACK moved SND.UNA;
 * `sacked`: it carried SACK blocks; `dsackEnd`: the end of its D-SACK block, or -1.
 */
export function probeAcked(
  x: TcpContext,
  tcb: Tcb,
  ack: number,
  advanced: boolean,
  sacked: boolean,
  dsackEnd: number,
  now: number,
): void {
  const r = tcb.rack!;
  if (!r.tlpActive || seqLt(ack, r.tlpEndSeq)) return;
  if (!r.tlpIsRetrans) {
    r.tlpActive = false; // a probe of new data was delivered
  } else if (dsackEnd >= 0 && seqGe(dsackEnd, r.tlpEndSeq)) {
    r.tlpActive = false; // the D-SACK says both copies arrived: no loss
  } else if (seqGt(ack, r.tlpEndSeq)) {
    // The probe repaired a loss (RFC 8985 7.4.2): reduce the window as a recovery would.
    r.tlpActive = false;
    if (!tcb.cc.inRecovery) {
      tcb.cc.enterRecovery(now, tcb.flight, tcb.sndNxt, lossFlightSize(tcb));
      tcb.cc.exitRecovery(now, tcb.flight);
    }
    tcb.stats.tlpRecoveries++;
    x.counters.tlpRecoveries++;
  } else if (!advanced && !sacked) {
    r.tlpActive = false; // a pure duplicate ACK: the original and the probe both arrived
  }
}
