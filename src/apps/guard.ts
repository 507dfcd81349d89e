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
 * One deadline per connection, on the time {@link tick} gives. Arming is a
 * map write (no timer object per connection); expired ones are found by a
 * sweep at most every {@link sweepIntervalMs}, which is cheap next to the
 * timeouts it serves (seconds).
 */
export class Deadlines<C> {
  readonly #at = new Map<C, number>();
  readonly #expire: (c: C) => void;
  #now = 0;
  #sweptAt = -Infinity;

  /** `expire` is called once for each connection whose deadline passes (it is disarmed first). */
  constructor(expire: (c: C) => void) {
    this.#expire = expire;
  }

  /** The time of the last {@link tick}, ms. */
  get now(): number {
    return this.#now;
  }

  /** Connections with a deadline now. */
  get size(): number {
    return this.#at.size;
  }

  /** `c` expires `ms` from now; `ms` 0 disarms it (that timeout is off). */
  arm(c: C, ms: number): void {
    if (ms > 0) this.#at.set(c, this.#now + ms);
    else this.#at.delete(c);
  }

  /** `c` has no deadline. */
  disarm(c: C): void {
    this.#at.delete(c);
  }

  /** The time is `now`, ms: connections past their deadline expire. */
  tick(now: number): void {
    this.#now = now;
    if (now - this.#sweptAt < sweepIntervalMs) return;
    this.#sweptAt = now;
    for (const [c, at] of this.#at) {
      if (at > now) continue;
      this.#at.delete(c);
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

  /** `onHeaderTimeout` answers a request whose head is late (HTTP: 408, then close). */
  constructor(
    limits: Readonly<AppLimits>,
    stats: GuardStats,
    onHeaderTimeout: (c: C) => void = (c) => c.close(),
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
    });
    this.#header = new Deadlines<C>((c) => {
      stats.headerTimeouts++;
      onHeaderTimeout(c);
      // It has an idle timeout's time to take the answer and go.
      if (!this.#closing.has(c)) {
        this.#closing.add(c);
        this.#idle.arm(c, limits.idleTimeoutMs > 0 ? limits.idleTimeoutMs : limits.headerTimeoutMs);
      }
    });
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
