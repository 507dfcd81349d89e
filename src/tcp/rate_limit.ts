/**
 * A token bucket limiting how many challenge ACKs a stack sends, per RFC 5961
 * (section 7, "ACK throttling"): blind-attack defences answer suspicious RSTs,
 * SYNs and ACKs with challenge ACKs (sections 3.2, 4.2, 5.2), and an attacker
 * must not be able to turn that into an amplifier. The RFC asks for a
 * configurable limit; 1000 per second is what it discusses and what Linux long
 * used (net.ipv4.tcp_challenge_ack_limit).
 *
 * A note from CVE-2016-5696: a limit shared by all connections, with an exact
 * and predictable budget, lets an off-path attacker count challenge ACKs and
 * infer sequence numbers. Prefer one bucket per connection (each is a few
 * numbers), so that one connection's challenge ACKs tell nothing about
 * another's.
 *
 * Time comes in as `now` (milliseconds); the clock is never read here.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./rate_limit.ts";
 * const limit = new TokenBucket(); // 1000 per second, burst 1000
 * if (limit.take(1234.5)) {
 *   // send the challenge ACK
 * }
 * ```
 *
 * @module
 */

/** Default challenge ACKs allowed per second (RFC 5961 7; Linux tcp_challenge_ack_limit of old). */
export const challengeAckLimitPerSecond = 1000;

/** A token bucket refilled continuously from `now`: `ratePerSecond` tokens a second, at most `burst` held. */
export class TokenBucket {
  /** Tokens added per millisecond. */
  readonly ratePerMs: number;
  /** Most tokens the bucket holds. */
  readonly burst: number;
  #tokens: number;
  #last: number;

  /**
   * A full bucket. `ratePerSecond` defaults to {@link challengeAckLimitPerSecond};
   * `burst` (the most sent back to back) defaults to one second's worth.
   */
  constructor(ratePerSecond = challengeAckLimitPerSecond, burst = ratePerSecond, now = 0) {
    if (!(ratePerSecond >= 0) || !(burst >= 0)) {
      throw new RangeError(`rate and burst must be >= 0, got ${ratePerSecond} and ${burst}`);
    }
    this.ratePerMs = ratePerSecond / 1000;
    this.burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Tokens available at `now` (after refilling), possibly fractional. */
  available(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Takes one token if there is one at `now`; whether it did. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #refill(now: number): void {
    const elapsed = now - this.#last;
    // A clock that stands still or steps back adds nothing.
    if (elapsed <= 0) return;
    this.#last = now;
    const t = this.#tokens + elapsed * this.ratePerMs;
    this.#tokens = t < this.burst ? t : this.burst;
  }
}
