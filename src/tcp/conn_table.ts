/**
 * The connections of a TCP layer that have a control block: by id (the
 * timers and a classifier's flow mark name them so) and by 4-tuple, with
 * the passive ones counted per local port for the listeners' limits. Ids go
 * smallest first (id_pool.ts), so that after a crowd has left the per-id
 * arrays — this table's and the timer wheel's — shrink back.
 *
 * Connections in TIME-WAIT are not here: time_wait.ts keeps them as small
 * records.
 *
 * @module
 */
import { IdPool } from "./id_pool.ts";
import type { Tcb } from "./tcb.ts";
import type { TcpTimers } from "./timers.ts";
import { TupleTable } from "./tuple_table.ts";

/** Connections by id and by 4-tuple; see the module documentation. */
export class ConnectionTable {
  /** Control blocks by id; the timers read it (the array is shared, never replaced). */
  readonly tcbs: (Tcb | undefined)[] = [];
  private readonly _ids = new IdPool();
  private readonly _byTuple = new TupleTable();
  /** Passive connections by local port, half-open ones included: what a listener's limit counts. */
  private readonly _passive = new Map<number, number>();
  private _timers: TcpTimers | undefined;

  /** The timers whose wheel follows the id pool's capacity (set once, by the layer). */
  set timers(t: TcpTimers) {
    this._timers = t;
  }

  /** Connections in the table. */
  get size(): number {
    return this._byTuple.size;
  }

  /** The id of the connection with this 4-tuple, or -1. */
  find(remoteIp: number, remotePort: number, localPort: number): number {
    return this._byTuple.get(remoteIp, remotePort, localPort);
  }

  /** Passive connections to `port`, half-open ones included. */
  passive(port: number): number {
    return this._passive.get(port) ?? 0;
  }

  /** The smallest free id, for a connection about to be made; the timers grow to hold it. */
  takeId(): number {
    const id = this._ids.take();
    const t = this._timers!;
    if (this._ids.capacity !== t.capacity) t.resize(this._ids.capacity);
    return id;
  }

  /** Puts a connection made with {@link takeId}'s id in the table. */
  insert(tcb: Tcb): void {
    this.tcbs[tcb.id] = tcb;
    this._byTuple.add(tcb.remoteIp, tcb.remotePort, tcb.localPort, tcb.id);
    if (!tcb.active) this._passive.set(tcb.localPort, this.passive(tcb.localPort) + 1);
  }

  /** Takes a connection out and gives its id back; the per-id arrays shrink when the ids in use lie low. */
  remove(tcb: Tcb): void {
    this._byTuple.delete(tcb.remoteIp, tcb.remotePort, tcb.localPort);
    if (!tcb.active) {
      const n = this.passive(tcb.localPort) - 1;
      if (n > 0) this._passive.set(tcb.localPort, n);
      else this._passive.delete(tcb.localPort);
    }
    this.tcbs[tcb.id] = undefined;
    if (this._ids.give(tcb.id)) {
      this._timers!.resize(this._ids.capacity);
      this.tcbs.length = this._ids.end;
    }
  }

  /** Every connection in the table. */
  *each(): IterableIterator<Tcb> {
    for (const t of this.tcbs) if (t !== undefined) yield t;
  }

  /** Bytes of the table as allocated: id pool, control-block slots by id (8 each), 4-tuple index. */
  footprint(): { idCapacity: number; ids: number; tcbSlots: number; table: number } {
    return {
      idCapacity: this._ids.capacity,
      ids: this._ids.bytes,
      tcbSlots: this.tcbs.length * 8,
      table: this._byTuple.bytes,
    };
  }

  /** The 4-tuple index's work: lookups, slots looked at, and lookups past tuple_table.ts's longProbeMin. */
  tableStats(): { lookups: number; probes: number; longProbes: number } {
    const t = this._byTuple;
    return { lookups: t.lookups, probes: t.probes, longProbes: t.longProbes };
  }
}
