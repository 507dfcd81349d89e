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
  private _capacity: number;
  private _mask: number;
  // Per slot: first timer of its list, and one bit per slot for "non-empty".
  private _heads: Int32Array;
  private _bits: Uint32Array;
  // Per id: list links, slot (none = not armed), deadline and tick.
  private _next: Int32Array;
  private _prev: Int32Array;
  private _slot: Int32Array;
  private _deadline: Float64Array;
  private _tick: Float64Array;
  // Every armed timer has tick >= _baseTick; the slot of _baseTick is the first scanned.
  private _baseTick: number;
  private _count = 0;
  // The next timer a scan in progress visits; cancel() moves it past a timer it unlinks.
  private _cursor = none;
  private _advancing = false;
  // No armed timer of the base tick is due before this: advance() within that tick
  // returns at once until `now` reaches it (the loop calls advance on every poll).
  private _tickMin = -Infinity;
  // Earliest deadline, valid when _minValid.
  private _min = Infinity;
  private _minValid = true;

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
    this._mask = slotCount - 1;
    this._heads = new Int32Array(slotCount).fill(none);
    this._bits = new Uint32Array(slotCount >>> 5);
    this._capacity = capacity;
    this._next = new Int32Array(capacity);
    this._prev = new Int32Array(capacity);
    this._slot = new Int32Array(capacity).fill(none);
    this._deadline = new Float64Array(capacity);
    this._tick = new Float64Array(capacity);
    this._baseTick = Math.floor((options.now ?? 0) / tickMs);
  }

  /** Number of ids the wheel holds timers for. */
  get capacity(): number {
    return this._capacity;
  }

  /** Number of timers armed. */
  get size(): number {
    return this._count;
  }

  /** Bytes of the slots and the per-id arrays, as allocated. */
  get bytes(): number {
    return this._heads.byteLength + this._bits.byteLength + this._next.byteLength + this._prev.byteLength +
      this._slot.byteLength + this._deadline.byteLength + this._tick.byteLength;
  }

  /**
   * Makes the wheel hold ids 0 .. `capacity`-1, growing or shrinking its
   * per-id arrays (allocates; not for the hot path). Shrinking below an id
   * whose timer is armed is refused.
   */
  resize(capacity: number): void {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`bad capacity ${capacity}`);
    if (capacity === this._capacity) return;
    for (let id = capacity; id < this._capacity; id++) {
      if (this._slot[id] !== none) {
        throw new RangeError(`timer id ${id} is armed: cannot shrink to ${capacity}`);
      }
    }
    const n = Math.min(capacity, this._capacity);
    const resized = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T, fill: number): T => {
      const b = make(capacity);
      if (capacity > n) b.fill(fill, n);
      b.set(a.subarray(0, n));
      return b;
    };
    this._next = resized(this._next, (n) => new Int32Array(n), none);
    this._prev = resized(this._prev, (n) => new Int32Array(n), none);
    this._slot = resized(this._slot, (n) => new Int32Array(n), none);
    this._deadline = resized(this._deadline, (n) => new Float64Array(n), 0);
    this._tick = resized(this._tick, (n) => new Float64Array(n), 0);
    this._capacity = capacity;
  }

  /**
   * Arms the timer of `id` for `deadline` (ms), replacing any deadline it had.
   * A deadline already past fires at the next {@link advance}.
   */
  arm(id: number, deadline: number): void {
    if (!(id >= 0 && id < this._capacity)) {
      throw new RangeError(`timer id ${id} outside 0..${this._capacity - 1}`);
    }
    if (this._slot[id] !== none) this._unlink(id);
    let t = Math.floor(deadline / this.tickMs);
    if (!(t >= this._baseTick)) t = this._baseTick; // also catches NaN
    const s = this._slotOf(t);
    const head = this._heads[s];
    this._next[id] = head;
    this._prev[id] = none;
    if (head !== none) this._prev[head] = id;
    else this._bits[s >>> 5] |= 1 << (s & 31);
    this._heads[s] = id;
    this._slot[id] = s;
    this._tick[id] = t;
    this._deadline[id] = deadline;
    this._count++;
    if (this._minValid && deadline < this._min) this._min = deadline;
    if (t === this._baseTick && deadline < this._tickMin) this._tickMin = deadline;
  }

  /** Disarms the timer of `id`; nothing happens if it is not armed. */
  cancel(id: number): void {
    if (this.isArmed(id)) this._unlink(id);
  }

  /** Whether the timer of `id` is armed (false for an id outside the wheel). */
  isArmed(id: number): boolean {
    return id >= 0 && id < this._capacity && this._slot[id] !== none;
  }

  /** The deadline the timer of `id` is armed for, or Infinity when it is not armed. */
  deadlineOf(id: number): number {
    return this.isArmed(id) ? this._deadline[id] : Infinity;
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
    if (this._advancing) throw new Error("TimerWheel.advance is not reentrant");
    let nowTick = Math.floor(now / this.tickMs);
    const from = this._baseTick;
    if (!(nowTick >= from)) nowTick = from; // the clock stood still or stepped back
    if (nowTick === from && now < this._tickMin) return 0; // within a tick already scanned
    // The current tick stays the base: it may get more timers before it ends.
    this._baseTick = nowTick;
    this._tickMin = Infinity;
    let steps = nowTick - from + 1;
    if (steps > this.slotCount) steps = this.slotCount;
    const start = this._slotOf(from);
    let fired = 0;
    this._advancing = true;
    try {
      let k = 0;
      while (k < steps) {
        const d = this._nextNonEmpty((start + k) & this._mask, steps - k);
        if (d < 0) break;
        k += d;
        this._cursor = this._heads[(start + k) & this._mask];
        while (this._cursor !== none) {
          const id = this._cursor;
          this._cursor = this._next[id];
          const d = this._deadline[id];
          if (d <= now) {
            this._unlink(id);
            fired++;
            onExpire(id);
          } else if (this._tick[id] === nowTick && d < this._tickMin) {
            this._tickMin = d; // due later in this tick
          }
        }
        k++;
      }
    } finally {
      this._cursor = none;
      this._advancing = false;
    }
    return fired;
  }

  /** When the next timer is due, ms (exact), or Infinity when none is armed. */
  nextDeadline(): number {
    if (this._count === 0) return Infinity;
    if (!this._minValid) {
      this._min = this._computeMin();
      this._minValid = true;
    }
    return this._min;
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
  private _computeMin(): number {
    let min = Infinity;
    let k = 0;
    const base = this._baseTick;
    const start = this._slotOf(base);
    while (k < this.slotCount) {
      const d = this._nextNonEmpty((start + k) & this._mask, this.slotCount - k);
      if (d < 0) break;
      k += d;
      const t = base + k;
      let round = Infinity;
      for (let id = this._heads[(start + k) & this._mask]; id !== none; id = this._next[id]) {
        const deadline = this._deadline[id];
        if (deadline < min) min = deadline;
        if (this._tick[id] <= t && deadline < round) round = deadline;
      }
      if (round !== Infinity) return round;
      k++;
    }
    return min;
  }

  // Distance (0 .. limit-1) from slot `s` to the first non-empty slot, wrapping; -1 if none.
  private _nextNonEmpty(s: number, limit: number): number {
    let dist = 0;
    while (dist < limit) {
      const b = s & 31;
      const m = this._bits[s >>> 5] >>> b;
      if (m !== 0) {
        const d = dist + (31 - Math.clz32(m & -m));
        return d < limit ? d : -1;
      }
      dist += 32 - b;
      s = (s + 32 - b) & this._mask;
    }
    return -1;
  }

  private _unlink(id: number): void {
    const s = this._slot[id];
    const p = this._prev[id];
    const n = this._next[id];
    if (id === this._cursor) this._cursor = n;
    if (p !== none) this._next[p] = n;
    else {
      this._heads[s] = n;
      if (n === none) this._bits[s >>> 5] &= ~(1 << (s & 31));
    }
    if (n !== none) this._prev[n] = p;
    this._slot[id] = none;
    this._count--;
    if (this._count === 0) {
      this._min = Infinity;
      this._minValid = true;
    } else if (this._deadline[id] <= this._min) {
      // The earliest timer left: the cached minimum must be found again.
      this._minValid = false;
    }
  }

  private _slotOf(tick: number): number {
    const s = tick % this.slotCount;
    return s < 0 ? s + this.slotCount : s;
  }
}
