/**
 * The timers of TCP's connections: one wheel slot per connection holding the
 * earliest of its deadlines (RFC 6298 retransmission, RFC 1122 4.2.3.2
 * delayed ACK, RFC 9293 3.8.6.1 persist, RFC 1122 4.2.3.6 keepalive), how
 * each is armed, and what each does when it fires. TIME-WAIT keeps no
 * control block and no wheel slot (time_wait.ts).
 *
 * Read first: RFC 6298 (5) (managing the retransmission timer), RFC 5681 3.1
 * (what a timeout does to the window), RFC 9293 3.8.6.1 (zero-window probes).
 *
 * @module
 */
import { TcpFlags } from "../wire/mod.ts";
import type { TcpContext } from "./context.ts";
import { frtoEligible, frtoStart } from "./frto.ts";
import { RackTimer } from "./rack.ts";
import { reorderTimerFired, timeoutRecovery } from "./recovery.ts";
import { State } from "./state.ts";
import { type Tcb, tsNow } from "./tcb.ts";
import { idCapacityMinDefault } from "./id_pool.ts";
import { TimerWheel } from "./timer_wheel.ts";
import { probeTimerFired } from "./tlp.ts";

/** The connections' timers; see the module documentation. */
export class TcpTimers {
  private readonly _x: TcpContext;
  private readonly _wheel = new TimerWheel(idCapacityMinDefault, { tickMs: 1 });
  private readonly _tcbs: readonly (Tcb | undefined)[];
  private readonly _expire = (id: number) => this._onTimer(id);
  private _now = 0;

  /** `tcbs`: the layer's connections by id (an id is also the connection's wheel slot). */
  constructor(x: TcpContext, tcbs: readonly (Tcb | undefined)[]) {
    this._x = x;
    this._tcbs = tcbs;
  }

  /** Makes the wheel hold connection ids below `capacity` (the layer's id pool's). */
  resize(capacity: number): void {
    this._wheel.resize(capacity);
  }

  /** Connection ids the wheel holds. */
  get capacity(): number {
    return this._wheel.capacity;
  }

  /** Bytes of the wheel, as allocated. */
  get bytes(): number {
    return this._wheel.bytes;
  }

  /** Fires what is due at `now`. */
  advance(now: number): void {
    this._now = now;
    this._wheel.advance(now, this._expire);
  }

  /** When the next timer is due (Infinity: none armed). */
  pollAt(): number {
    return this._wheel.pollAt();
  }

  /** Disarms every timer of `tcb`'s slot. */
  cancel(tcb: Tcb): void {
    this._wheel.cancel(tcb.id);
  }

  /**
   * Re-arms the connection's wheel slot for its earliest deadline. Only a
   * deadline earlier than the slot's touches the wheel: one that moved later
   * (the retransmission timer restarted by an ACK, a probe timeout replacing
   * it, a timer stopped) leaves the slot where it is, and when it fires early
   * {@link _onTimer} finds nothing due and arms it for the deadline then. A
   * busy connection moves its deadlines on every segment; this way the wheel
   * sees it about once per RTO instead (as Linux lets a timer fire and
   * re-arms it rather than moving it on every ACK).
   */
  rearm(tcb: Tcb): void {
    if (tcb.dead) return;
    const d = tcb.nextDeadline();
    if (d < this._wheel.deadlineOf(tcb.id)) this._wheel.arm(tcb.id, d);
  }

  /** Starts the retransmission timer if it is not running (RFC 6298 (5.1)). */
  armRetransmit(tcb: Tcb, now: number): void {
    if (tcb.rtxAt === Infinity) {
      tcb.rtxAt = now + tcb.rto.rtoMs;
      this.rearm(tcb);
    }
  }

  /** The delayed-ACK timer (RFC 1122 4.2.3.2). */
  armDelayedAck(tcb: Tcb, now: number): void {
    if (tcb.delackAt === Infinity) {
      tcb.delackAt = now + this._x.config.delayedAckMs;
      this.rearm(tcb);
    }
  }

