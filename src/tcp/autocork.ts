/**
 * Corking small writes while data is in flight, as Linux's TCP autocorking
 * (tcp_autocorking) does: where the device cuts large segments, each write
 * of an application that writes a buffer at a time went out at once as a
 * packet of its own (one MSS), and a bulk sender paid the per-packet cost
 * the large segments were meant to save. With data in flight, nothing is
 * lost by waiting for the end of the loop's iteration: the writes of one
 * iteration leave together, as one large segment. With nothing in flight a
 * write goes at once (a request's answer is not delayed), and so does one
 * that fills a whole large segment.
 *
 * @module
 */
import type { Tcb } from "./tcb.ts";

/** The connections whose output waits for the end of the iteration. */
export class Corks {
  readonly #waiting = new Set<Tcb>();

  /**
   * Whether `c`'s output may wait: the device cuts large segments of `unit`
   * bytes, data is in flight, and less than `unit` is queued unsent.
   */
  static corkable(c: Tcb, unit: number, mss: number): boolean {
    if (unit <= mss || c.flight === 0) return false;
    const unsent = c.sendq.bytes - ((c.sndNxt - c.sndUna) >>> 0);
    return unsent < unit;
  }

  /** Holds `c`'s output until {@link flush}. */
  add(c: Tcb): void {
    this.#waiting.add(c);
  }

  /** Whether any output waits. */
  get pending(): boolean {
    return this.#waiting.size > 0;
  }

  /** Runs `output` for every connection that waits, once each. */
  flush(output: (c: Tcb) => void): void {
    if (this.#waiting.size === 0) return;
    for (const c of this.#waiting) {
      this.#waiting.delete(c);
      if (!c.dead) output(c);
    }
  }
}
