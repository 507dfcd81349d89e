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
import { TokenBucket } from "./rate_limit.ts";

/**
 * Cookie SYN-ACKs one loop iteration sends at most (TcpConfig.synCookiesPerPoll),
 * and one second at most (TcpConfig.synCookiesPerSecond).
 *
 * The second bound is a token bucket (rate_limit.ts): `perSecond` tokens a
 * second, held up to {@link SynBudget.burst} (10 ms of them), one taken by
 * each cookie SYN-ACK.
 * The per-iteration budget alone bounds a flood's answers by the poll rate,
 * and a stack that polls a million times a second with a frame or two a burst
 * (it waits for work, busy-polling) answered a third or more of a 170k SYN/s
 * flood: each answer costs a transmit and, on a veth or af_packet, a trip
 * through the kernel (bench/synflood_where.ts measured a third of the stack's
 * CPU in sendto(2) under a flood alone, nearly all of it per frame: the veth
 * and the peer's receive path, which run on the sender's CPU; the system
 * call itself was a few percent, so batching the answers into fewer calls
 * would save little). The bucket bounds that cost by time, whatever the
 * poll rate.
 *
 * The bucket protects established connections, so it bounds the answers
 * only while the stack holds some (Handshake.poll): a stack with none has
 * no one to lose the CPU, and answers up to the per-iteration budget, so that
 * the first clients under a flood connect sooner.
 */
export class SynBudget {
  /** What each poll restores. */
  readonly perPoll: number;
  /** Tokens a second (cookie SYN-ACKs a second at most). */
  readonly perSecond: number;
  /** Tokens the bucket holds at most: 10 ms of {@link perSecond}, at least {@link perPoll}. */
  readonly burst: number;
  private _left: number;
  private _retriesLeft: number;
  /** The flood's bucket and the retransmitted SYNs' (undefined: no rate). */
  private readonly _bucket: TokenBucket | undefined;
  private readonly _retryBucket: TokenBucket | undefined;
  private _now = 0;
  private _limited = true;
  private _granted = false;
  // What spent and rateLimited answer, worked out at the first question after a refill or a
  // take: within an iteration the bucket gains nothing (its time is the iteration's), so the
  // answers change only when a token is taken, and the flood's shed SYNs ask them without
  // refilling the bucket each time (nor does an iteration with no SYN).
  private _settled = false;
  private _spent = false;
  private _rateLimited = false;

  /** `perPoll` and `perSecond`: integers >= 1, or Infinity for no bound. */
  constructor(perPoll: number, perSecond = Infinity) {
    if (!(perPoll === Infinity || (Number.isInteger(perPoll) && perPoll >= 1))) {
      throw new ConfigError("tcp.synCookiesPerPoll", `expected an integer >= 1 or Infinity, got ${perPoll}`);
    }
    if (!(perSecond === Infinity || (Number.isInteger(perSecond) && perSecond >= 1))) {
      throw new ConfigError(
        "tcp.synCookiesPerSecond",
        `expected an integer >= 1 or Infinity, got ${perSecond}`,
      );
    }
    this.perPoll = perPoll;
    this.perSecond = perSecond;
    this.burst = Math.max(Math.ceil(perSecond / 100), perPoll === Infinity ? 1 : perPoll);
    this._left = perPoll;
    this._retriesLeft = perPoll;
    if (perSecond !== Infinity) {
      this._bucket = new TokenBucket(perSecond, this.burst, -Infinity);
      this._retryBucket = new TokenBucket(perSecond, this.burst, -Infinity);
    }
  }

  /** Whether this iteration's budget or the bucket is spent (the next cookie SYN is shed). */
  get spent(): boolean {
    if (!this._settled) this._settle();
    return this._spent;
  }

  /** Whether the bucket bounds now and is empty. */
  get rateLimited(): boolean {
    if (!this._settled) this._settle();
    return this._rateLimited;
  }

  private _settle(): void {
    this._rateLimited = this._limited && this._bucket !== undefined && this._bucket.available(this._now) < 1;
    this._spent = this._left <= 0 || this._rateLimited;
    this._settled = true;
  }

  /**
   * Takes one answer from this iteration's budget and the bucket (or the
   * answer a retransmitted SYN was granted); false: none left, shed the SYN.
   */
  take(): boolean {
    if (this._granted) {
      this._granted = false;
      return true;
    }
    if (this.spent) return false;
    this._left--;
    this._bucket?.take(this._now); // unbounded (not limited): takes a token if there is one
    this._settled = false;
    return true;
  }

  /**
   * A new iteration at `now` (ms): the budget is whole again (the buckets
   * fill with time). `limited`: whether the bucket bounds this iteration's
   * answers (while established connections have the CPU to lose); when not,
   * answers still take its tokens, as far as it has them.
   */
  refill(now: number, limited = true): void {
    this._left = this.perPoll;
    this._retriesLeft = this.perPoll;
    this._limited = limited;
    this._granted = false;
    this._now = now;
    this._settled = false;
  }

  /**
   * Whether a retransmitted SYN may go ahead of the flood (syn_retry.ts):
   * as many an iteration as the budget, and from a bucket of their own as
   * large as the flood's (a flood spends its bucket first); one granted is
   * the answer the next {@link take} returns. So the cookies sent stay under
   * twice each bound.
   */
  grantRetry(): boolean {
    if (this._retriesLeft <= 0) return false;
    const b = this._retryBucket;
    if (b !== undefined) {
      if (this._limited && b.available(this._now) < 1) return false;
      b.take(this._now);
    }
    this._retriesLeft--;
    this._granted = true;
    return true;
  }
}
