/**
 * What the servers of src/apps have in common: the {@link App} shape the
 * `luna` command serves, the counters every app keeps, and the zone budget.
 *
 * The zone budget: sent data and received data both live in the stack's one
 * pool of packet buffers. An app that filled the pool with outgoing data would
 * leave the device nothing to receive the ACKs that free it, and the stack
 * would stall. So an app takes buffers only while more than a reserve (a
 * sixteenth of the zone, as the stack's own writes) stays free; below it, the
 * connection is parked and {@link App.retry} resumes it once ACKs have
 * returned buffers.
 *
 * @module
 */
import type { Connection, ConnectionHandlers } from "../api/connection.ts";
import type { MemZone } from "../mem/zone.ts";
import type { AppLimits } from "./guard.ts";

/** Counters every app keeps; apps add their own. */
export interface AppStats {
  /** Connections accepted. */
  accepted: number;
  /** Connections open now. */
  open: number;
  /** Connections that ended cleanly. */
  closed: number;
  /** Connections that ended with an error (reset, timeout, aborted); by cause below. */
  failed: number;
  /** Failed: the peer reset it. */
  failedReset: number;
  /** Failed: timed out (retransmissions, the user timeout, keepalive). */
  failedTimeout: number;
  /** Failed: aborted here (by the app, or by the stack's close when its grace ran out). */
  failedAborted: number;
  /** Payload bytes received from and queued to peers. */
  bytesIn: number;
  bytesOut: number;
  /** Times a connection waited because the zone was low. */
  parked: number;
  /** Timeouts (guard.ts): late request heads, idle connections closed, and those aborted after. */
  headerTimeouts: number;
  idleTimeouts: number;
  idleAborts: number;
  [counter: string]: number;
}

/** A server over a stack: `stack.listen(port, (c) => app.accept(c))`. */
export interface App {
  /** `echo`, `discard`, `http`. */
  readonly name: string;
  /** Handlers for a new connection. */
  accept(c: Connection): ConnectionHandlers;
  /** Resumes connections parked on a low zone; call every few milliseconds (the `luna` command does). */
  retry(): void;
  /** The time is `now`, ms: connections past a timeout are closed (guard.ts); call with {@link retry}. */
  tick(now: number): void;
  /** Its timeouts and its connection cap (the listener's `maxConnections`). */
  readonly limits: Readonly<AppLimits>;
  /** A copy of the counters. */
  stats(): AppStats;
}

/** The fresh counters of an app. */
export function appStats(): AppStats {
  return {
    accepted: 0,
    open: 0,
    closed: 0,
    failed: 0,
    failedReset: 0,
    failedTimeout: 0,
    failedAborted: 0,
    bytesIn: 0,
    bytesOut: 0,
    parked: 0,
    headerTimeouts: 0,
    idleTimeouts: 0,
    idleAborts: 0,
  };
}

/** Counts a connection's end: cleanly, or failed by cause (so that a failure names its cause). */
export function countClose(stats: AppStats, error: string | undefined): void {
  stats.open--;
  if (error === undefined) {
    stats.closed++;
    return;
  }
  stats.failed++;
  if (/reset|refused/.test(error)) stats.failedReset++;
  else if (/timed out/.test(error)) stats.failedTimeout++;
  else stats.failedAborted++;
}

const one = new Uint8Array(1);

/**
 * Makes sure onWritable follows when the send buffer is full: a write that
 * is refused arms it (a write that exactly filled the buffer did not).
 */
export function waitWritable(c: Connection): void {
  if (c.sendSpace === 0) c.write(one);
}

/** The zone budget and the parked connections of one app; see the module documentation. */
export class ZoneBudget {
  readonly zone: MemZone;
  /** Buffers kept free for receiving. */
  readonly reserve: number;
  readonly #parked = new Set<Connection>();
  readonly #resume: (c: Connection) => void;
  readonly #stats: AppStats;

  constructor(zone: MemZone, stats: AppStats, resume: (c: Connection) => void, reserveFraction = 1 / 16) {
    this.zone = zone;
    this.reserve = Math.max(64, Math.ceil(zone.capacity * reserveFraction));
    this.#stats = stats;
    this.#resume = resume;
  }

  /**
   * Buffers the app may take now, the pool counted once per loop iteration
   * (MemZone.freeCountThisPoll): what an app asks before each answer.
   */
  available(): number {
    return this.zone.freeCountThisPoll() - this.reserve;
  }

  /** {@link available} with the pool counted now: for {@link retry}, which runs between polls. */
  availableNow(): number {
    return this.zone.freeCount() - this.reserve;
  }

  /** Parks `c` until {@link retry}. */
  park(c: Connection): void {
    if (!this.#parked.has(c)) this.#stats.parked++;
    this.#parked.add(c);
  }

  /** Forgets `c` (it closed). */
  forget(c: Connection): void {
    this.#parked.delete(c);
  }

  /** Resumes the parked connections while buffers are free. */
  retry(): void {
    if (this.#parked.size === 0 || this.availableNow() <= 0) return;
    // Between polls the count of the last one may be low (the device freed buffers since):
    // the connections resumed count afresh.
    this.zone.newPoll();
    const list = [...this.#parked];
    this.#parked.clear();
    for (const c of list) this.#resume(c);
  }
}
