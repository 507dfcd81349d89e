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

/**
 * The connections whose output waits for the end of the iteration: a list,
 * each connection in it once, which its bit in Tcb.waitBits says (no set
 * hashed into and out of for each request).
 */
export class Corks {
  readonly #waiting: Tcb[] = [];
  readonly #bit: number;

  /** `bit`: the bit of Tcb.waitBits that says a connection is in this list (one per list). */
  constructor(bit: number) {
    this.#bit = bit;
  }

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
    if ((c.waitBits & this.#bit) !== 0) return;
    c.waitBits |= this.#bit;
    this.#waiting.push(c);
  }

  /** Whether any output waits. */
  get pending(): boolean {
    return this.#waiting.length > 0;
  }

  /** Runs `output` for every connection that waits, once each (those added meanwhile included). */
  flush(output: (c: Tcb) => void): void {
    const w = this.#waiting;
    if (w.length === 0) return;
    let i = 0;
    try {
      for (; i < w.length; i++) {
        const c = w[i];
        c.waitBits &= ~this.#bit;
        if (!c.dead) output(c);
      }
    } catch (e) {
      w.splice(0, i + 1); // the ones not reached still wait
      throw e;
    }
    w.length = 0;
  }
}
