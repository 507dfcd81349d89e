/**
 * A hashed timing wheel (Varghese and Lauck, "Hashed and Hierarchical Timing
 * Wheels", SOSP 1987, scheme 6) holding one timer slot per connection, for
 * the timers of RFC 9293 (3.8: retransmission, TIME-WAIT, keepalive, ...),
 * RFC 6298 (5, the retransmission timer) and RFC 1122 (4.2.3.2, delayed ACK).
 * What each timer is for is the caller's business: a control block keeps the
 * earliest of its deadlines here and, when it fires, sorts out which of its
 * own deadlines are due.
 *
 * Connections are small integer ids (0 .. capacity-1). Timers are linked
 * into per-slot doubly linked lists kept in typed arrays: arm, cancel and
 * re-arm are O(1) and allocate nothing. A timer due at `deadline` hangs in
 * slot `floor(deadline / tickMs) mod slotCount`; timers more than one
 * revolution away stay in their slot and are skipped until their round comes
 * (their deadline is compared on each pass).
 *
 * Firing is exact, never early: {@link TimerWheel.advance} fires every timer
 * whose deadline is at or before `now`, so a timer fires at the first advance
 * whose `now` reaches its deadline. {@link TimerWheel.nextDeadline} answers
 * exactly when the next timer is due (cached; recomputed after the earliest
 * timer fires or is cancelled by walking the non-empty slots).
 *
 * Time comes in as `now` (milliseconds, float allowed, never negative); the
 * clock is never read here.
 *
 * @example
 * ```ts
 * import { TimerWheel } from "./timer_wheel.ts";
 * const wheel = new TimerWheel(1024); // ids 0..1023, 1 ms ticks, 4096 slots
 * wheel.arm(7, 200); // connection 7 is due at t = 200 ms
 * wheel.nextDeadline(); // 200
 * const onExpire = (id: number) => console.log("timer of", id); // one function, made once
 * wheel.advance(250, onExpire); // logs "timer of 7"
 * ```
 *
 * @module
 */

/** Default tick: 1 ms, the finest deadline granularity the slots sort by. */
export const timerTickMsDefault = 1;

/** Default slot count: 4096 slots of 1 ms make one revolution 4.096 s (a power of two). */
export const timerSlotCountDefault = 4096;

/** Options of a {@link TimerWheel}. */
export interface TimerWheelOptions {
  /** Width of a slot, ms. Default {@link timerTickMsDefault}. */
  tickMs?: number;
  /** Number of slots, a power of two, at least 32. Default {@link timerSlotCountDefault}. */
  slotCount?: number;
  /** The time the wheel starts at, ms. Default 0. */
  now?: number;
}

const none = -1;

/** A hashed timing wheel with one timer per id; see the module documentation. */
export class TimerWheel {
  /** Width of a slot, ms. */
  readonly tickMs: number;
  /** Number of slots. */
  readonly slotCount: number;
  #capacity: number;
  #mask: number;
  // Per slot: first timer of its list, and one bit per slot for "non-empty".
  #heads: Int32Array;
  #bits: Uint32Array;
  // Per id: list links, slot (none = not armed), deadline and tick.
  #next: Int32Array;
  #prev: Int32Array;
  #slot: Int32Array;
  #deadline: Float64Array;
  #tick: Float64Array;
  // Every armed timer has tick >= #baseTick; the slot of #baseTick is the first scanned.
  #baseTick: number;
  #count = 0;
  // The next timer a scan in progress visits; cancel() moves it past a timer it unlinks.
  #cursor = none;
  #advancing = false;
  // Earliest deadline, valid when #minValid.
  #min = Infinity;
  #minValid = true;

