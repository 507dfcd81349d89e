/**
 * The run-to-completion loop: one thread polls its device and carries every
 * frame through the stack to the application and back.
 *
 * - inline-r2c: the application's handlers run inside the receive path, while
 *   the segment is processed; what they send leaves in the same burst.
 * - batch-r2c: the burst is processed first; readiness events are queued and
 *   the handlers run after it, before the burst's answers are flushed.
 *
 * Only the loop reads the clock; every layer below is given `now`.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { DESC_WORDS, type Device } from "../device/device.ts";
import type { IpLayer } from "../ip/ipv4_layer.ts";
import type { MemZone } from "../mem/zone.ts";
import type { TcpLayer } from "../tcp/tcp_layer.ts";
import { ethernetHeaderLen } from "../wire/mod.ts";

/** How long {@link Loop.run} polls before it yields to the runtime, ms. */
const roundMs = 1;
/** Quiet time after which the loop starts napping between rounds of polls, ms. */
const idleNapMs = 50;
/**
 * One sleep of a loop idle past its `idleSleepUs`, ms. The kernel's timer slack (50 µs) comes on
 * top: a sleep lasts about 0.1 ms, and gives the CPU to whatever else waits for it meanwhile.
 */
const idleSleepMs = 0.05;

/** How handlers are run. */
export type LoopMode = "batch" | "inline";

/** Event kinds queued in batch mode. */
export const LoopEvent = { open: 0, data: 1, end: 2, writable: 3, close: 4 } as const;

/** Something the batch loop delivers events to. */
export interface EventSink {
  deliver(kind: number, error: string | undefined): void;
}

/** A queue of readiness events, drained after each burst (batch mode). */
export class EventQueue {
  private _sinks: (EventSink | undefined)[] = [];
  private _kinds = new Uint8Array(1024);
  private _errors: (string | undefined)[] = [];
  private _n = 0;

  get length(): number {
    return this._n;
  }

  push(sink: EventSink, kind: number, error?: string): void {
    if (this._n === this._kinds.length) {
      const k = new Uint8Array(this._n * 2);
      k.set(this._kinds);
      this._kinds = k;
    }
    this._sinks[this._n] = sink;
    this._kinds[this._n] = kind;
    this._errors[this._n] = error;
    this._n++;
  }

  /**
   * Delivers every queued event, those queued meanwhile included. With `ip`,
   * what the handlers sent leaves whenever it reaches the layer's
   * `flushEvery` frames, as in the inline receive path.
   */
  drain(ip?: IpLayer, now = 0): number {
    let i = 0;
    for (; i < this._n && i < 1 << 20; i++) {
      const s = this._sinks[i]!;
      this._sinks[i] = undefined;
      s.deliver(this._kinds[i], this._errors[i]);
      if (ip !== undefined) ip.flushIfDue(now);
    }
    this._n = 0;
    return i;
  }
}

/**
 * What kept a loop from polling while frames waited. A gap is the time from
 * one poll's start to the next's; it counts as a stall when the later poll
 * brought frames and it passed 100 µs (a round trip over memif takes a few
 * µs). Whatever the cause: the loop yielding or napping, a long handler or
 * collection inside the earlier poll, or the thread off its core. The loop's
 * own time away ({@link Loop.run}'s yields and naps) is counted beside, so
 * that the rest can be told apart.
 */
export interface LoopStalls {
  /** Stalls over 100 µs (every stall counts in each bucket it passes). */
  over100us: number;
  /** Stalls over 1 ms. */
  over1ms: number;
  /** Stalls over 10 ms. */
  over10ms: number;
  /** The stalls' total, ms. */
  ms: number;
  /** The longest stall, ms. */
  msMax: number;
  /** Rounds of {@link Loop.run} that ended by yielding to the runtime (setImmediate). */
  yields: number;
  /** The time from those yields to the next round, ms. */
  yieldMs: number;
  /** Rounds that ended in a nap (a timer, when idle). */
  naps: number;
  /** The time napped, ms. */
  napMs: number;
}

/** Stall counts at zero. */
export function noStalls(): LoopStalls {
  return { over100us: 0, over1ms: 0, over10ms: 0, ms: 0, msMax: 0, yields: 0, yieldMs: 0, naps: 0, napMs: 0 };
}

/** The stalls of several loops (workers) together: counts and times added, the longest of all. */
export function sumStalls(list: readonly LoopStalls[]): LoopStalls {
  const t = noStalls();
  for (const s of list) {
    t.over100us += s.over100us;
    t.over1ms += s.over1ms;
    t.over10ms += s.over10ms;
    t.ms += s.ms;
    t.msMax = Math.max(t.msMax, s.msMax);
    t.yields += s.yields;
    t.yieldMs += s.yieldMs;
    t.naps += s.naps;
    t.napMs += s.napMs;
  }
  return t;
}

