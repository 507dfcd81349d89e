/**
 * Settings of the TCP layer, with their defaults and the RFC each comes from.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { CongestionName } from "./congestion.ts";
import { rtoInitialMs, rtoMaxMs, rtoMinLinuxMs } from "./rto.ts";

/**
 * ECN (RFC 3168) on new connections: "on" asks for it in SYNs and accepts it;
 * "passive" accepts it when the peer asks and does not ask (Linux's default,
 * tcp_ecn=2); "off" neither asks nor accepts.
 */
export type EcnMode = "on" | "passive" | "off";

/** Loss detection algorithms with SACK; see {@link TcpConfig.lossDetection}. */
export type LossDetection = "rack" | "rfc6675";

/** TCP settings; every field has a default (see {@link tcpDefaults}). */
export interface TcpConfig {
  /** Largest segment payload we receive, bytes: announced in our SYN (RFC 9293 3.7.1). */
  mss: number;
  /** Receive buffer per connection, bytes: bounds the advertised window. */
  rcvBufBytes: number;
  /** Send buffer per connection, bytes: how much unacknowledged and unsent data a connection holds. */
  sndBufBytes: number;
  /**
   * The most the send buffer grows to, bytes: a connection's send buffer is at least twice its
   * congestion window, up to this (Linux's tcp_sndbuf_expand up to tcp_wmem[2]); at or under
   * {@link sndBufBytes}, it does not grow. Where a stack's config sets sndBufBytes and not
   * this, the buffer keeps the size set (as Linux's SO_SNDBUF turns autotuning off).
   */
  sndBufBytesMax: number;
  /** Offer window scaling (RFC 7323 2). */
  windowScaling: boolean;
  /** Offer timestamps (RFC 7323 3). */
  timestamps: boolean;
  /** Offer SACK (RFC 2018). */
  sack: boolean;
  /** Congestion control for new connections. */
  congestion: CongestionName;
  /**
   * Loss detection with SACK: "rack" (RFC 8985 RACK-TLP: time-based, with tail
   * loss probes) or "rfc6675" (the DupThresh scoreboard alone, no probes).
   */
  lossDetection: LossDetection;
  /** ECN (RFC 3168): see {@link EcnMode}. */
  ecn: EcnMode;
  /** HyStart++ (RFC 9406) in each connection's first slow start. */
  hystart: boolean;
  /** F-RTO (RFC 5682): detect spurious retransmission timeouts and undo their window reduction. */
  frto: boolean;