  /** A wheel for ids 0 .. `capacity`-1, with no timer armed. */
  constructor(capacity: number, options: TimerWheelOptions = {}) {
    const slotCount = options.slotCount ?? timerSlotCountDefault;
    const tickMs = options.tickMs ?? timerTickMsDefault;
    if (!Number.isInteger(slotCount) || slotCount < 32 || (slotCount & (slotCount - 1)) !== 0) {
      throw new RangeError(`slotCount must be a power of two >= 32, got ${slotCount}`);
    }
    if (!(tickMs > 0)) throw new RangeError(`tickMs must be > 0, got ${tickMs}`);
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`bad capacity ${capacity}`);
    this.tickMs = tickMs;
    this.slotCount = slotCount;
    this.#mask = slotCount - 1;
    this.#heads = new Int32Array(slotCount).fill(none);
    this.#bits = new Uint32Array(slotCount >>> 5);
    this.#capacity = capacity;
    this.#next = new Int32Array(capacity);
    this.#prev = new Int32Array(capacity);
    this.#slot = new Int32Array(capacity).fill(none);
    this.#deadline = new Float64Array(capacity);
    this.#tick = new Float64Array(capacity);
    this.#baseTick = Math.floor((options.now ?? 0) / tickMs);
  }

  /** Number of ids the wheel holds timers for. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Number of timers armed. */
  get size(): number {
    return this.#count;
  }

  /** Makes room for ids up to `capacity`-1 (allocates; not for the hot path). */
  grow(capacity: number): void {
    if (capacity <= this.#capacity) return;
    const grown = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T, fill: number): T => {
      const b = make(capacity);
      b.fill(fill);
      b.set(a);
      return b;
    };
    this.#next = grown(this.#next, (n) => new Int32Array(n), none);
    this.#prev = grown(this.#prev, (n) => new Int32Array(n), none);
    this.#slot = grown(this.#slot, (n) => new Int32Array(n), none);
    this.#deadline = grown(this.#deadline, (n) => new Float64Array(n), 0);
    this.#tick = grown(this.#tick, (n) => new Float64Array(n), 0);
    this.#capacity = capacity;
  }

  /**
   * Arms the timer of `id` for `deadline` (ms), replacing any deadline it had.
   * A deadline already past fires at the next {@link advance}.
   */
  arm(id: number, deadline: number): void {
    if (!(id >= 0 && id < this.#capacity)) {
      throw new RangeError(`timer id ${id} outside 0..${this.#capacity - 1}`);
    }
    if (this.#slot[id] !== none) this.#unlink(id);
    let t = Math.floor(deadline / this.tickMs);
    if (!(t >= this.#baseTick)) t = this.#baseTick; // also catches NaN
    const s = this.#slotOf(t);
    const head = this.#heads[s];
    this.#next[id] = head;
    this.#prev[id] = none;
    if (head !== none) this.#prev[head] = id;
    else this.#bits[s >>> 5] |= 1 << (s & 31);
    this.#heads[s] = id;
    this.#slot[id] = s;
    this.#tick[id] = t;
    this.#deadline[id] = deadline;
    this.#count++;
    if (this.#minValid && deadline < this.#min) this.#min = deadline;
  }

  /** Disarms the timer of `id`; nothing happens if it is not armed. */
  cancel(id: number): void {
    if (this.isArmed(id)) this.#unlink(id);
  }

  /** Whether the timer of `id` is armed (false for an id outside the wheel). */
  isArmed(id: number): boolean {
    return id >= 0 && id < this.#capacity && this.#slot[id] !== none;
  }

  /** The deadline the timer of `id` is armed for, or Infinity when it is not armed. */
  deadlineOf(id: number): number {
    return this.isArmed(id) ? this.#deadline[id] : Infinity;
  }

  /**
   * Fires, once each, every timer whose deadline is at or before `now`: each
   * is disarmed, then `onExpire(id)` is called. Call once per loop iteration
   * with a function made once (not a new closure per call). `onExpire` may
   * arm and cancel any timer, its own included; a timer it arms for a time
   * already past may fire in this call or at the next. Returns the number
   * fired. Timers fire in tick order unless `now` jumped more than a
   * revolution, and in no particular order within a tick.
   */
  advance(now: number, onExpire: (id: number) => void): number {
    if (this.#advancing) throw new Error("TimerWheel.advance is not reentrant");
    let nowTick = Math.floor(now / this.tickMs);
    const from = this.#baseTick;
    if (!(nowTick >= from)) nowTick = from; // the clock stood still or stepped back
    // The current tick stays the base: it may get more timers before it ends.
    this.#baseTick = nowTick;
    let steps = nowTick - from + 1;
    if (steps > this.slotCount) steps = this.slotCount;
    const start = this.#slotOf(from);
    let fired = 0;
    this.#advancing = true;
    try {
      let k = 0;
      while (k < steps) {
        const d = this.#nextNonEmpty((start + k) & this.#mask, steps - k);
        if (d < 0) break;
        k += d;
        this.#cursor = this.#heads[(start + k) & this.#mask];
        while (this.#cursor !== none) {
          const id = this.#cursor;
          this.#cursor = this.#next[id];
          if (this.#deadline[id] <= now) {
            this.#unlink(id);
            fired++;
            onExpire(id);
          }
        }
        k++;
      }
    } finally {
      this.#cursor = none;
      this.#advancing = false;
    }
    return fired;
  }

  /** When the next timer is due, ms (exact), or Infinity when none is armed. */
  nextDeadline(): number {
    if (this.#count === 0) return Infinity;
    if (!this.#minValid) {
      this.#min = this.#computeMin();
      this.#minValid = true;
    }
    return this.#min;
  }

  /** Alias of {@link nextDeadline}: when the loop must call {@link advance} next. */
  pollAt(): number {
    return this.nextDeadline();
  }

  /** How long the loop may sleep from `now` before the next timer is due, ms (0 if one is due). */
  pollDelay(now: number): number {
    const d = this.nextDeadline() - now;
    return d > 0 ? d : 0;
  }

  // The earliest deadline: walks the slots from the base tick; the first slot
  // holding a timer of its own round has the answer, else (all timers are a
  // revolution or more away) the minimum over every timer, all of them seen.
  #computeMin(): number {
    let min = Infinity;
    let k = 0;
    const base = this.#baseTick;
    const start = this.#slotOf(base);
    while (k < this.slotCount) {
      const d = this.#nextNonEmpty((start + k) & this.#mask, this.slotCount - k);
      if (d < 0) break;
      k += d;
      const t = base + k;
      let round = Infinity;
      for (let id = this.#heads[(start + k) & this.#mask]; id !== none; id = this.#next[id]) {
        const deadline = this.#deadline[id];
        if (deadline < min) min = deadline;
        if (this.#tick[id] <= t && deadline < round) round = deadline;
      }
      if (round !== Infinity) return round;
      k++;
    }
    return min;
  }

  // Distance (0 .. limit-1) from slot `s` to the first non-empty slot, wrapping; -1 if none.
  #nextNonEmpty(s: number, limit: number): number {
    let dist = 0;
    while (dist < limit) {
      const b = s & 31;
      const m = this.#bits[s >>> 5] >>> b;
      if (m !== 0) {
        const d = dist + (31 - Math.clz32(m & -m));
        return d < limit ? d : -1;
      }
      dist += 32 - b;
      s = (s + 32 - b) & this.#mask;
    }
    return -1;
  }

  #unlink(id: number): void {
    const s = this.#slot[id];
    const p = this.#prev[id];
    const n = this.#next[id];
    if (id === this.#cursor) this.#cursor = n;
    if (p !== none) this.#next[p] = n;
    else {
      this.#heads[s] = n;
      if (n === none) this.#bits[s >>> 5] &= ~(1 << (s & 31));
    }
    if (n !== none) this.#prev[n] = p;
    this.#slot[id] = none;
    this.#count--;
    if (this.#count === 0) {
      this.#min = Infinity;
      this.#minValid = true;
    } else if (this.#deadline[id] <= this.#min) {
      // The earliest timer left: the cached minimum must be found again.
      this.#minValid = false;
    }
  }

  #slotOf(tick: number): number {
    const s = tick % this.slotCount;
    return s < 0 ? s + this.slotCount : s;
  }
}