  /** The persist timer (RFC 9293 3.8.6.1): probe a zero window. */
  armPersist(tcb: Tcb, now: number): void {
    if (tcb.persistAt === Infinity) {
      const base = Math.max(tcb.rto.rtoMs, 200);
      tcb.persistAt = now + Math.min(base * 2 ** tcb.persistBackoff, 60_000);
      this.rearm(tcb);
    }
  }

  /**
   * The user timeout restarts from `now` while data waits (on a write to an
   * empty queue, and on each ACK of new data), and stops when none does.
   */
  progress(tcb: Tcb, now: number): void {
    const ms = tcb.userTimeoutMs ?? this._x.config.userTimeoutMs;
    const at = ms > 0 && tcb.sendq.bytes > 0 ? now + ms : Infinity;
    if (at !== tcb.stallAt) {
      tcb.stallAt = at;
      this.rearm(tcb);
    }
  }

  /** Idle again: the keepalive timer restarts. */
  keepaliveReset(tcb: Tcb, now: number): void {
    const c = this._x.config;
    if (!(tcb.keepalive ?? c.keepalive)) return;
    tcb.keepaliveProbesSent = 0;
    tcb.keepaliveAt = now + (tcb.keepaliveIdleMs ?? c.keepaliveIdleMs);
    this.rearm(tcb);
  }

  private _onTimer(id: number): void {
    const tcb = this._tcbs[id];
    if (tcb === undefined) return;
    const now = this._now;
    const out = this._x.out;
    if (tcb.stallAt <= now) {
      // RFC 9293 3.8.3: the user timeout ends the connection.
      tcb.stallAt = Infinity;
      const ms = tcb.userTimeoutMs ?? this._x.config.userTimeoutMs;
      this._x.counters.userTimeouts++;
      out.sendControl(tcb, TcpFlags.rst | TcpFlags.ack, tcb.sndMax, now);
      this._x.counters.outRsts++;
      this._x.conns.destroy(tcb, `connection timed out: nothing acknowledged for ${ms} ms`, now);
      return;
    }
    if (tcb.rtxAt <= now) {
      // RFC 8985 8: the slot holds the RTO, RACK's reordering timer or the probe timeout.
      const kind = tcb.rack === undefined ? RackTimer.none : tcb.rack.timerOf(tcb.rtxAt);
      tcb.rtxAt = Infinity;
      if (kind === RackTimer.reorder) reorderTimerFired(this._x, tcb, now);
      else if (kind === RackTimer.probe) probeTimerFired(this._x, tcb, now);
      else this._retransmitTimeout(tcb, now);
      if (tcb.dead) return;
    }
    if (tcb.delackAt <= now) {
      tcb.delackAt = Infinity;
      if (tcb.unackedSegs > 0 || tcb.ackNow) out.sendAck(tcb, now);
    }
    if (tcb.persistAt <= now) {
      tcb.persistAt = Infinity;
      if (((tcb.sndWl2 + tcb.sndWnd - tcb.sndNxt) | 0) <= 0 && tcb.flight === 0 && tcb.sendq.bytes > 0) {
        // A window probe: an old sequence number elicits an ACK with the window.
        out.sendControl(tcb, TcpFlags.ack, (tcb.sndUna - 1) >>> 0, now);
        tcb.stats.zeroWindowProbes++;
        tcb.persistBackoff = Math.min(tcb.persistBackoff + 1, 10);
        this.armPersist(tcb, now);
      } else {
        tcb.persistBackoff = 0;
        tcb.swsOverride = true;
        out.output(tcb, now);
      }
    }
    if (tcb.keepaliveAt <= now) {
      tcb.keepaliveAt = Infinity;
      this._keepalive(tcb, now);
      if (tcb.dead) return;
    }
    if (tcb.paceAt <= now) {
      tcb.paceAt = Infinity; // the pacer's release time came (pacer.ts)
      out.output(tcb, now);
    }
    // Nothing in flight: RACK's segment log goes back to its pool until data leaves again.
    if (tcb.rack !== undefined && tcb.flight === 0) tcb.rack.idle();
    this.rearm(tcb);
  }

