/**
 * A retransmitted SYN goes ahead of the flood. Under a SYN flood beyond the
 * cookie budget (syn_budget.ts) most SYNs are shed, a legitimate client's
 * among them, and it sends the same SYN again after its initial RTO (RFC
 * 6298 5.7: 1 s; the same 4-tuple and the same ISN). A flood's SYNs seldom
 * repeat one: a spoofed source has no reason to, and each carries a fresh
 * sequence number. So the listener remembers each SYN it shed (a bit per
 * hash of source address, ports and sequence number, for two generations of
 * {@link shedMemoryGenerationMs}) and answers a SYN it finds there with a
 * cookie even though the budget is spent, up to as many a loop iteration as
 * the budget itself. Without this, a client's retransmission met the same odds
 * as its first SYN, and under a flood a connection took 3 s or 7 s to open.
 *
 * What it costs: a multiply-and-xor hash and a test of two bits of one word
 * of each generation per shed SYN (two cache lines), and 2 MiB for the two generations, taken
 * when a SYN is first shed. What an attacker can get from it: SYNs it
 * repeats (or that hash alike) are answered at most once each, at most as
 * many an iteration as the budget and a second as the cookie rate
 * (syn_budget.ts), so the cookies sent stay under twice each bound. A
 * flood's chance hits take from that same bounded share, and they must stay
 * rare, or they spend it before a client's retransmission comes. Simulated
 * with random keys, at 60k, 150k and 290k SYN/s: with 2^16 words (512 KiB),
 * 1.9%, 7.4% and 17% of the flood hit (at 290k, 50k a second: ten times the
 * default cookie rate, and a client's SYN sent again was shed again); with
 * 2^18 words, 0.3%, 1% and 2.5% (7k a second at 290k). With 2^19 words (4
 * MiB) 0.9% at 290k, but the test of each shed SYN missed the caches often
 * enough to take 6% of the stack's time under a 93k SYN/s flood (a CPU
 * profile of bench/synflood.ts); three bits a key in 2^17 words, 5.9%.
 *
 * @module
 */

/** How long a generation of the memory lasts, in ms: longer than the 1 s initial RTO of RFC 6298 (2.1). */
export const shedMemoryGenerationMs = 1500;

const wordsLog2 = 18;

/** Which SYNs were shed lately, by a hash of source address, ports and sequence number. */
export class ShedMemory {
  // Two generations of 2^wordsLog2 words, one after the other (generation g of word w at
  // g * 2^wordsLog2 + w): a test reads two cache lines, and forgetting a generation is one fill
  // (interleaved word by word, a test read one line, but the loop that cleared every other word
  // took 7 to 30 ms the first times it ran, before the JIT compiled it: a stall that fills the
  // receive ring under a flood). A key sets two bits of one word (a blocked Bloom filter): a
  // flood's SYN that finds both set by chance is much rarer than one finding a single bit.
  // Allocated when the first SYN is shed: a stack never flooded pays nothing.
  private _bits = new Uint32Array(0);
  private _gen = 0;
  private _since = -Infinity;

  /** A 32-bit hash of the SYN's source address and port, destination port and sequence number. */
  static key(srcIp: number, srcPort: number, dstPort: number, seq: number): number {
    let h = Math.imul(srcIp ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 15) ^ ((srcPort << 16) | dstPort), 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 13) ^ seq, 0x27d4eb2f);
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** At `now` (ms): the older generation is forgotten once the current one is a generation old. */
  age(now: number): void {
    if (now - this._since < shedMemoryGenerationMs || this._bits.length === 0) return;
    const old = this._gen ^ 1;
    this._bits.fill(0, old << wordsLog2, (old + 1) << wordsLog2);
    this._gen = old;
    this._since = now;
  }

  /** Remembers a shed SYN's key. */
  add(key: number): void {
    if (this._bits.length === 0) this._bits = new Uint32Array(2 << wordsLog2);
    this._bits[(this._gen << wordsLog2) | (key >>> (32 - wordsLog2))] |= (1 << (key & 31)) |
      (1 << ((key >>> 5) & 31));
  }

  /**
   * A SYN being shed, in one pass over its two words: true if its key was
   * shed lately (then it is forgotten, as by {@link take}), else false and
   * the key is remembered (as by {@link add}).
   */
  takeOrAdd(key: number): boolean {
    let bits = this._bits;
    if (bits.length === 0) bits = this._bits = new Uint32Array(2 << wordsLog2);
    const w = key >>> (32 - wordsLog2);
    const w1 = w | (1 << wordsLog2);
    const b = (1 << (key & 31)) | (1 << ((key >>> 5) & 31));
    if (((bits[w] | bits[w1]) & b) === b) {
      bits[w] &= ~b;
      bits[w1] &= ~b;
      return true;
    }
    bits[(this._gen << wordsLog2) | w] |= b;
    return false;
  }

  /** Whether the key was shed lately; it is forgotten (a SYN goes ahead once). */
  take(key: number): boolean {
    const bits = this._bits;
    if (bits.length === 0) return false;
    const w = key >>> (32 - wordsLog2);
    const w1 = w | (1 << wordsLog2);
    const b = (1 << (key & 31)) | (1 << ((key >>> 5) & 31));
    if (((bits[w] | bits[w1]) & b) !== b) return false;
    bits[w] &= ~b;
    bits[w1] &= ~b;
    return true;
  }
}
