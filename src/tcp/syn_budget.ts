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
 * The budget is `perPoll` answers, refilled at every loop iteration (a
 * poll): a busy stack whose bursts come full sheds most of a flood, and an
 * idle one, polling often with few frames a burst, answers every SYN. (A
 * refill at most once a millisecond, so that the answers leave in batches
 * and fewer polls pay a transmit burst, sent about a tenth of the cookies
 * under bench/synflood.ts's flood; but a client's first SYN was then
 * answered that much less often, connecting took a retransmission (1 s) in
 * most rounds, and no gain in the established connections' goodput showed
 * above the shared machine's noise in three A/B runs: not kept.)
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

/** Cookie SYN-ACKs one loop iteration sends at most (TcpConfig.synCookiesPerPoll). */
export class SynBudget {
  /** What each poll restores. */
  readonly perPoll: number;
  private _left: number;
  private _retriesLeft: number;

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

  /** A new iteration: the budget is whole again. */
  refill(): void {
    this._left = this.perPoll;
    this._retriesLeft = this.perPoll;
  }

  /**
   * Whether a retransmitted SYN may go ahead of the flood (syn_retry.ts):
   * as many an iteration as the budget; one granted adds an answer to this
   * iteration's budget, which the SYN then takes.
   */
  grantRetry(): boolean {
    if (this._retriesLeft <= 0) return false;
    this._retriesLeft--;
    this._left++;
    return true;
  }
}