  /** RFC 6298 (5.4)-(5.7) and RFC 5681 (3.1): the retransmission timer expired. */
  private _retransmitTimeout(tcb: Tcb, now: number): void {
    const { config, counters, out, conns } = this._x;
    const s = tcb.state;
    if (s === State.synSent || s === State.synReceived) {
      if (tcb.retransmits >= config.synRetries) {
        conns.destroy(tcb, s === State.synSent ? "connection timed out" : undefined, now);
        return;
      }
      tcb.retransmits++;
      tcb.rto.backoff();
      tcb.stats.retransTimeouts++;
      counters.retransTimeouts++;
      tcb.stats.retransSegs++;
      counters.retransSegs++;
      out.sendControl(tcb, s === State.synSent ? TcpFlags.syn : TcpFlags.syn | TcpFlags.ack, tcb.iss, now);
      tcb.rtxAt = now + tcb.rto.rtoMs;
      return;
    }
    if (tcb.flight === 0) return;
    if (tcb.retransmits >= config.maxRetransmits) {
      conns.destroy(tcb, "connection timed out", now);
      return;
    }
    tcb.retransmits++;
    tcb.stats.retransTimeouts++;
    counters.retransTimeouts++;
    // A timeout during F-RTO's steps ends them: the conventional recovery from here.
    const frto = frtoEligible(this._x, tcb);
    tcb.frtoStage = 0;
    tcb.cc.onRetransmitTimeout(now, tcb.flight, tcb.sndNxt);
    const rack = tcb.rack;
    if (frto) {
      // RFC 5682 2.1 step 1: the first segment again, SND.NXT kept; RACK's and the
      // scoreboard's timeout marking wait until the ACKs show the timeout real (frto.ts).
      if (rack !== undefined) {
        rack.timerKind = RackTimer.none;
        rack.tlpActive = false;
      }
      tcb.rto.backoff();
      tcb.rttSeq = -1; // Karn
      tcb.tsSampleFloor = tsNow(now);
      frtoStart(this._x, tcb, now);
      if (tcb.rtxAt === Infinity) tcb.rtxAt = now + tcb.rto.rtoMs;
      return;
    }
    tcb.rto.backoff();
    tcb.rttSeq = -1; // Karn
    tcb.tsSampleFloor = tsNow(now);
    timeoutRecovery(this._x, tcb, now, true);
    out.output(tcb, now);
    if (tcb.rtxAt === Infinity && tcb.flight > 0) tcb.rtxAt = now + tcb.rto.rtoMs;
  }

  /** RFC 1122 4.2.3.6: probe an idle connection, and give up after the configured probes. */
  private _keepalive(tcb: Tcb, now: number): void {
    const c = this._x.config;
    const idle = tcb.keepaliveIdleMs ?? c.keepaliveIdleMs;
    const interval = tcb.keepaliveIntervalMs ?? c.keepaliveIntervalMs;
    const probes = tcb.keepaliveProbes ?? c.keepaliveProbes;
    if (now - tcb.lastRecvAt < idle && tcb.keepaliveProbesSent === 0) {
      tcb.keepaliveAt = tcb.lastRecvAt + idle;
      return;
    }
    if (tcb.keepaliveProbesSent > 0 && tcb.lastRecvAt > now - interval * tcb.keepaliveProbesSent) {
      this.keepaliveReset(tcb, now); // the peer answered
      return;
    }
    if (tcb.keepaliveProbesSent >= probes) {
      this._x.counters.keepaliveTimeouts++;
      this._x.conns.destroy(tcb, "keepalive timed out", now);
      return;
    }
    tcb.keepaliveProbesSent++;
    this._x.out.sendControl(tcb, TcpFlags.ack, (tcb.sndUna - 1) >>> 0, now); // RFC 1122 4.2.3.6
    tcb.keepaliveAt = now + interval;
  }
}
