/**
 * Pacing: a connection whose controller sets a pacing rate (BBR) sends no
 * faster than it, in the run-to-completion loop, without a timer per
 * segment. Each connection keeps a release time ({@link Tcb.paceNext}):
 * a segment may leave when the release time has come, and moves it on by
 * the segment's length over the rate. A connection held back arms its
 * timer slot for the release time ({@link Tcb.paceAt}); the loop fires it
 * from its poll like any timer, and the connection sends again
 * (timers.ts). ACKs that arrive in between may send too, if the release
 * time has come.
 *
 * Granularity: the send quantum, about 1 ms of data at the rate (as Linux
 * sizes its TSO bursts for pacing). A large segment (TSO/GSO) is released
 * whole, and {@link pacedUnit} caps its size at the quantum; segments of
 * one MSS (a device without segmentation offload, retransmissions) leave in
 * bursts of up to a quantum, so that the timer fires once per quantum, not
 * per segment. Bursts on the wire last about a millisecond at most. The
 * timer wheel fires exact deadlines at the loop's next poll: on a polling
 * loop that is microseconds late; a sender held up longer (a busy loop, a
 * poll that slept) may catch up by at most {@link paceSlackMs} at once,
 * which bounds both the burst and the rate lost to late wake-ups.
 *
 * Nothing is allocated: two numbers per connection.
 *
 * @module
 */
import type { TcpContext } from "./context.ts";
import type { Tcb } from "./tcb.ts";

/** How far behind its schedule a paced sender may fall and catch up at once, ms. */
export const paceSlackMs = 1;

/**
 * Whether pacing holds `tcb` back at `now`, about to send segments of up to
 * `unit` bytes; if so its timer is armed for when it may send (a paced
 * connection sends again from the loop's poll). Segments smaller than the
 * send quantum may leave up to a quantum ahead of the release time, so that
 * they go in bursts of about a quantum, one timer per burst, not per segment.
 */
export function paceHeld(x: TcpContext, tcb: Tcb, unit: number, now: number): boolean {
  const rate = tcb.cc.pacingRate;
  if (rate <= 0) return false;
  const q = sendQuantum(rate, tcb.sndMss);
  const at = q > unit ? tcb.paceNext - (q - unit) / rate : tcb.paceNext;
  if (at <= now) return false;
  if (tcb.paceAt !== at) {
    tcb.paceAt = at;
    x.timers.rearm(tcb);
  }
  return true;
}

/** `bytes` left at `now`: the release time moves on by their time at the pacing rate. */
export function paced(tcb: Tcb, bytes: number, now: number): void {
  const rate = tcb.cc.pacingRate;
  if (rate <= 0) return;
  const from = tcb.paceNext > now - paceSlackMs ? tcb.paceNext : now - paceSlackMs;
  tcb.paceNext = from + bytes / rate;
}

/** The longest send quantum, bytes (64 KB: a large segment's most). */
export const sendQuantumMaxBytes = 65_536;

/**
 * The send quantum at `rate` bytes per ms (BBR draft 4.2.2, as Linux sizes
 * its TSO bursts): 1 ms of data, at least 2 segments, at most 64 KB.
 */
export function sendQuantum(rate: number, mss: number): number {
  const q = Math.floor(rate);
  return q < 2 * mss ? 2 * mss : q > sendQuantumMaxBytes ? sendQuantumMaxBytes : q;
}

/** The largest segment to send at once: `unit` (whole MSS), capped by the pacing send quantum. */
export function pacedUnit(tcb: Tcb, unit: number, mss: number): number {
  const rate = tcb.cc.pacingRate;
  if (rate <= 0 || unit <= mss) return unit;
  let q = sendQuantum(rate, mss);
  q -= q % mss;
  return q < unit ? q : unit;
}