/**
 * Full receive bursts in a row after which the timers run anyway (see
 * {@link Loop.poll}): at the default burst of 64, 1024 frames, four per
 * connection of a 256-connection load, and a few milliseconds' delay at most
 * to a timer when frames never stop coming.
 */
export const timersDeferredMax = 16;

/** One loop over one device. */
export class Loop {
  readonly device: Device;
  readonly ip: IpLayer;
  readonly tcp: TcpLayer;
  readonly mode: LoopMode;
  readonly events = new EventQueue();
  /** Records a receive burst takes at most: the burst, or one whole frame where frames span buffers. */
  private readonly _burst: number;
  private readonly _txFlush: number;
  private readonly _idleSleepMs: number;
  /** What the idle sleeps wait on: nobody wakes it, each sleep ends at its timeout. */
  private readonly _sleepCell = new Int32Array(new SharedArrayBuffer(4));
  private readonly _descs: Uint32Array;
  private _running = false;
  private _yield = false;
  private _stopped: Promise<void> | undefined;
  /** Iterations run, frames received. */
  iterations = 0;
  /** Sleeps taken while idle (see the constructor's `idleSleepUs`). */
  idleSleeps = 0;
  framesIn = 0;
  /** Iterations whose receive burst brought frames (framesIn / rxBursts: frames per burst). */
  rxBursts = 0;
  /** Where the loop was away while frames waited; see {@link LoopStalls}. */
  readonly stalls: LoopStalls = noStalls();
  /** The `now` of the last poll, to measure the gap before the next. */
  private _lastPoll = NaN; // no gap before the first poll
  /** Polls in a row that left the timers for later, their burst full (see {@link poll}). */
  private _timersDeferred = 0;
  private _polling = false;
  private _pollNow = 0;
  private readonly _zone: MemZone;
  /**
   * The time for what the application does on a connection (write, consume,
   * close): inside a poll, the poll's `now` (handlers run inside it, inline
   * or from the event queue), so a request and its answer cost no clock
   * reads; outside one (a promise continuation, a timer), the clock.
   */
  readonly clock: () => number = (): number => this._polling ? this._pollNow : performance.now();

  /**
   * `txFlush`: answers of a burst leave once this many wait (0: at the end of
   * the poll), when the burst was not full; see {@link poll}. `idleSleepUs`:
   * after this long without a received frame, {@link run} sleeps briefly
   * between polls (0: it polls without a break until its idle naps).
   */
  constructor(
    device: Device,
    ip: IpLayer,
    tcp: TcpLayer,
    mode: LoopMode,
    burst = 64,
    txFlush = 0,
    idleSleepUs = 0,
  ) {
    this.device = device;
    this.ip = ip;
    this.tcp = tcp;
    this.mode = mode;
    // A burst's records hold at least one whole frame of the MTU where frames span buffers.
    const zone = device.zone;
    this._zone = zone;
    const links = device.offloads.frameChains
      ? Math.ceil((device.mtu + ethernetHeaderLen) / (zone.dataRoomSize - zone.headroom))
      : 1;
    this._burst = Math.max(burst, links);
    this._txFlush = txFlush;
    this._idleSleepMs = idleSleepUs / 1000;
    this._descs = new Uint32Array(this._burst * DESC_WORDS);
  }

  /**
   * One iteration at `now`: receive a burst, run it through, run timers and
   * events, send. Returns frames received.
   *
   * A burst that did not fill emptied the receive ring: the peer waits on
   * these answers, and with a few connections in a closed loop it would idle
   * until the whole burst were done. Its answers then leave every `txFlush`
   * frames, so that both ends work at once instead of taking turns. A full
   * burst means more is queued and the peer has work: its answers leave
   * together, in one transmit burst.
   */
  poll(now: number): number {
    this._pollNow = now;
    this._polling = true;
    this._zone.newPoll(); // the device's bursts below take and free buffers
    try {
      // What was sent since the last poll (promise continuations, timers of the runtime) leaves
      // now, not after this poll's burst; frames the device refused last time wait for the end.
      if (this.ip.tx.fresh > 0) this.ip.flush(now);
      const n = this.device.rx(this._descs, this._burst, now);
      const gap = now - this._lastPoll;
      this._lastPoll = now;
      if (n > 0) {
        if (gap > 0.1) this._stall(gap);
        this.rxBursts++;
        this.ip.flushEvery = n < this._burst ? this._txFlush : 0;
        this.ip.receive(this._descs, n, now);
      }
      // The handlers hear of the burst before the corked writes and the ACKs held for the end
      // of the iteration leave (tcp.poll), so that their answers carry those ACKs.
      if (this.events.length > 0) this.events.drain(this.ip, now);
      // A full burst left frames in the ring, and among them ACKs that the timers due now would
      // not see: after the loop was away longer than a probe timeout (descheduled on a busy
      // machine), the connections whose ACKs waited beyond the first burst each sent a needless
      // probe (192 of 256 wrk connections at a burst of 64). The timers run once the ring is
      // drained, or after timersDeferredMax full bursts in a row.
      const defer = n === this._burst && this._timersDeferred < timersDeferredMax;
      this._timersDeferred = defer ? this._timersDeferred + 1 : 0;
      this.tcp.poll(now, !defer);
      this.ip.poll(now);
      if (this.events.length > 0) this.events.drain(this.ip, now); // what the timers queued
      this.tcp.flushCorked(now); // the writes of this iteration, as large segments
      this.ip.flush(now);
      this.iterations++;
      this.framesIn += n;
      return n;
    } finally {
      this._polling = false;
    }
  }

