/**
 * The owner of a layer's connections (ConnectionOwner, context.ts): making a
 * control block and putting it in the table, handing an established passive
 * connection to its listener, telling the application of a close, and
 * removing a connection with everything it holds (or handing its tuple to a
 * TIME-WAIT record). Also the connections whose output waits for the
 * transmit batch to drain, and the data closed connections received and the
 * application has not read yet.
 *
 * @module
 */
import type { CongestionControl } from "./congestion.ts";
import { type CongestionName, type CongestionOptions, createCongestionControl } from "./congestion.ts";
import { Cubic, type CubicOptions } from "./cubic.ts";
import type { BbrOptions } from "./bbr.ts";
import { NewReno } from "./newreno.ts";
import type { ConnectionOwner, TcpContext } from "./context.ts";
import type { ConnectionTable } from "./conn_table.ts";
import { type Listener, scaleFor } from "./handshake.ts";
import type { IsnGenerator } from "./isn.ts";
import { recycleRack } from "./rack.ts";
import { RtoEstimator } from "./rto.ts";
import { State } from "./state.ts";
import { noHandlers, Tcb } from "./tcb.ts";
import type { TimeWaitTable } from "./time_wait.ts";

/**
 * The congestion controller of a connection whose handshake has not yet
 * settled the MSS and SACK: negotiate() (handshake.ts) makes the real one, so
 * a connection makes one controller, not two. Frozen: a controller call
 * before then throws instead of passing unnoticed.
 */
const ccNotStarted: CongestionControl = Object.freeze(createCongestionControl("newreno", 536));

/** Control blocks kept free for new connections at most (see Connections.recycle). */
const freeMax = 1024;

/** The connections of one TCP layer; see the module documentation. */
export class Connections implements ConnectionOwner {
  private readonly _x: TcpContext;
  private readonly _table: ConnectionTable;
  private readonly _listeners: Map<number, Listener>;
  private readonly _timeWait: TimeWaitTable;
  private readonly _isn: IsnGenerator;
  private readonly _unread = new Set<Tcb>();
  private readonly _blocked: Tcb[] = [];
  /** Control blocks given back ({@link recycle}), released, waiting for the end of the iteration. */
  private readonly _recycled: Tcb[] = [];
  /** Control blocks free for new connections. */
  private readonly _free: Tcb[] = [];
  /** The congestion controllers of the free control blocks, by kind (NewReno and CUBIC are kept). */
  private readonly _spareNewReno: NewReno[] = [];
  private readonly _spareCubic: Cubic[] = [];
  /**
   * What a connection whose application gave its control block back
   * ({@link recycle}) holds instead: closed, out of every table, its own
   * fields only (`Connection.tcb` reads as closed rather than as another
   * connection's).
   */
  readonly gone: Tcb;

  constructor(
    x: TcpContext,
    table: ConnectionTable,
    listeners: Map<number, Listener>,
    timeWait: TimeWaitTable,
    isn: IsnGenerator,
  ) {
    this._x = x;
    this._table = table;
    this._listeners = listeners;
    this._timeWait = timeWait;
    this._isn = isn;
    this.gone = this._make(-1, 0, 0, 0, false);
    this.gone.dead = true;
    this.gone.closedNotified = true;
  }

  /** Whether a new connection to `l` stays within the stack's and the listener's limits. */
  admits(l: Listener): boolean {
    if (this._table.size >= this._x.config.maxConnections) return false;
    return l.maxConnections === undefined || this._table.passive(l.port) < l.maxConnections;
  }

  /** Makes a connection and puts it in the table. */
  create(localPort: number, remoteIp: number, remotePort: number, active: boolean, now: number): Tcb {
    const x = this._x;
    const id = this._table.takeId();
    const c = x.config;
    const tcb = this._make(id, localPort, remoteIp, remotePort, active);
    tcb.iss = this._isn.isn(tcb.localIp, localPort, remoteIp, remotePort, now);
    tcb.sndUna = tcb.iss;
    tcb.sndNxt = tcb.iss;
    tcb.sndMax = tcb.iss;
    tcb.rcvScaleOffered = c.windowScaling ? scaleFor(c.rcvBufBytes) : 0;
    this._table.insert(tcb);
    x.pool.connections++;
    return tcb;
  }

