/**
 * A table of connections by 4-tuple (remote address, remote port, local
 * port; the local address is the stack's own, one per layer) to a small
 * integer id, as an open-addressing hash over typed arrays (linear probing,
 * deletion by backward shift, so there are no tombstones). The keys live in
 * the table beside the ids: a probe compares integers in one place and
 * touches no connection object, and a lookup allocates nothing. A slot is
 * 12 bytes; the table grows when it would be fuller than its load limit.
 *
 * The hash is keyed (HalfSipHash-1-3, as Linux's hsiphash for its hash
 * tables) with a secret of the stack's: tuples that collide cannot be
 * chosen offline, so a peer cannot make every lookup walk one long run
 * (hash flooding). Lookups that take more than {@link longProbeMin} probes
 * are counted all the same.
 *
 * The live connections and the TIME-WAIT records each have one.
 *
 * @module
 */

const empty = -1;
const initialSlots = 64;

/** Probes beyond which a lookup counts as long ({@link TupleTable.longProbes}). */
export const longProbeMin = 32;

const rotl = (x: number, b: number) => (x << b) | (x >>> (32 - b));

/**
 * HalfSipHash-1-3 (Aumasson and Bernstein; the 32-bit SipHash of Linux's
 * hsiphash) of the two words `m0`, `m1` (8 bytes) under the key `k0`, `k1`:
 * a 32-bit result. One round per word, three to finish.
 */
export function halfSipHash13(k0: number, k1: number, m0: number, m1: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  // Rounds 0..2 take one block each: m0, m1, then the length (8 bytes) in the top byte;
  // rounds 3..5 finish.
  for (let r = 0; r < 6; r++) {
    const m = r === 0 ? m0 : r === 1 ? m1 : 8 << 24;
    if (r < 3) v3 ^= m;
    else if (r === 3) v2 ^= 0xff;
    v0 = (v0 + v1) | 0;
    v1 = rotl(v1, 5) ^ v0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0;
    v3 = rotl(v3, 8) ^ v2;
    v0 = (v0 + v3) | 0;
    v3 = rotl(v3, 7) ^ v0;
    v2 = (v2 + v1) | 0;
    v1 = rotl(v1, 13) ^ v2;
    v2 = rotl(v2, 16);
    if (r < 3) v0 ^= m;
  }
  return (v1 ^ v3) >>> 0;
}

/** Options of a {@link TupleTable}. */
export interface TupleTableOptions {
  /**
   * The fraction of slots in use beyond which the table doubles (linear
   * probing wants room). Default 0.5.
   */
  maxLoad?: number;
  /** The hash key, two words; random by default. */
  key?: readonly [number, number];
}

/** Ids by 4-tuple; see the module documentation. */
export class TupleTable {
  private _ids = new Int32Array(initialSlots).fill(empty);
  private _ips = new Uint32Array(initialSlots);
  /** Local port in the high half, remote port in the low half. */
  private _ports = new Uint32Array(initialSlots);
  private _mask = initialSlots - 1;
  private _size = 0;
  private readonly _maxLoad: number;
  private readonly _k0: number;
  private readonly _k1: number;

  constructor(options: TupleTableOptions = {}) {
    this._maxLoad = options.maxLoad ?? 0.5;
    const key = options.key ?? crypto.getRandomValues(new Uint32Array(2));
    this._k0 = key[0] | 0;
    this._k1 = key[1] | 0;
  }

  /** Entries held. */
  get size(): number {
    return this._size;
  }

  /** Bytes of the slots, as allocated. */
  get bytes(): number {
    return this._ids.length * 12;
  }

  /** Lookups made ({@link get}), for those who count what a segment costs. */
  lookups = 0;
  /** Slots looked at by those lookups. */
  probes = 0;
  /** Lookups that looked at more than {@link longProbeMin} slots (a flood, or a bad key). */
  longProbes = 0;

  /** The id of the entry with this 4-tuple, or -1. */
  get(remoteIp: number, remotePort: number, localPort: number): number {
    this.lookups++;
    const ports = ((localPort << 16) | remotePort) >>> 0;
    const ip = remoteIp >>> 0;
    const ids = this._ids;
    const mask = this._mask;
    let n = 1;
    for (let i = this._hash(ip, ports) & mask;; i = (i + 1) & mask, n++) {
      const id = ids[i];
      if (id === empty || (this._ports[i] === ports && this._ips[i] === ip)) {
        this.probes += n;
        if (n > longProbeMin) this.longProbes++;
        return id;
      }
    }
  }

  private _hash(ip: number, ports: number): number {
    return halfSipHash13(this._k0, this._k1, ip, ports);
  }

  /** Adds `id` under a 4-tuple that must not be in the table. */
  add(remoteIp: number, remotePort: number, localPort: number, id: number): void {
    if (this._size + 1 > this._ids.length * this._maxLoad) this._resize(this._ids.length * 2);
    this._place(remoteIp >>> 0, ((localPort << 16) | remotePort) >>> 0, id);
    this._size++;
  }

  /** Gives the entry with this 4-tuple the id `id` (it keeps its slot); false if there is none. */
  set(remoteIp: number, remotePort: number, localPort: number, id: number): boolean {
    const ports = ((localPort << 16) | remotePort) >>> 0;
    const ip = remoteIp >>> 0;
    const ids = this._ids;
    const mask = this._mask;
    for (let i = this._hash(ip, ports) & mask;; i = (i + 1) & mask) {
      if (ids[i] === empty) return false;
      if (this._ports[i] === ports && this._ips[i] === ip) {
        ids[i] = id;
        return true;
      }
    }
  }

  /** Removes the entry with this 4-tuple; returns its id, or -1 if there was none. */
  delete(remoteIp: number, remotePort: number, localPort: number): number {
    const ports = ((localPort << 16) | remotePort) >>> 0;
    const ip = remoteIp >>> 0;
    const ids = this._ids;
    const mask = this._mask;
    let i = this._hash(ip, ports) & mask;
    for (;; i = (i + 1) & mask) {
      if (ids[i] === empty) return empty;
      if (this._ports[i] === ports && this._ips[i] === ip) break;
    }
    const gone = ids[i];
    // Backward shift: move later members of the run into the hole when their home allows it.
    let hole = i;
    for (let j = (i + 1) & mask; ids[j] !== empty; j = (j + 1) & mask) {
      const home = this._hash(this._ips[j], this._ports[j]) & mask;
      // The member at j may fill the hole if its home is not in (hole, j] (cyclically).
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        ids[hole] = ids[j];
        this._ips[hole] = this._ips[j];
        this._ports[hole] = this._ports[j];
        hole = j;
      }
    }
    ids[hole] = empty;
    this._size--;
    // Mostly empty again (a crowd left): give the memory back, keeping room to grow.
    if (this._size * 8 < ids.length && ids.length > initialSlots) this._resize(ids.length >>> 1);
    return gone;
  }

  private _place(ip: number, ports: number, id: number): void {
    const ids = this._ids;
    const mask = this._mask;
    let i = this._hash(ip, ports) & mask;
    while (ids[i] !== empty) i = (i + 1) & mask;
    ids[i] = id;
    this._ips[i] = ip;
    this._ports[i] = ports;
  }

  private _resize(n: number): void {
    const ids = this._ids;
    const ips = this._ips;
    const ports = this._ports;
    this._ids = new Int32Array(n).fill(empty);
    this._ips = new Uint32Array(n);
    this._ports = new Uint32Array(n);
    this._mask = n - 1;
    for (let i = 0; i < ids.length; i++) if (ids[i] !== empty) this._place(ips[i], ports[i], ids[i]);
  }
}