  private _stall(gap: number): void {
    const s = this.stalls;
    s.over100us++;
    if (gap > 1) s.over1ms++;
    if (gap > 10) s.over10ms++;
    s.ms += gap;
    if (gap > s.msMax) s.msMax = gap;
  }

  /**
   * Ends the current round of {@link run} after this poll, so that promise
   * continuations the handlers started (an async request handler, a stream
   * waiting for data) run before the next poll instead of a round later.
   */
  yieldSoon(): void {
    this._yield = true;
  }

  /** When the loop next has timed work (for sleeping when idle). */
  pollAt(now: number): number {
    return Math.min(this.device.pollAt(now), this.tcp.pollAt(), this.ip.pollAt());
  }

  /**
   * Polls until {@link stop}, reading the clock. Yields to the runtime's
   * event loop between rounds of polls (so signals and timers run), and
   * sleeps briefly when idle.
   *
   * With `idleSleepUs`, a loop that has received nothing for that long
   * sleeps about 0.1 ms between polls (never past its next timer) until a
   * frame comes. Where the peer shares the machine's CPUs (a kernel
   * client over af_packet), a loop that polls without a break while it
   * waits for the peer spends its share of the CPU on empty polls, and the
   * scheduler then keeps it waiting behind the CPU's other tasks when the
   * frames come. Measured on a two-core machine loaded by other work (load
   * average 6-9), wrk at 32 connections with keep-alive against `luna serve
   * http` over af_packet: without sleeps the server waited to run 71-79% of
   * the time and answered 5-10k req/s; sleeping after 50 µs idle, 53-54%
   * and 15-21k.
   */
  run(): Promise<void> {
    if (this._stopped !== undefined) return this._stopped;
    this._running = true;
    this._stopped = (async () => {
      let lastWork = performance.now();
      let activity = this.device.activity ?? 0;
      let napping = false;
      while (this._running) {
        // While traffic flows a round of polls lasts about roundMs: yielding to the runtime's
        // event loop costs microseconds, so it happens seldom enough not to show in round
        // trips. Between naps a round is a few polls.
        let work = 0;
        const roundStart = performance.now();
        const polls = napping ? 64 : 1 << 20;
        let heardAt = Math.max(lastWork, roundStart - idleNapMs);
        for (let i = 0, t = roundStart; i < polls && this._running && t - roundStart < roundMs; i++) {
          const n = this.poll(t);
          work += n;
          t = performance.now();
          if (this._yield) break;
          if (n > 0) heardAt = t;
          else if (this._idleSleepMs > 0 && t - heardAt >= this._idleSleepMs) {
            t = this._idleSleep(t);
            // Napping, one sleep a round: the nap after it gives the CPU away for longer.
            if (napping) break;
          }
        }
        this._yield = false;
        const a = this.device.activity ?? 0;
        if (a !== activity) {
          work++;
          activity = a;
        }
        const now = performance.now();
        if (work > 0) lastWork = now;
        // Poll mode while traffic flows (a nap costs 1 to 2 ms, more than most round trips);
        // after idleNapMs without a frame, nap between rounds so an idle stack leaves the CPU.
        napping = now - lastWork > idleNapMs;
        const st = this.stalls;
        if (napping) {
          await new Promise((r) => setTimeout(r, 1));
          st.naps++;
          st.napMs += performance.now() - now;
        } else {
          await new Promise((r) => setImmediate(r));
          st.yields++;
          st.yieldMs += performance.now() - now;
        }
      }
    })();
    return this._stopped;
  }

  /** One sleep of an idle loop, cut short by a timer due sooner; returns the time after it. */
  private _idleSleep(now: number): number {
    const ms = Math.min(idleSleepMs, this.pollAt(now) - now);
    if (!(ms > 0)) return now;
    this.idleSleeps++;
    Atomics.wait(this._sleepCell, 0, 0, ms);
    return performance.now();
  }

  /** Ends {@link run} after its current round. */
  async stop(): Promise<void> {
    this._running = false;
    await this._stopped;
    this._stopped = undefined;
  }
}
