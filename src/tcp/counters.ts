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
  outSegs = 0;
  /** Of the segments sent, how many left as large ones for the device to cut (counted once each). */
  outLargeSegs = 0;
  retransSegs = 0;
  retransTimeouts = 0;
  inErrs = 0;
  outRsts = 0;
  /** Segments for a port nobody listens on. */
  noListener = 0;
  /** SYNs dropped: the backlog was full and cookies are off. */
  listenDrops = 0;
  synCookiesSent = 0;
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
  keepaliveTimeouts = 0;
  /** Received payload dropped because the zone was nearly out of buffers (Linux TCPRcvQDrop). */
  poolPressureDrops = 0;
  /** Advertisements that held a receive window's right edge because the zone ran low (Linux TCPMemoryPressures). */
  poolPressureClamps = 0;

  /** A plain copy, for stats. */
  snapshot(): Record<string, number> {
    return { ...this } as unknown as Record<string, number>;
  }
}
