/**
 * A retransmitted SYN goes ahead of the flood. Under a SYN flood beyond the
 * cookie budget (syn_budget.ts) most SYNs are shed, a legitimate client's
 * among them, and it sends the same SYN again after its initial RTO (RFC
 * 6298 5.7: 1 s; the same 4-tuple and the same ISN). A flood's SYNs seldom
 * repeat one: a spoofed source has no reason to, and each carries a fresh
 * sequence number. So the listener remembers each SYN it shed (a fingerprint
 * of a hash of source address, ports and sequence number) and answers a SYN it finds there with a
 * cookie even though the budget is spent, up to as many a loop iteration as
 * the budget itself. Without this, a client's retransmission met the same odds
 * as its first SYN, and under a flood a connection took 3 s or 7 s to open.
 *
 * A flood's SYN that the memory takes for a retransmission by chance goes
 * ahead too, and takes from the same bounded share (at most as many an
 * iteration as the budget, and a second as the cookie rate, syn_budget.ts:
 * the cookies sent stay under twice each bound), so such chance hits must
 * stay rare, or they spend the share before a client's retransmission comes.
 *
 * The memory is a table of 16-bit fingerprints of the keys, in buckets of
 * eight 16-bit words (one word the bucket's cursor, seven fingerprints, 16
 * bytes: one cache line read a shed SYN), each bucket overwritten in turn,
 * oldest first: 2^17 buckets, 2 MiB, allocated when the first SYN is shed,
 * hold the last ~900k SYNs shed, so a retransmission after 1 s is still
 * there under floods up to ~400k SYN/s. A flood's SYN finds its fingerprint
 * by chance about once in 9000 (7 in 2^16), or its whole 32-bit key among the
 * ~900k held (once in ~5000). Simulated with random ports and ISNs shed at
 * 60k, 150k, 300k and 450k SYN/s: 0.007%, 0.015%, 0.024% and 0.023% of the
 * flood hit, and 100%, 100%, 99% and 95% of the SYNs sent again 1 s later
 * were found. The blocked Bloom filter this replaces (two
 * bits a key in one word of 2^18, two generations of 1.5 s) hit 0.25%,
 * 0.8%, 2.1% and 3.7% alike, and under bench/synflood_connect.ts's floods
 * of 160-450k SYN/s 5-78k SYNs a run went ahead as retransmissions, nearly
 * all of them chance hits (the clients sent 0-20 SYNs again): up to several
 * thousand a second, as many as the retries' bucket holds (5000 a second
 * while connections are established), and a client's SYN sent again could
 * be shed again (connects of 3 s and 7 s showed in those runs).
 *
 * @module
 */

/** Buckets of the table, log2. */
const bucketsLog2 = 17;
/** 16-bit words a bucket takes: its cursor, then the fingerprints. */
const bucketWords = 8;

/** Which SYNs were shed lately, by a fingerprint of a hash of source address, ports and sequence number. */
export class ShedMemory {
  // Bucket b is words b * bucketWords ..: word 0 the slot written last (1..7), then seven
  // fingerprints, 0 for none. Allocated when the first SYN is shed: a stack never flooded pays nothing.
  private _t = new Uint16Array(0);

  /** A 32-bit hash of the SYN's source address and port, destination port and sequence number. */
  static key(srcIp: number, srcPort: number, dstPort: number, seq: number): number {
    let h = Math.imul(srcIp ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 15) ^ ((srcPort << 16) | dstPort), 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 13) ^ seq, 0x27d4eb2f);
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** Remembers a shed SYN's key (in its bucket, in place of the oldest). */
  add(key: number): void {
    if (this._t.length === 0) this._t = new Uint16Array(bucketWords << bucketsLog2);
    this._put(this._t, (key >>> (32 - bucketsLog2)) * bucketWords, fingerprint(key));
  }

  /**
   * A SYN being shed, in one pass over its bucket: true if its key was shed
   * lately (then it is forgotten, as by {@link take}), else false and the
   * key is remembered (as by {@link add}).
   */
  takeOrAdd(key: number): boolean {
    let t = this._t;
    if (t.length === 0) t = this._t = new Uint16Array(bucketWords << bucketsLog2);
    const base = (key >>> (32 - bucketsLog2)) * bucketWords;
    const fp = fingerprint(key);
    if (this._find(t, base, fp)) return true;
    this._put(t, base, fp);
    return false;
  }

  /** Whether the key was shed lately; it is forgotten (a SYN goes ahead once). */
  take(key: number): boolean {
    const t = this._t;
    if (t.length === 0) return false;
    return this._find(t, (key >>> (32 - bucketsLog2)) * bucketWords, fingerprint(key));
  }

  private _find(t: Uint16Array, base: number, fp: number): boolean {
    for (let j = 1; j < bucketWords; j++) {
      if (t[base + j] === fp) {
        t[base + j] = 0;
        return true;
      }
    }
    return false;
  }

  private _put(t: Uint16Array, base: number, fp: number): void {
    const c = t[base] >= bucketWords - 1 ? 1 : t[base] + 1;
    t[base] = c;
    t[base + c] = fp;
  }
}

/**
 * The 16 bits of a key kept in its bucket, never 0 (an empty slot): from a
 * multiplicative hash of the whole key, so that they do not repeat the bits
 * that chose the bucket.
 */
function fingerprint(key: number): number {
  return (Math.imul(key, 0x9e3779b1) >>> 16) || 1;
}
