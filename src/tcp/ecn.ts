/**
 * Explicit Congestion Notification for TCP, RFC 3168 section 6.1: the
 * handshake that agrees on it (6.1.1: an ECN-setup SYN carries ECE and CWR,
 * the SYN-ACK that accepts it ECE alone), ECT(0) on new data (6.1.5: never on
 * retransmissions, pure ACKs, SYNs, RSTs or window probes), the receiver's
 * echo (6.1.3: CE seen, ECE on every ACK until a segment with CWR arrives),
 * and the sender's answer (6.1.2: ECE reduces the window once per window of
 * data, as a loss would but without a retransmission, and CWR goes on the
 * next new segment).
 *
 * With DCTCP as the connection's controller the receiver echoes CE exactly
 * instead (RFC 8257 3.2): ECE mirrors whether the last data segment carried
 * CE, CWR is ignored, and when the CE state changes while an ACK is being
 * delayed, that ACK leaves at once with the old state, so that the sender
 * can count the marked bytes.
 *
 * The IP layer reads the ECN field into `Segment.ecn` and writes the field
 * the sender passes with each segment (TcpLink.sendTcp's `ecn`).
 *
 * @module
 */
import { seqGe, TcpFlags } from "../wire/mod.ts";
import type { EcnMode } from "./config.ts";
import type { TcpContext } from "./context.ts";
import type { Segment } from "./segment.ts";
import type { Tcb } from "./tcb.ts";

/** ECN codepoints of the IP header (RFC 3168 5). */
export const EcnCodepoint = {
  notEct: 0,
  ect1: 1,
  ect0: 2,
  ce: 3,
} as const;

/** Bits of `Tcb.ecnState`. */
export const EcnState = {
  /** The receiver sets ECE on its ACKs (RFC 3168 6.1.3; RFC 8257 3.2's DCTCP.CE). */
  echo: 1,
  /** The sender reduced its window: CWR goes on the next new data segment (RFC 3168 6.1.2). */
  cwrOwed: 2,
} as const;

/** The connection's ECN mode: its own, or the layer's. */
export function ecnMode(x: TcpContext, tcb: Tcb): EcnMode {
  return tcb.ecn ?? x.config.ecn;
}

/**
 * The ECN bits of a SYN or SYN-ACK we send (RFC 3168 6.1.1): ECE|CWR on an
 * active open's first SYN when the mode is "on" (a retransmitted SYN asks no
 * more, as Linux does, in case a middlebox drops ECN-setup SYNs); ECE on the
 * SYN-ACK of a connection that agreed.
 */
export function synEcnFlags(x: TcpContext, tcb: Tcb, flags: number): number {
  if ((flags & TcpFlags.ack) !== 0) return tcb.ecnOk ? TcpFlags.ece : 0;
  return ecnMode(x, tcb) === "on" && tcb.retransmits === 0 ? TcpFlags.ece | TcpFlags.cwr : 0;
}

/** Settles ECN from the peer's SYN or SYN-ACK (RFC 3168 6.1.1). */
export function negotiateEcn(x: TcpContext, tcb: Tcb, seg: Segment): void {
  const mode = ecnMode(x, tcb);
  const ece = seg.has(TcpFlags.ece);
  const cwr = seg.has(TcpFlags.cwr);
  if (seg.has(TcpFlags.ack)) {
    // A SYN-ACK: ECE without CWR accepts what we asked for.
    tcb.ecnOk = mode === "on" && tcb.retransmits === 0 && ece && !cwr;
  } else {
    // A SYN: ECE and CWR ask for ECN; any mode but "off" accepts.
    tcb.ecnOk = mode !== "off" && ece && cwr;
  }
  tcb.ecnState = 0;
  if (tcb.ecnOk) x.counters.ecnConnections++;
}

/**
 * The receiver's side for a segment that arrived on an ECN connection, before
 * its text is processed: CE, and CWR (RFC 3168 6.1.3), or DCTCP's exact echo
 * (RFC 8257 3.2).
 */
export function ecnReceive(x: TcpContext, tcb: Tcb, seg: Segment, now: number): void {
  const ce = seg.ecn === EcnCodepoint.ce;
  if (ce) {
    tcb.stats.ceMarksIn++;
    x.counters.ceMarksIn++;
  }
  const echoing = (tcb.ecnState & EcnState.echo) !== 0;
  if (tcb.cc.name === "dctcp") {
    if (seg.payloadLen === 0 || ce === echoing) return;
    // RFC 8257 3.2: the CE state changes: an ACK owed for what came before leaves now, with the old state.
    if (tcb.unackedSegs > 0) x.out.sendAck(tcb, now);
    tcb.ecnState ^= EcnState.echo;
    tcb.ackNow = true;
    return;
  }
  // RFC 3168 6.1.3: CWR ends the echo, unless this very segment is marked again.
  if (seg.has(TcpFlags.cwr)) tcb.ecnState &= ~EcnState.echo;
  if (ce) tcb.ecnState |= EcnState.echo;
}

/**
 * The sender's side of an ACK on an ECN connection (RFC 3168 6.1.2, RFC 8257
 * 3.3): `delivered` is what it acknowledged, cumulatively or by SACK.
 */
export function ecnAck(x: TcpContext, tcb: Tcb, seg: Segment, delivered: number, now: number): void {
  const ece = seg.has(TcpFlags.ece);
  if (ece) {
    tcb.stats.eceIn++;
    x.counters.eceIn++;
  }
  if (tcb.cc.onEcnEcho(seg.ack, delivered, ece, tcb.flight, tcb.sndMax, now)) {
    tcb.ecnState |= EcnState.cwrOwed;
    tcb.stats.ecnReductions++;
    x.counters.ecnReductions++;
  }
}

/**
 * The ECN field of a data segment about to leave at `seq` with `len` bytes:
 * ECT(0) when the connection agreed on ECN and the data is new (RFC 3168
 * 6.1.5: retransmissions go Not-ECT). A CWR owed rides on it (sets it in
 * `flags`, returned with the codepoint in bits 8 and up).
 */
export function dataEcn(x: TcpContext, tcb: Tcb, seq: number, len: number, flags: number): number {
  if (!tcb.ecnOk || len === 0 || !seqGe(seq, tcb.sndMax)) return flags;
  if ((tcb.ecnState & EcnState.cwrOwed) !== 0) {
    tcb.ecnState &= ~EcnState.cwrOwed;
    flags |= TcpFlags.cwr;
    tcb.stats.cwrOut++;
    x.counters.cwrOut++;
  }
  return flags | (EcnCodepoint.ect0 << 8);
}
