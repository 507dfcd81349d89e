/**
 * Opening a connection from the passive side: segments for a listener
 * (RFC 9293 3.10.7.2), SYN cookies when the backlog is full (RFC 4987 3.6),
 * the options a SYN settles (RFC 9293 3.7.1 MSS, RFC 7323 window scale and
 * timestamps, RFC 2018 SACK-permitted), and the answer to a segment that
 * has no connection (RFC 9293 3.10.7.1).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { seqGt, TcpFlags, type TcpPacket } from "../wire/mod.ts";
import type { CongestionName } from "./congestion.ts";
import { checkEcnMode, type EcnMode } from "./config.ts";
import type { TcpContext } from "./context.ts";
import { negotiateEcn } from "./ecn.ts";
import { segmentArrives } from "./input.ts";
import type { Segment } from "./segment.ts";
import { State } from "./state.ts";
import { SynAckTemplates } from "./syn_ack_template.ts";
import { SynBudget } from "./syn_budget.ts";
import { SynCookies } from "./syn_cookie.ts";
import { ShedMemory } from "./syn_retry.ts";
import { type Tcb, type TcpHandlers, tsNow } from "./tcb.ts";

/** The control bits that make a bare SYN. */
const bareSynMask = TcpFlags.syn | TcpFlags.ack | TcpFlags.rst | TcpFlags.fin;

/** A passive open. */
export interface Listener {
  readonly port: number;
  readonly backlog: number;
  /** Congestion control of its connections (default: the layer's). */
  congestion?: CongestionName;
  /** ECN mode of its connections (default: the layer's). */
  ecn?: EcnMode;
  /** Called when a connection to the port is established; returns its handlers. */
  onAccept: (c: Tcb) => TcpHandlers | void;
  /** Connections in SYN-RECEIVED. */
  halfOpen: number;
  /** Connections to the port it holds at most, half-open ones included (default: no limit of its own). */
  maxConnections?: number;
}

/** Smallest shift that lets a 16-bit window say `bytes` (RFC 7323 2.3: at most 14). */
export function scaleFor(bytes: number): number {
  let s = 0;
  while (s < 14 && 65535 * 2 ** s < bytes) s++;
  return s;
}

/** Applies the options of a SYN (or SYN-ACK) to a new connection (RFC 9293 3.7.1, RFC 7323, RFC 2018). */
export function negotiate(x: TcpContext, tcb: Tcb, seg: Segment, now: number): void {
  const o = seg.options;
  const c = x.config;
  tcb.rcvAdv = tcb.rcvNxt; // nothing advertised yet in this sequence space
  const peerMss = o.mss > 0 ? o.mss : 536; // RFC 9293 3.7.1: 536 when absent
  tcb.sndMss = Math.max(64, Math.min(peerMss, x.link.mtu - 40));
  if (c.windowScaling && o.windowScale >= 0) {
    tcb.sndScale = Math.min(o.windowScale, 14); // RFC 7323 2.3
    tcb.rcvScale = tcb.rcvScaleOffered;
  } else {
    tcb.sndScale = 0;
    tcb.rcvScale = 0;
  }
  tcb.tsOk = c.timestamps && o.timestamps;
  if (tcb.tsOk) {
    tcb.tsRecent = o.tsVal;
    tcb.tsRecentAge = now;
  }
  tcb.sackOk = c.sack && o.sackPermitted;
  negotiateEcn(x, tcb, seg);
  // The controller starts once the MSS is known (its initial window counts segments).
  tcb.cc = x.conns.congestionControl(tcb.congestion ?? c.congestion, tcb.sndMss, {
    sack: tcb.sackOk,
    hystart: c.hystart,
    rateSamples: tcb.sackOk && c.lossDetection === "rack", // RACK's log (BBR's model)
  });
  if (tcb.retransmits > 0) tcb.cc.onSynRetransmitted(); // RFC 5681 3.1, RFC 6928 2
}

/**
 * The peer's SYN again, in SYN-RECEIVED (our SYN|ACK was lost): it covers
 * Last.ACK.sent, so TS.Recent takes its TSval (RFC 7323 4.3; Linux updates a
 * request's ts_recent alike). Echoing the first SYN's TSval instead, in the
 * ACK this SYN draws and in the SYN|ACK that follows, has the peer time its
 * first RTT sample from that first SYN: a second or more, and an RTO of
 * seconds for the whole connection (a lost FIN then waits that long).
 */
export function synAgain(tcb: Tcb, seg: Segment, now: number): void {
  const o = seg.options;
  if (
    tcb.state !== State.synReceived || seg.seq !== tcb.irs || !seg.has(TcpFlags.syn) || seg.has(TcpFlags.ack)
  ) return;
  if (tcb.tsOk && o.timestamps && seqGt(o.tsVal, tcb.tsRecent)) {
    tcb.tsRecent = o.tsVal;
    tcb.tsRecentAge = now;
  }
}

/** The passive side of the handshake; see the module documentation. */
export class Handshake {
  /** Listeners by port. */
  readonly listeners = new Map<number, Listener>();
  private readonly _x: TcpContext;
  private readonly _cookies: SynCookies;
  private readonly _budget: SynBudget;
  private readonly _shed = new ShedMemory();
  private readonly _synAck: SynAckTemplates;

