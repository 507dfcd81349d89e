/**
 * Shedding a SYN flood before it costs more than it must: a listener whose
 * backlog is full answers SYNs with cookies (RFC 4987 3.6), and each answer
 * costs a keyed hash, a SYN-ACK and a transmit slot. Beyond a budget the
 * rest of the cookie SYNs are dropped unanswered and counted (`synsShed`):
 * established connections' segments, which arrive in the same bursts, are
 * never shed and keep their share of the core. A legitimate client whose SYN
 * was shed sends it again (RFC 6298 5.7: after its initial RTO), as it would
 * after a loss.
 *
 * The budget is `perPoll` answers, refilled at a loop iteration (a poll)
 * when at least {@link synBudgetPeriodMs} has passed since the last refill:
 * the answers of a flood leave in batches, at most `perPoll` per period,
 * however often the loop polls. Refilled at every poll instead, a loop that
 * polls often (a few frames a burst, as while it keeps up with a flood)
 * answered a few SYNs at every poll, and each of those polls then paid a
 * transmit burst of its own (on af_packet and af_xdp a system call that also
 * carries the kernel's work for the frames): under a flood of ~80k SYN/s
 * on the shared two cores, 8 answers a poll came to ~25k SYN-ACKs a second,
 * and the receive ring dropped twice as many frames as with the batches
 * (bench/synflood.ts, README). Light SYN rates are all answered still: 8 a
 * millisecond is 8,000 a second.
 *
 * Only the stateless path is budgeted: SYNs that take a backlog slot are
 * already bounded by the backlog, and a SYN for a connection that exists
 * never reaches a listener. Once the budget is spent, a shed SYN costs as
 * little as it can: the receive path drops a bare SYN to a listener whose
 * backlog is full from its fixed header alone (Handshake.shedsEarly), before
 * its options are parsed or any table is looked up. A bare SYN for a
 * connection that does exist (a retransmitted SYN in SYN-RECEIVED, a SYN
 * into ESTABLISHED that would draw a challenge ACK) is then shed with the
 * flood, as a congested link would lose it: its sender retransmits, and the
 * connection's own timers go on.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/** Least time between two refills of the budget, in ms. */
export const synBudgetPeriodMs = 1;

/** Cookie SYN-ACKs sent at most per refill (TcpConfig.synCookiesPerPoll), a refill per period at most. */
export class SynBudget {
  /** What each poll restores. */
  readonly perPoll: number;
  private _left: number;
  private _retriesLeft: number;
  private _refilledAt = -Infinity;

  /** `perPoll`: an integer >= 1, or Infinity for no budget. */
  constructor(perPoll: number) {
    if (!(perPoll === Infinity || (Number.isInteger(perPoll) && perPoll >= 1))) {
      throw new ConfigError("tcp.synCookiesPerPoll", `expected an integer >= 1 or Infinity, got ${perPoll}`);
    }
    this.perPoll = perPoll;
    this._left = perPoll;
    this._retriesLeft = perPoll;
  }

  /** Whether this iteration's budget is spent (the next cookie SYN is shed). */
  get spent(): boolean {
    return this._left <= 0;
  }

  /** Takes one answer from this iteration's budget; false: none left, shed the SYN. */
  take(): boolean {
    if (this._left <= 0) return false;
    this._left--;
    return true;
  }

  /** A new iteration at `now` (ms): the budget is whole again if a period has passed since the last refill. */
  refill(now: number): void {
    if (now - this._refilledAt < synBudgetPeriodMs) return;
    this._refilledAt = now;
    this._left = this.perPoll;
    this._retriesLeft = this.perPoll;
  }

  /**
   * Whether a retransmitted SYN may go ahead of the flood (syn_retry.ts):
   * as many a period as the budget; one granted adds an answer to this
   * period's budget, which the SYN then takes.
   */
  grantRetry(): boolean {
    if (this._retriesLeft <= 0) return false;
    this._retriesLeft--;
    this._left++;
    return true;
  }
}
