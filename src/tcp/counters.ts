/**
 * Counters of the TCP layer (what `netstat -s` shows under Tcp: and TcpExt:).
 *
 * @module
 */

/** TCP layer counters. */
export class TcpCounters {
  activeOpens = 0;
  passiveOpens = 0;
  attemptFails = 0;
  estabResets = 0;
  currEstab = 0;
  inSegs = 0;
  /** Of the segments received, how many came chained: coalesced by the device, or longer than a buffer. */
  inChainedSegs = 0;
  /** The buffers (links) those spanned. */
  inChainedLinks = 0;
  /** Received segments whose payload ran past the receive window: the rest was dropped, to be sent again. */
  rcvWindowTrims = 0;
  /** ACKs sent in the middle of a receive burst so that every out-of-order range grown in it is SACKed (sack.ts wouldOverflow). */
  sackAcksEarly = 0;
  outSegs = 0;
  /** Of the segments sent, how many left as large ones for the device to cut (counted once each). */
  outLargeSegs = 0;
  retransSegs = 0;
  retransTimeouts = 0;
  inErrs = 0;
  outRsts = 0;
  /** Segments for a port nobody listens on. */
  noListener = 0;
  /** SYNs (and cookie ACKs) refused with a RST: the stack or the listener held its most connections. */
  connLimitRefused = 0;
  /** SYNs dropped: the backlog was full and cookies are off. */
  listenDrops = 0;
  synCookiesSent = 0;
  /** SYNs a full backlog dropped unanswered: the iteration's cookie budget was spent (syn_budget.ts). */
  synsShed = 0;
  /** Of synsShed, those shed because the cookie rate's bucket was empty (TcpConfig.synCookiesPerSecond). */
  synsShedByRate = 0;
  /** Shed SYNs whose retransmission went ahead of the flood and was answered (syn_retry.ts). */
  synRetriesAhead = 0;
  synCookiesAccepted = 0;
  synCookiesFailed = 0;
  challengeAcks = 0;
  challengeAcksSuppressed = 0;
  pawsDrops = 0;
  /** Segments without timestamps on a connection that agreed to them (RFC 7323 3.2). */
  noTimestampDrops = 0;
  timeWaitReused = 0;
  /** Segments not sent because the zone had no free buffer. */
  noBufferDrops = 0;
  /** Pure ACKs held back while the device's transmit batch was full, sent when it drained. */
  acksDeferred = 0;
  /** Loss probes that waited another PTO because the device's transmit batch was nearly full (tlp.ts). */
  probesHeld = 0;
  /**
   * Times a connection's data joined the queue for the transmit batch (context.ts txHeld): the
   * device was behind, or other connections already waited for it.
   */
  txWaits = 0;
  keepaliveTimeouts = 0;
  /** Connections aborted because queued data saw no acknowledgment within the user timeout. */
  userTimeouts = 0;
  /** Received payload dropped because the zone was nearly out of buffers (Linux TCPRcvQDrop). */
  poolPressureDrops = 0;
  /** Received payload dropped because its connection's unread data held its share of the zone (pool_pressure.ts). */
  rcvShareDrops = 0;
  /** Advertisements that held a receive window's right edge because the zone ran low (Linux TCPMemoryPressures). */
  poolPressureClamps = 0;
  /** Tail loss probes sent (RFC 8985 7.3). */
  tlpProbes = 0;
  /** Probes that repaired a loss (RFC 8985 7.4.2; Linux TCPLossProbeRecovery). */
  tlpRecoveries = 0;
  /** Segments RACK marked lost (RFC 8985 6.2 step 5, 6.3). */
  rackLosses = 0;
  /** ACKs that showed RACK reordering (RFC 8985 6.2 step 3; Linux TCPSACKReorder). */
  rackReorderDetected = 0;
  /** Times PRR held back a segment the congestion window would have let go (RFC 6937). */
  prrLimitedSends = 0;
  /** Restarts after idle that shrank the congestion window (RFC 5681 4.1). */
  idleRestarts = 0;
  /** Retransmission timeouts F-RTO found spurious and undid (RFC 5682; Linux TCPSpuriousRTOs). */
  spuriousRtos = 0;
  /** HyStart++ exits from slow start to Conservative Slow Start (RFC 9406). */
  hystartExits = 0;
  /** Connections that agreed on ECN in their handshake (RFC 3168 6.1.1). */
  ecnConnections = 0;
  /** ACKs received with ECE (RFC 3168 6.1.2). */
  eceIn = 0;
  /** Segments received marked CE, congestion experienced (RFC 3168 6.1.3; Linux TCPCEMarks). */
  ceMarksIn = 0;
  /** Segments sent with CWR (RFC 3168 6.1.2). */
  cwrOut = 0;
  /** Window reductions an ECN echo caused (RFC 3168 6.1.2, RFC 8257 3.3). */
  ecnReductions = 0;

  /** A plain copy, for stats. */
  snapshot(): Record<string, number> {
    return { ...this } as unknown as Record<string, number>;
  }
}
