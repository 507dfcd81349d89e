/**
 * What the two sides' windows and segment sizes come to: the payload one
 * segment carries (RFC 9293 3.7.1 Eff.snd.MSS) and the window we advertise,
 * with receiver SWS avoidance (RFC 9293 3.8.6.2.2), the pool's shares
 * (pool_pressure.ts) and window scaling (RFC 7323 2.4).
 *
 * @module
 */
import { seqGt } from "../wire/mod.ts";
import { type PoolPressure, recvHeld, segmentBuffers } from "./pool_pressure.ts";
import type { Tcb } from "./tcb.ts";

/** Payload bytes per segment with the options every segment carries (RFC 9293 3.7.1 Eff.snd.MSS). */
export function effectiveMss(tcb: Tcb): number {
  return tcb.sndMss - (tcb.tsOk ? 12 : 0);
}

/**
 * Received payload bytes one buffer of the zone holds, at full segments: a
 * segment whose frame fits a buffer, or a segment's share of the buffers
 * its frame spans (a loopback-class MTU in chains of jumbo buffers: the
 * headers take room in the first, and the last is partly filled; 65469
 * bytes of payload in 8 buffers of 9024 is 8183 a buffer, not 9024).
 */
export function bytesPerBuffer(pool: PoolPressure, tcb: Tcb): number {
  const n = segmentBuffers(pool.bufferBytes, tcb);
  return n === 1 ? effectiveMss(tcb) : Math.floor(effectiveMss(tcb) / n);
}

/** The window to advertise now, bytes, with receiver SWS avoidance; never shrinks the right edge. */
export function receiveWindow(pool: PoolPressure, tcb: Tcb): number {
  const held = tcb.recvq.bytes + tcb.reassemblyBytes;
  let free = tcb.rcvBufBytes - held;
  if (free < 0) free = 0;
  const max = 65535 * (1 << tcb.rcvScale);
  if (free > max) free = max;
  // No connection's unread data takes more than its share of the zone (pool_pressure.ts):
  // the window offers at most a segment per buffer left of it (what a buffer holds, where a
  // segment spans several).
  const room = pool.recvShare() - recvHeld(tcb);
  const perBuffer = bytesPerBuffer(pool, tcb);
  if (free > room * perBuffer) free = room > 0 ? room * perBuffer : 0;
  let current = seqGt(tcb.rcvAdv, tcb.rcvNxt) ? (tcb.rcvAdv - tcb.rcvNxt) >>> 0 : 0;
  if (current > max) current = max;
  // RFC 9293 3.8.6.2.2: move the right edge only by at least min(buffer/2, MSS).
  if (free - current < Math.min(tcb.rcvBufBytes >>> 1, tcb.sndMss) && free < tcb.rcvBufBytes) {
    free = current;
  } else if (pool.tight && free > current) {
    // The zone runs low: hold the right edge where it is until buffers come back, but not
    // below four segments past RCV.NXT: a connection opened now must still get its request
    // in (a zero window here would wait for the whole zone to recover).
    pool.hold(tcb);
    const floor = 4 * tcb.sndMss;
    free = current >= floor ? current : Math.min(free, floor);
  }
  // Round down to what the scaled field can say, but never below the edge
  // already advertised: that one rounds up (RFC 7323 2.4, RFC 9293 3.8.6.2.2).
  const unit = (1 << tcb.rcvScale) - 1;
  free -= free & unit;
  if (free < current) free = (current + unit) & ~unit;
  return free;
}