  /** `key`: the secret of the SYN cookies (16 bytes); random when absent. */
  constructor(x: TcpContext, key?: Uint8Array) {
    this._x = x;
    this._cookies = new SynCookies(key);
    this._budget = new SynBudget(x.config.synCookiesPerPoll, x.config.synCookiesPerSecond);
    const c = x.config;
    this._synAck = new SynAckTemplates(c.mss, Math.min(c.rcvBufBytes, 65535), scaleFor(c.rcvBufBytes));
  }

  /** A new loop iteration at `now`: the cookie budget is whole again, its bucket fills. */
  poll(now: number): void {
    // The cookie rate protects established connections: with none, the per-poll budget alone bounds.
    this._budget.refill(now, this._x.counters.currEstab > 0);
  }

  /**
   * Whether the segment `tcp` from `srcIp`, a bare SYN (neither ACK, RST nor
   * FIN; ECE and CWR may ride along), is shed before anything else is done
   * with it: this iteration's cookie budget or the cookie rate is spent and the port's listener
   * has a full backlog, so it would be shed anyway once parsed and looked up
   * (see syn_budget.ts). Counted in `synsShed`, and remembered: the same SYN
   * again, retransmitted, goes ahead of the flood (syn_retry.ts).
   */
  shedsEarly(tcp: TcpPacket, srcIp: number): boolean {
    if (!this._budget.spent || (tcp.flags & bareSynMask) !== TcpFlags.syn) return false;
    const l = this.listeners.get(tcp.dstPort);
    if (l === undefined || l.halfOpen < l.backlog || !this._x.config.synCookies) return false;
    const key = ShedMemory.key(srcIp, tcp.srcPort, tcp.dstPort, tcp.seq);
    if (this._shed.takeOrAdd(key)) {
      if (this._budget.grantRetry()) {
        this._x.counters.synRetriesAhead++;
        return false;
      }
      this._shed.add(key); // no retry granted now: shed again, and still remembered
    }
    this._countShed();
    return true;
  }

