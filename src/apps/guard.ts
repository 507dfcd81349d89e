/**
 * How `luna serve`'s apps defend themselves against clients that hold a
 * connection and do nothing with it (Slowloris, idle keep-alives, crowds):
 *
 * - a header-read timeout (HTTP): a request head must arrive whole within
 *   {@link AppLimits.headerTimeoutMs} of its first byte (of the connection's
 *   start, for the first request); otherwise the server answers 408 and
 *   closes, as nginx's `client_header_timeout` or Go's `ReadHeaderTimeout`;
 * - an idle timeout: a connection on which nothing moves for
 *   {@link AppLimits.idleTimeoutMs} (HTTP: a keep-alive connection between
 *   requests; a body that stops arriving) is closed, and a connection whose
 *   queued answer sees no acknowledgment for that long is aborted (the
 *   stack's user timeout, RFC 9293 3.8.3);
 * - a cap on concurrent connections, {@link AppLimits.maxConnections}: the
 *   stack's own listener limit, where a SYN beyond it is refused with a RST
 *   before any state is kept.
 *
 * The deadlines run on the time the app is given ({@link Deadlines.tick}), so
 * a test drives them as it likes; `luna serve` ticks with the real clock.
 *
 * @example
 * ```ts
 * import { Deadlines } from "./guard.ts";
 * const expired: string[] = [];
 * const d = new Deadlines<string>((c) => expired.push(c));
 * d.tick(0);
 * d.arm("a", 1000);
 * d.tick(2000); // expired: ["a"] (swept at most every 50 ms of ticks)
 * ```
 *
 * @module
 */

/** The limits of {@link appLimitDefaults}; 0 turns a timeout off. */
export interface AppLimits {
  /** HTTP: a request head arrives whole within this long of its first byte (or of the connection's start), ms. */
  headerTimeoutMs: number;
  /** A connection on which nothing moves for this long is closed, ms. */
  idleTimeoutMs: number;
  /** Connections the app's listener holds at most, half-open ones included; beyond: refused with a RST. */
  maxConnections: number;
}

/** The defaults of `luna serve` (`--header-timeout 10 --idle-timeout 60 --max-connections 16384`). */
export const appLimitDefaults: Readonly<AppLimits> = {
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxConnections: 16_384,
};

/** How often, at most, the deadlines are swept, ms: a timeout fires this much late at worst. */
export const sweepIntervalMs = 50;

/**
 * Where a connection's deadline sits in one {@link Deadlines}, kept by the
 * caller on its own per-connection state: -1 when none is armed (the
 * caller's starting value), else what {@link set} was last given.
 */
export interface DeadlineSlot<C> {
  get(c: C): number;
  set(c: C, i: number): void;
}

/**
 * One deadline per connection, on the time {@link tick} gives. Arming is a
 * map write (no timer object per connection), or with a {@link DeadlineSlot}
 * an array write at the index the connection keeps (no hashing, nothing
 * added or taken from a map per connection); expired ones are found by a
 * sweep at most every {@link sweepIntervalMs}, which is cheap next to the
 * timeouts it serves (seconds).
 */
export class Deadlines<C> {
  readonly #at = new Map<C, number>();
  readonly #expire: (c: C) => void;
  readonly #slot: DeadlineSlot<C> | undefined;
  // With a slot: the armed connections and their deadlines, side by side, in no order.
  readonly #items: C[] = [];
  readonly #times: number[] = [];
  #now = 0;
  #sweptAt = -Infinity;

  /**
   * `expire` is called once for each connection whose deadline passes (it is
   * disarmed first); `slot`, where each connection keeps its place here.
   */
  constructor(expire: (c: C) => void, slot?: DeadlineSlot<C>) {
    this.#expire = expire;
    this.#slot = slot;
  }

  /** The time of the last {@link tick}, ms. */
  get now(): number {
    return this.#now;
  }

  /** Connections with a deadline now. */
  get size(): number {
    return this.#slot === undefined ? this.#at.size : this.#items.length;
  }