  /** A control block for a new connection: a recycled one when there is one (see {@link recycle}), else new. */
  private _make(id: number, localPort: number, remoteIp: number, remotePort: number, active: boolean): Tcb {
    const x = this._x;
    const c = x.config;
    const local = { ip: x.link.address, port: localPort };
    const remote = { ip: remoteIp, port: remotePort };
    const bufs = { snd: c.sndBufBytes, sndMax: c.sndBufBytesMax, rcv: c.rcvBufBytes };
    const old = this._free.pop();
    if (old !== undefined && old.rto.minMs === c.rtoMinMs && old.rto.maxMs === c.rtoMaxMs) {
      old.reset(id, local, remote, active, c.rtoInitialMs, ccNotStarted, bufs);
      return old;
    }
    const rto = new RtoEstimator({ minMs: c.rtoMinMs, maxMs: c.rtoMaxMs, initialMs: c.rtoInitialMs });
    return new Tcb(id, x.zone, local, remote, active, rto, ccNotStarted, bufs);
  }

  /**
   * The application is done with `tcb` (its Connection holds {@link gone}
   * from now on): once released, the control block may serve a new
   * connection. It waits for the end of the loop's iteration (the corked
   * writes and held ACKs of the iteration may still name it), and is kept
   * only when nothing else can: no data left unread, not waiting for the
   * transmit batch or for buffers. What it received and was not read is
   * released: nobody will read it now.
   */
  recycle(tcb: Tcb): void {
    if (tcb === this.gone || tcb.recycling) return;
    tcb.recycling = true;
    tcb.handlers = noHandlers;
    tcb.user = undefined;
    if (!tcb.dead) return; // released later (_release)
    // What it received and nobody will read now goes.
    if (this._unread.delete(tcb)) tcb.recvq.clear();
    this._recycled.push(tcb);
  }

  /** The end of the loop's iteration: control blocks given back and released are free. */
  endIteration(): void {
    const list = this._recycled;
    if (list.length === 0) return;
    for (let i = 0; i < list.length; i++) {
      const t = list[i];
      if (
        t.recvq.bytes > 0 || t.sendq.bytes > 0 || t.txBlocked || this._x.pool.holds(t) ||
        this._free.length >= freeMax
      ) continue;
      this._free.push(t);
      const cc = t.cc;
      t.cc = ccNotStarted;
      if (cc.constructor === Cubic) this._spareCubic.push(cc as Cubic);
      else if (cc.constructor === NewReno) this._spareNewReno.push(cc as NewReno);
    }
    list.length = 0;
  }

  /** A congestion controller as createCongestionControl makes one: a free control block's, reset, where there is one. */
  congestionControl(
    name: CongestionName,
    mss: number,
    options: CongestionOptions & CubicOptions & BbrOptions,
  ): CongestionControl {
    const spare = name === "cubic"
      ? this._spareCubic.pop()
      : name === "newreno"
      ? this._spareNewReno.pop()
      : undefined;
    if (spare === undefined) return createCongestionControl(name, mss, options);
    spare.reset(mss, options);
    return spare;
  }

  /** A passive connection is established: the listener's application takes it. */
  accepted(tcb: Tcb): void {
    const l = this._listeners.get(tcb.listenerPort);
    tcb.listenerPort = -1;
    if (l === undefined) return;
    l.halfOpen--;
    const h = l.onAccept(tcb);
    if (h !== undefined) tcb.handlers = h;
  }

  /** The application sees the connection closed (TIME-WAIT holds the tuple a while longer). */
  closedForApp(tcb: Tcb, _now: number): void {
    if (tcb.closedNotified) return;
    tcb.closedNotified = true;
    const counters = this._x.counters;
    counters.currEstab = Math.max(0, counters.currEstab - 1);
    tcb.handlers.onClose?.(tcb, undefined);
  }