  /** RTO bounds and initial value, ms (RFC 6298 2). */
  rtoMinMs: number;
  /** Most the RTO backs off to, ms. */
  rtoMaxMs: number;
  /** RTO before the first RTT sample, ms. */
  rtoInitialMs: number;
  /** Retransmissions of one segment before the connection is aborted (RFC 9293 3.8.3, R2). */
  maxRetransmits: number;
  /** Retransmissions of a SYN before an active open fails (RFC 9293 3.8.3, R2 for SYN). */
  synRetries: number;
  /** Delayed-ACK timer, ms (RFC 9293 3.8.6.3: under 0.5 s). */
  delayedAckMs: number;
  /** TIME-WAIT duration, 2 MSL, ms (RFC 9293 3.3.2; Linux uses 60 s). */
  timeWaitMs: number;
  /** Nagle's algorithm off (RFC 9293 3.7.4). */
  noDelay: boolean;
  /** Keepalive (RFC 9293 3.8.4, RFC 1122 4.2.3.6). */
  keepalive: boolean;
  /** Idle time before the first keepalive probe, ms. */
  keepaliveIdleMs: number;
  /** Time between keepalive probes, ms. */
  keepaliveIntervalMs: number;
  /** Unanswered probes before the connection is aborted. */
  keepaliveProbes: number;
  /** Out-of-order bytes held per connection. */
  reassemblyBytesMax: number;
  /** Out-of-order bytes held by all connections together. */
  reassemblyStackBytesMax: number;
  /** Connections waiting in a listener's accept queue, SYN-RECEIVED included; beyond: SYN cookies. */
  backlog: number;
  /** Answer SYNs with cookies when a backlog is full. */
  synCookies: boolean;
  /**
   * Cookie SYN-ACKs sent per loop iteration at most; the rest of the
   * iteration's cookie SYNs are dropped and counted (`synsShed`), so a flood
   * cannot starve established connections (syn_budget.ts), but a shed SYN
   * sent again goes ahead (syn_retry.ts). Infinity: no budget.
   */
  synCookiesPerPoll: number;
  /**
   * Cookie SYN-ACKs sent per second at most, a token bucket holding 10 ms of
   * them (syn_budget.ts): what a flood costs in transmits, whatever the poll
   * rate. SYNs beyond it are shed as beyond synCookiesPerPoll (counted in
   * `synsShed` and `synsShedByRate`). It bounds only while the stack holds
   * established connections (a stack with none has no one to protect).
   * Infinity: no bound. Default here Infinity; createStack bounds it on the
   * devices where a transmitted frame costs the stack's CPU the kernel's own
   * path (see synCookieRateDefault in src/api/config.ts).
   */
  synCookiesPerSecond: number;
  /** Challenge ACKs per second (RFC 5961 7). */
  challengeAckPerSecond: number;
  /**
   * Send large segments (up to 64 KB of payload behind one header) where the
   * device cuts them into MSS-sized ones itself (TSO, or the shim's GSO):
   * the per-segment work is done once per large segment.
   */
  segmentationOffload: boolean;
  /** Ephemeral ports for active opens. */
  ephemeralPortMin: number;
  /** Highest ephemeral port. */
  ephemeralPortMax: number;
  /**
   * Connections the stack holds at most (TIME-WAIT records not counted):
   * beyond it a SYN is refused with a RST and an active open throws.
   */
  maxConnections: number;
  /**
   * The user timeout (RFC 9293 3.8.3; Linux TCP_USER_TIMEOUT), ms: a
   * connection whose queued data sees no acknowledgment for this long (a
   * peer gone, or one that keeps its window shut) is aborted with a RST. 0: off.
   */
  userTimeoutMs: number;
}

/** The defaults. */
export const tcpDefaults: Readonly<TcpConfig> = {
  mss: 1460,
  rcvBufBytes: 1 << 20,
  sndBufBytes: 1 << 20,
  sndBufBytesMax: 4 << 20, // Linux's tcp_wmem[2]
  windowScaling: true,
  timestamps: true,
  sack: true,
  congestion: "cubic",
  lossDetection: "rack",
  ecn: "passive",
  hystart: true,
  frto: true,
  rtoMinMs: rtoMinLinuxMs,
  rtoMaxMs: rtoMaxMs,
  rtoInitialMs: rtoInitialMs,
  maxRetransmits: 15,
  synRetries: 6,
  delayedAckMs: 40,
  timeWaitMs: 60_000,
  noDelay: false,
  keepalive: false,
  keepaliveIdleMs: 7_200_000,
  keepaliveIntervalMs: 75_000,
  keepaliveProbes: 9,
  reassemblyBytesMax: 1 << 20,
  reassemblyStackBytesMax: 64 << 20,
  backlog: 128,
  synCookies: true,
  synCookiesPerPoll: 8,
  synCookiesPerSecond: Infinity,
  challengeAckPerSecond: 1000,
  segmentationOffload: true,
  ephemeralPortMin: 49152,
  ephemeralPortMax: 65535,
  maxConnections: 1 << 22,
  userTimeoutMs: 0,
};

/** Throws a ConfigError naming `ecn` unless it is undefined or an {@link EcnMode}. */
export function checkEcnMode(ecn: EcnMode | undefined): void {
  if (ecn !== undefined && ecn !== "on" && ecn !== "passive" && ecn !== "off") {
    throw new ConfigError("ecn", `expected "on", "passive" or "off", got ${JSON.stringify(ecn)}`);
  }
}
