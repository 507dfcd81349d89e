/**
 * One row per connection for `luna conns`: what `ss -tin` shows of a Linux
 * socket, read from the connection's control block.
 *
 * @module
 */
import { Bbr, type BbrInfo } from "../tcp/bbr.ts";
import { stateName } from "../tcp/state.ts";
import type { Tcb } from "../tcp/tcb.ts";
import { formatIpv4 } from "../wire/mod.ts";

/** A connection as `luna conns` prints it. */
export interface ConnRow {
  state: string;
  local: string;
  remote: string;
  /** Smoothed round-trip time and its variation (RFC 6298), ms. */
  rttMs: number;
  rttvarMs: number;
  rtoMs: number;
  mss: number;
  /** Congestion window and slow-start threshold, bytes. */
  cwnd: number;
  ssthresh: number;
  /** Bytes sent and not yet acknowledged. */
  inFlight: number;
  /** Bytes queued to send (unsent and unacknowledged), and received but unread. */
  sendQueue: number;
  recvQueue: number;
  /** The peer's window, bytes. */
  sndWnd: number;
  segsIn: number;
  segsOut: number;
  bytesAcked: number;
  bytesReceived: number;
  retransSegs: number;
  retransTimeouts: number;
  congestion: string;
  /** BBR's model, with BBR. */
  bbr?: BbrInfo;
}

/** The state names a `--state` filter may use, lowercase (`established`, `syn-received`, ...). */
export const stateNames: string[] = Array.from({ length: 11 }, (_, i) => stateName(i as never).toLowerCase());

/** A filter on rows: a state name (lowercase), a port at either end. */
export interface ConnFilter {
  state?: string;
  port?: number;
}

/** Whether `t` passes `f`. */
export function connMatches(t: Tcb, f: ConnFilter): boolean {
  if (f.port !== undefined && t.localPort !== f.port && t.remotePort !== f.port) return false;
  if (f.state !== undefined && stateName(t.state).toLowerCase() !== f.state) return false;
  return true;
}

/** The row of `t`. */
export function connRow(t: Tcb): ConnRow {
  return {
    state: stateName(t.state),
    local: `${formatIpv4(t.localIp)}:${t.localPort}`,
    remote: `${formatIpv4(t.remoteIp)}:${t.remotePort}`,
    rttMs: t.rto.srttMs,
    rttvarMs: t.rto.rttvarMs,
    rtoMs: t.rto.rtoMs,
    mss: t.sndMss,
    cwnd: t.cc.cwnd,
    ssthresh: t.cc.ssthresh,
    inFlight: t.flight,
    sendQueue: t.sendq.bytes,
    recvQueue: t.recvq.bytes,
    sndWnd: t.sndWnd,
    segsIn: t.stats.segsIn,
    segsOut: t.stats.segsOut,
    bytesAcked: t.stats.bytesAcked,
    bytesReceived: t.stats.bytesReceived,
    retransSegs: t.stats.retransSegs,
    retransTimeouts: t.stats.retransTimeouts,
    congestion: t.cc.name,
    ...(t.cc instanceof Bbr ? { bbr: t.cc.info() } : {}),
  };
}