  /** Listens on `port`: connections to it are handed to `onAccept` once established (TcpLayer.listen). */
  listen(
    port: number,
    onAccept: Listener["onAccept"],
    backlog: number,
    congestion: CongestionName | undefined,
    maxConnections: number | undefined,
    ecn: EcnMode | undefined,
  ): Listener {
    checkEcnMode(ecn);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError("port", `expected 1..65535, got ${port}`);
    }
    if (maxConnections !== undefined && !(Number.isInteger(maxConnections) && maxConnections >= 1)) {
      throw new ConfigError("maxConnections", `expected an integer >= 1, got ${maxConnections}`);
    }
    if (this.listeners.has(port)) throw new ConfigError("port", `port ${port} is already listened on`);
    const l: Listener = { port, backlog, onAccept, halfOpen: 0, congestion, maxConnections, ecn };
    this.listeners.set(port, l);
    return l;
  }

  /** RFC 9293 3.10.7.2: a segment for a listener. Returns whether a connection kept its buffer. */
  listenInput(l: Listener, seg: Segment, now: number): boolean {
    const x = this._x;
    if (seg.has(TcpFlags.rst)) return false;
    if (seg.has(TcpFlags.ack)) {
      if (x.config.synCookies && !seg.has(TcpFlags.syn)) {
        const r = this._cookieAck(l, seg, now);
        if (r >= 0) return r === 1;
      }
      x.out.sendRstAck(seg, seg.ack, now);
      return false;
    }
    if (!seg.has(TcpFlags.syn)) return false;
    if (!x.conns.admits(l)) {
      // At the stack's or the listener's limit: refused at once, as a closed port refuses.
      x.counters.connLimitRefused++;
      x.out.sendRst(seg, 0, (seg.seq + seg.len) >>> 0, now);
      return false;
    }
    if (l.halfOpen >= l.backlog) {
      if (!x.config.synCookies) x.counters.listenDrops++;
      else if (this._budget.take()) this._cookieSynAck(seg, now);
      else {
        this._shed.add(ShedMemory.key(seg.srcIp, seg.srcPort, seg.dstPort, seg.seq));
        this._countShed();
      }
      return false;
    }
    const tcb = x.conns.create(seg.dstPort, seg.srcIp, seg.srcPort, false, now);
    tcb.listenerPort = l.port;
    tcb.congestion = l.congestion;
    tcb.ecn = l.ecn;
    l.halfOpen++;
    tcb.irs = seg.seq;
    tcb.rcvNxt = (seg.seq + 1) >>> 0;
    negotiate(x, tcb, seg, now);
    tcb.sndWnd = seg.wnd;
    tcb.maxSndWnd = seg.wnd;
    tcb.sndWl1 = seg.seq;
    tcb.state = State.synReceived;
    tcb.rttStart = now;
    x.counters.passiveOpens++;
    x.out.sendControl(tcb, TcpFlags.syn | TcpFlags.ack, tcb.iss, now);
    tcb.sndNxt = (tcb.iss + 1) >>> 0;
    tcb.sndMax = tcb.sndNxt;
    x.timers.armRetransmit(tcb, now);
    return false;
  }

  /** RFC 9293 3.10.7.1: no connection. RST unless the segment is one. */
  closedInput(seg: Segment, now: number): void {
    const x = this._x;
    x.counters.noListener++;
    if (seg.has(TcpFlags.rst)) return;
    if (seg.has(TcpFlags.ack)) x.out.sendRstAck(seg, seg.ack, now);
    else x.out.sendRst(seg, 0, (seg.seq + seg.len) >>> 0, now);
  }

  private _countShed(): void {
    const k = this._x.counters;
    k.synsShed++;
    if (this._budget.rateLimited) k.synsShedByRate++;
  }

  /** Answers a SYN with a cookie and keeps no state (the backlog is full), from a template. */
  private _cookieSynAck(seg: Segment, now: number): void {
    const x = this._x;
    const c = x.config;
    const o = seg.options;
    const zone = x.zone;
    const h = zone.tryTake();
    if (h < 0) {
      x.counters.noBufferDrops++;
      return;
    }
    const mss = Math.min(o.mss > 0 ? o.mss : 536, x.link.mtu - 40);
    const isn = this._cookies.isn(seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, seg.seq, mss, now);
    // Window scale and SACK ride in the TSval (RFC 4987 3.6); without timestamps they are lost.
    const ts = c.timestamps && o.timestamps;
    const ws = ts && c.windowScaling && o.windowScale >= 0;
    const sack = ts && c.sack && o.sackPermitted;
    const tsVal = ts ? this._cookies.tsval(tsNow(now), ws ? o.windowScale : -1, sack, false) : 0;
    const t = this._synAck;
    const off = t.write(
      zone,
      h,
      seg.dstPort,
      seg.srcPort,
      isn,
      (seg.seq + 1) >>> 0,
      ts,
      tsVal,
      o.tsVal,
      ws,
      sack,
    );
    x.counters.outSegs++;
    x.link.sendTcp(h, off, t.length(ts, ws, sack), seg.srcIp, now);
    x.counters.synCookiesSent++;
  }

  /**
   * The ACK that completes a cookie handshake: builds the connection from the
   * cookie. Returns -1 when it is no valid cookie, else 1 if the connection
   * kept the segment's buffer, 0 if not.
   */
  private _cookieAck(l: Listener, seg: Segment, now: number): number {
    const x = this._x;
    const c = x.config;
    const o = seg.options;
    const got = this._cookies.check(
      seg.dstIp,
      seg.dstPort,
      seg.srcIp,
      seg.srcPort,
      seg.seq,
      seg.ack,
      now,
      o.timestamps,
      o.tsEcr,
    );
    if (got === "invalid") {
      x.counters.synCookiesFailed++;
      return -1;
    }
    if (!x.conns.admits(l)) {
      x.counters.connLimitRefused++;
      x.out.sendRstAck(seg, seg.ack, now);
      return 0;
    }
    const tcb = x.conns.create(seg.dstPort, seg.srcIp, seg.srcPort, false, now);
    tcb.listenerPort = l.port;
    tcb.iss = (seg.ack - 1) >>> 0;
    tcb.sndUna = seg.ack;
    tcb.sndNxt = seg.ack;
    tcb.sndMax = seg.ack;
    tcb.irs = (seg.seq - 1) >>> 0;
    tcb.rcvNxt = seg.seq;
    tcb.rcvAdv = (seg.seq + Math.min(c.rcvBufBytes, 65535)) >>> 0;
    tcb.sndMss = Math.min(got.mss, x.link.mtu - 40);
    tcb.tsOk = got.timestamps;
    if (tcb.tsOk) {
      tcb.tsRecent = o.tsVal;
      tcb.tsRecentAge = now;
    }
    if (got.windowScale >= 0) {
      tcb.sndScale = Math.min(got.windowScale, 14);
      tcb.rcvScale = tcb.rcvScaleOffered;
    }
    tcb.sackOk = got.sackPermitted;
    // ECN is not remembered by the cookie: the connection goes without (RFC 3168 allows it).
    tcb.cc = x.conns.congestionControl(tcb.congestion ?? l.congestion ?? c.congestion, tcb.sndMss, {
      sack: tcb.sackOk,
      hystart: c.hystart,
      rateSamples: tcb.sackOk && c.lossDetection === "rack",
    });
    tcb.sndWnd = seg.wnd << tcb.sndScale;
    tcb.maxSndWnd = tcb.sndWnd;
    tcb.sndWl1 = seg.seq;
    tcb.sndWl2 = seg.ack;
    tcb.state = State.synReceived;
    l.halfOpen++;
    x.counters.synCookiesAccepted++;
    x.counters.passiveOpens++;
    // Through the SYN-RECEIVED arm: it becomes ESTABLISHED and takes any data.
    tcb.sndUna = (seg.ack - 1) >>> 0;
    return segmentArrives(x, tcb, seg, now) ? 1 : 0;
  }
}
