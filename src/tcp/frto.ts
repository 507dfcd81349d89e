/**
 * F-RTO, RFC 5682: telling a spurious retransmission timeout (the segments
 * were only delayed: a path whose RTT jumped, a delayed-ACK burst) from a
 * real one, by what the two ACKs after the timeout say, and undoing the
 * window reduction of a spurious one.
 *
 * After the timeout only the first unacknowledged segment is sent again
 * (step 1), SND.NXT stays where it was, and "recover" remembers SND.MAX.
 * If the first ACK after it advances SND.UNA but not to "recover", up to two
 * segments of new data leave (step 2b); if the next ACK advances SND.UNA
 * again, it acknowledged data that was sent only once, before the timeout:
 * the timeout was spurious (step 3b), and cwnd and ssthresh return to what
 * they were (the congestion controller's undoTimeout). A duplicate ACK at
 * either step (with SACK, one that SACKs nothing new) sends the sender back
 * to the conventional recovery: go back to SND.UNA in slow start, RACK's and
 * the scoreboard's timeout marking (RFC 8985 6.3, RFC 6675 5.1).
 *
 * The SACK-enhanced variant (RFC 5682 3) differs at step 2: a duplicate ACK
 * that SACKs nothing new is waited out, and one that SACKs data below
 * "recover" counts as progress (that data was sent once).
 *
 * Karn's rule holds throughout: no RTT sample is taken from the
 * retransmitted segment (the timeout cleared the timed sequence number and
 * raised the timestamp floor).
 *
 * @module
 */
import { seqGe, seqLt } from "../wire/mod.ts";
import type { TcpContext } from "./context.ts";
import { effectiveMss } from "./window.ts";
import { timeoutRecovery } from "./recovery.ts";
import type { Tcb } from "./tcb.ts";

/** F-RTO's steps, as `Tcb.frtoStage`. */
export const FrtoStage = {
  none: 0,
  /** Step 1 done: the first segment was retransmitted; waiting for the first ACK. */
  afterTimeout: 1,
  /** Step 2b done: new data went out; waiting for the second ACK. */
  newDataSent: 2,
} as const;

/**
 * Whether the timeout that just fired may run F-RTO (RFC 5682 2.1 step 1):
 * it is on, this is the first timeout (not one within the recovery of an
 * earlier one), no loss recovery is under way, and new data waits to be sent.
 */
export function frtoEligible(x: TcpContext, tcb: Tcb): boolean {
  if (!x.config.frto || tcb.retransmits !== 1 || tcb.cc.inRecovery) return false;
  if (tcb.frtoStage !== FrtoStage.none) return false;
  return seqLt(tcb.sndMax, (tcb.sndUna + tcb.sendq.bytes) >>> 0) && tcb.finSeq < 0;
}

/**
 * RFC 5682 2.1 step 1: the timeout's retransmission is the first
 * unacknowledged segment alone; "recover" is SND.MAX. The controller has
 * already taken its reduction (and kept what to undo).
 */
export function frtoStart(x: TcpContext, tcb: Tcb, now: number): void {
  tcb.frtoStage = FrtoStage.afterTimeout;
  tcb.frtoRecover = tcb.sndMax;
  x.out.retransmitFirst(tcb, now);
  tcb.sb?.retransmitted(tcb.sndUna, Math.min(tcb.sendq.bytes, effectiveMss(tcb)));
}

/**
 * An ACK during F-RTO (RFC 5682 2.1 steps 2 and 3; 3.1 with SACK):
 * `advanced` whether it moved SND.UNA, `newlySacked` the bytes it SACKed first.
 */
export function frtoAck(x: TcpContext, tcb: Tcb, advanced: boolean, newlySacked: number, now: number): void {
  const stage = tcb.frtoStage;
  const progress = advanced || (tcb.sackOk && newlySacked > 0);
  if (stage === FrtoStage.afterTimeout) {
    if (!progress) {
      // 2a: a duplicate ACK; with SACK (3.1 2b) one that SACKs nothing new is waited out.
      if (!tcb.sackOk) conventional(x, tcb, now);
      return;
    }
    if (seqGe(tcb.sndUna, tcb.frtoRecover)) {
      // 2a: everything outstanding at the timeout is acknowledged: nothing tells which it was.
      tcb.frtoStage = FrtoStage.none;
      return;
    }
    // 2b: up to two segments of new data, whatever cwnd says.
    if (sendNew(x, tcb, 2, now) === 0) {
      conventional(x, tcb, now);
      return;
    }
    tcb.frtoStage = FrtoStage.newDataSent;
    return;
  }
  if (stage !== FrtoStage.newDataSent) return;
  tcb.frtoStage = FrtoStage.none;
  if (!advanced) {
    // 3a: a duplicate ACK: the timeout was real.
    conventional(x, tcb, now);
    return;
  }
  // 3b: SND.UNA advanced past data sent only once: the timeout was spurious.
  tcb.cc.undoTimeout(now);
  tcb.stats.spuriousRtos++;
  x.counters.spuriousRtos++;
}

/** The conventional recovery after a timeout (RFC 5681 3.1, RFC 6298 5.4; recovery.ts), in slow start. */
function conventional(x: TcpContext, tcb: Tcb, now: number): void {
  tcb.frtoStage = FrtoStage.none;
  timeoutRecovery(x, tcb, now, false);
}

/** Sends up to `segments` MSS-sized segments of new data within the peer's window; returns the bytes sent. */
function sendNew(x: TcpContext, tcb: Tcb, segments: number, now: number): number {
  const mss = effectiveMss(tcb);
  let total = 0;
  for (let i = 0; i < segments; i++) {
    const dataEnd = (tcb.sndUna + tcb.sendq.bytes) >>> 0;
    const edge = (tcb.sndWl2 + tcb.sndWnd) >>> 0;
    if (!seqLt(tcb.sndMax, dataEnd) || !seqLt(tcb.sndMax, edge)) break;
    const len = Math.min(mss, (dataEnd - tcb.sndMax) >>> 0, (edge - tcb.sndMax) >>> 0);
    const sent = x.out.sendData(tcb, tcb.sndMax, len, false, now);
    if (sent === 0) break;
    tcb.sndNxt = tcb.sndMax = (tcb.sndMax + sent) >>> 0;
    tcb.sb?.sent(tcb.sndMax);
    total += sent;
  }
  if (total > 0) x.timers.armRetransmit(tcb, now);
  return total;
}