  /** Removes a connection: releases its buffers and timers, tells the application. */
  destroy(tcb: Tcb, error: string | undefined, _now: number): void {
    if (tcb.dead) return;
    const counters = this._x.counters;
    const wasOpen = tcb.state >= State.established && !tcb.closedNotified;
    if (tcb.listenerPort >= 0) {
      const l = this._listeners.get(tcb.listenerPort);
      if (l !== undefined) l.halfOpen--;
    }
    if (error !== undefined && tcb.state === State.synSent) counters.attemptFails++;
    tcb.error = error;
    tcb.state = State.closed;
    this._release(tcb, error === undefined);
    if (wasOpen) counters.currEstab = Math.max(0, counters.currEstab - 1);
    if (!tcb.closedNotified) {
      tcb.closedNotified = true;
      tcb.handlers.onClose?.(tcb, error);
    }
  }

  /**
   * A connection entered TIME-WAIT: a small record takes over its tuple
   * (time_wait.ts), and its control block, queues and timers go. The
   * application, told of the close already, may still read what it has not.
   */
  enterTimeWait(tcb: Tcb, now: number): void {
    this._timeWait.enter(tcb, now);
    this._release(tcb, true);
  }

  /**
   * Output stopped because the device's transmit batch was full, or others
   * wait for it (context.ts txHeld): `tcb` joins the end of the queue.
   */
  txBlocked(tcb: Tcb): void {
    if (!tcb.txBlocked) {
      tcb.txBlocked = true;
      this._blocked.push(tcb);
      this._x.counters.txWaits++;
    }
  }

  /** Whether connections wait for their turn at the transmit batch. */
  txWaiting(): boolean {
    return this._blocked.length > 0;
  }

  /**
   * Resumes the output {@link txBlocked} stopped, once the transmit batch has
   * drained, in the order the connections came: each sends what its windows
   * allow until the batch is nearly full again; the one that finds it so goes
   * back to the head of the queue (it was first), the rest keep their places
   * behind it.
   */
  resumeBlocked(now: number): void {
    if (this._blocked.length === 0 || !this._x.link.txDrained()) return;
    const list = this._blocked.splice(0);
    let i = 0;
    while (i < list.length && this._blocked.length === 0) {
      const c = list[i++];
      c.txBlocked = false;
      if (!c.dead) this._x.out.output(c, now);
    }
    for (; i < list.length; i++) this._blocked.push(list[i]);
  }

  /** The application read from `c`: a closed connection whose unread data is all read is forgotten. */
  drained(c: Tcb): void {
    if (c.recvq.bytes === 0) this._unread.delete(c);
  }

  /** Releases what closed connections received and the application never read. */
  releaseUnread(): void {
    for (const c of this._unread) c.recvq.clear();
    this._unread.clear();
  }

  /** Takes `tcb` out of the table and releases what it holds; received data it keeps if `keepUnread`. */
  private _release(tcb: Tcb, keepUnread: boolean): void {
    tcb.dead = true;
    this._x.timers.cancel(tcb);
    this._table.remove(tcb);
    tcb.sendq.clear();
    this._x.pool.connections--;
    // A clean close keeps what was received and not yet read: our close was a half-close,
    // and the application may still read it. It is released as it is read, or by
    // releaseUnread() (Stack.close). An abort or a reset drops it.
    if (keepUnread && tcb.recvq.bytes > 0 && !tcb.recycling) this._unread.add(tcb);
    else tcb.recvq.clear();
    tcb.reasm?.clear();
    tcb.reasm = undefined;
    tcb.sackRx = tcb.sb = undefined;
    // Its Rack (and the Rack's segment log) goes to the next connection; the dead control block
    // keeps no way to it.
    const rack = tcb.rack;
    if (rack !== undefined) {
      tcb.rack = undefined;
      recycleRack(rack);
    }
    if (tcb.recycling) this._recycled.push(tcb);
  }
}