  /** `c` expires `ms` from now; `ms` 0 disarms it (that timeout is off). */
  arm(c: C, ms: number): void {
    if (!(ms > 0)) return this.disarm(c);
    const s = this.#slot;
    if (s === undefined) {
      this.#at.set(c, this.#now + ms);
      return;
    }
    const i = s.get(c);
    if (i >= 0) {
      this.#times[i] = this.#now + ms;
      return;
    }
    s.set(c, this.#items.length);
    this.#items.push(c);
    this.#times.push(this.#now + ms);
  }

  /** `c` has no deadline. */
  disarm(c: C): void {
    const s = this.#slot;
    if (s === undefined) {
      this.#at.delete(c);
      return;
    }
    const i = s.get(c);
    if (i < 0) return;
    s.set(c, -1);
    // The last one takes its place.
    const items = this.#items;
    const last = items.length - 1;
    if (i !== last) {
      const m = items[last];
      items[i] = m;
      this.#times[i] = this.#times[last];
      s.set(m, i);
    }
    items.pop();
    this.#times.pop();
  }

  /** The time is `now`, ms: connections past their deadline expire. */
  tick(now: number): void {
    this.#now = now;
    if (now - this.#sweptAt < sweepIntervalMs) return;
    this.#sweptAt = now;
    if (this.#slot === undefined) {
      for (const [c, at] of this.#at) {
        if (at > now) continue;
        this.#at.delete(c);
        this.#expire(c);
      }
      return;
    }
    // From the end: a connection disarmed here is replaced by one from further on, already
    // looked at; one armed by an expiry goes at the end, after now.
    for (let i = this.#items.length - 1; i >= 0; i--) {
      if (i >= this.#items.length || this.#times[i] > now) continue;
      const c = this.#items[i];
      this.disarm(c);
      this.#expire(c);
    }
  }
}

/** What the guard needs of a connection (a {@link Connection} of the api). */
export interface Guarded {
  close(): void;
  abort(): void;
  setUserTimeout(ms: number): void;
}

/** The counters the guard keeps in an app's stats. */
export interface GuardStats {
  /** HTTP requests whose head did not arrive within the header-read timeout. */
  headerTimeouts: number;
  /** Connections closed because nothing moved on them for the idle timeout. */
  idleTimeouts: number;
  /** Connections aborted because they were still there one idle timeout after that close. */
  idleAborts: number;
}

/**
 * The timeouts of one app's connections (see the module documentation). An
 * idle connection is closed; one still there an idle timeout later (a peer
 * that keeps sending into a half-closed connection, or never acknowledges
 * our FIN) is aborted.
 */
export class ConnectionGuard<C extends Guarded> {
  readonly limits: Readonly<AppLimits>;
  readonly #idle: Deadlines<C>;
  readonly #header: Deadlines<C>;
  readonly #closing = new Set<C>();

  /**
   * `onHeaderTimeout` answers a request whose head is late (HTTP: 408, then
   * close); `slots`, where each connection keeps its place among the idle
   * and the header deadlines (see {@link DeadlineSlot}), where the app has
   * state of its own per connection.
   */
  constructor(
    limits: Readonly<AppLimits>,
    stats: GuardStats,
    onHeaderTimeout: (c: C) => void = (c) => c.close(),
    slots?: { idle: DeadlineSlot<C>; header: DeadlineSlot<C> },
  ) {
    this.limits = limits;
    this.#idle = new Deadlines<C>((c) => {
      if (this.#closing.has(c)) {
        stats.idleAborts++;
        c.abort();
        return;
      }
      stats.idleTimeouts++;
      this.#closing.add(c);
      c.close();
      this.#idle.arm(c, limits.idleTimeoutMs);
    }, slots?.idle);
    this.#header = new Deadlines<C>((c) => {
      stats.headerTimeouts++;
      onHeaderTimeout(c);
      // It has an idle timeout's time to take the answer and go.
      if (!this.#closing.has(c)) {
        this.#closing.add(c);
        this.#idle.arm(c, limits.idleTimeoutMs > 0 ? limits.idleTimeoutMs : limits.headerTimeoutMs);
      }
    }, slots?.header);
  }

  /** A new connection: its idle timeout runs, and its queued answers get the user timeout. */
  accept(c: C): void {
    if (this.limits.idleTimeoutMs > 0) c.setUserTimeout(this.limits.idleTimeoutMs);
    this.#idle.arm(c, this.limits.idleTimeoutMs);
  }

  /** Something moved on `c`: its idle timeout starts again. */
  active(c: C): void {
    if (!this.#closing.has(c)) this.#idle.arm(c, this.limits.idleTimeoutMs);
  }

  /** A request head starts (its first byte, or a new connection): it must be whole within the header timeout. */
  headerStarts(c: C): void {
    if (!this.#closing.has(c)) this.#header.arm(c, this.limits.headerTimeoutMs);
  }

  /** The request head is whole. */
  headerDone(c: C): void {
    this.#header.disarm(c);
  }

  /** `c` is gone. */
  forget(c: C): void {
    this.#idle.disarm(c);
    this.#header.disarm(c);
    this.#closing.delete(c);
  }

  /** The time is `now`, ms (see {@link Deadlines.tick}). */
  tick(now: number): void {
    this.#header.tick(now);
    this.#idle.tick(now);
  }

  /** Connections with a timeout armed (for tests: nothing is left behind). */
  get armed(): number {
    return this.#idle.size + this.#header.size;
  }
}
