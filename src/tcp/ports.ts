/**
 * Local ports for active opens: taken in turn from the configured range
 * (tcp.ephemeralPortMin..Max), skipping listened ports and tuples in use;
 * a tuple in TIME-WAIT is reused only when nothing else is free and its
 * record allows it (RFC 6191, as Linux's tcp_tw_reuse).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { TcpConfig } from "./config.ts";
import type { ConnectionTable } from "./conn_table.ts";
import type { TcpCounters } from "./counters.ts";
import type { TimeWaitTable } from "./time_wait.ts";

/** The ephemeral ports of one TCP layer; see the module documentation. */
export class EphemeralPorts {
  private _next: number;
  private readonly _config: TcpConfig;
  private readonly _table: ConnectionTable;
  private readonly _listeners: ReadonlyMap<number, unknown>;
  private readonly _timeWait: TimeWaitTable;
  private readonly _counters: TcpCounters;

  constructor(
    config: TcpConfig,
    table: ConnectionTable,
    listeners: ReadonlyMap<number, unknown>,
    timeWait: TimeWaitTable,
    counters: TcpCounters,
  ) {
    this._config = config;
    this._table = table;
    this._listeners = listeners;
    this._timeWait = timeWait;
    this._counters = counters;
    this._next = config.ephemeralPortMin;
  }

  /**
   * A local port for a connection to `remoteIp:remotePort`: the next one of the range that no
   * listener and no connection to that peer holds; failing that, one whose TIME-WAIT record may be
   * reused (the record goes). Throws a ConfigError naming `localPort` when none is free.
   */
  pick(remoteIp: number, remotePort: number, now: number): number {
    const { ephemeralPortMin: lo, ephemeralPortMax: hi } = this._config;
    const span = hi - lo + 1;
    let reusable = -1;
    let reusablePort = 0;
    for (let i = 0; i < span; i++) {
      const p = this._next;
      this._next = p >= hi ? lo : p + 1;
      if (this._listeners.has(p) || this._table.find(remoteIp, remotePort, p) >= 0) continue;
      const tw = this._timeWait.find(remoteIp, remotePort, p);
      if (tw < 0) return p;
      // A tuple in TIME-WAIT for over a second, with timestamps, can serve a new connection:
      // its segments carry newer timestamps than anything old (Linux tcp_tw_reuse, RFC 6191).
      if (reusable < 0 && this._timeWait.reusableForConnect(tw, now)) {
        reusable = tw;
        reusablePort = p;
      }
    }
    if (reusable >= 0) {
      this._counters.timeWaitReused++;
      this._timeWait.remove(reusable);
      return reusablePort;
    }
    throw new ConfigError("localPort", "no ephemeral port is free for this peer");
  }
}
