/**
 * A table of connections by 4-tuple (remote address, remote port, local
 * port; the local address is the stack's own, one per layer) to a small
 * integer id, as an open-addressing hash over typed arrays (linear probing,
 * deletion by backward shift, so there are no tombstones). The keys live in
 * the table beside the ids: a probe compares integers in one place and
 * touches no connection object, and a lookup allocates nothing. A slot is
 * 12 bytes; the table grows when it would be fuller than its load limit.
 *
 * The live connections and the TIME-WAIT records each have one.
 *
 * @module
 */

const empty = -1;
const initialSlots = 64;

/** The 4-tuple's hash. */
function hash(remoteIp: number, ports: number): number {
  let h = Math.imul(remoteIp ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(ports ^ (h >>> 15), 0xc2b2ae35);
  return (h ^ (h >>> 13)) >>> 0;
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

  /** `maxLoad`: the fraction of slots in use beyond which the table doubles (linear probing wants room). */
  constructor(maxLoad = 0.5) {
    this._maxLoad = maxLoad;
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

  /** The id of the entry with this 4-tuple, or -1. */
  get(remoteIp: number, remotePort: number, localPort: number): number {
    this.lookups++;
    const ports = ((localPort << 16) | remotePort) >>> 0;
    const ip = remoteIp >>> 0;
    const ids = this._ids;
    const mask = this._mask;
    for (let i = hash(ip, ports) & mask;; i = (i + 1) & mask) {
      const id = ids[i];
      if (id === empty) return empty;
      if (this._ports[i] === ports && this._ips[i] === ip) return id;
    }
  }

  /** Adds `id` under a 4-tuple that must not be in the table. */
  add(remoteIp: number, remotePort: number, localPort: number, id: number): void {
    if (this._size + 1 > this._ids.length * this._maxLoad) this._grow();
    this._place(remoteIp >>> 0, ((localPort << 16) | remotePort) >>> 0, id);
    this._size++;
  }

  /** Removes the entry with this 4-tuple; returns its id, or -1 if there was none. */
  delete(remoteIp: number, remotePort: number, localPort: number): number {
    const ports = ((localPort << 16) | remotePort) >>> 0;
    const ip = remoteIp >>> 0;
    const ids = this._ids;
    const mask = this._mask;
    let i = hash(ip, ports) & mask;
    for (;; i = (i + 1) & mask) {
      if (ids[i] === empty) return empty;
      if (this._ports[i] === ports && this._ips[i] === ip) break;
    }
    const gone = ids[i];
    // Backward shift: move later members of the run into the hole when their home allows it.
    let hole = i;
    for (let j = (i + 1) & mask; ids[j] !== empty; j = (j + 1) & mask) {
      const home = hash(this._ips[j], this._ports[j]) & mask;
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
    return gone;
  }

  private _place(ip: number, ports: number, id: number): void {
    const ids = this._ids;
    const mask = this._mask;
    let i = hash(ip, ports) & mask;
    while (ids[i] !== empty) i = (i + 1) & mask;
    ids[i] = id;
    this._ips[i] = ip;
    this._ports[i] = ports;
  }

  private _grow(): void {
    const ids = this._ids;
    const ips = this._ips;
    const ports = this._ports;
    const n = ids.length * 2;
    this._ids = new Int32Array(n).fill(empty);
    this._ips = new Uint32Array(n);
    this._ports = new Uint32Array(n);
    this._mask = n - 1;
    for (let i = 0; i < ids.length; i++) if (ids[i] !== empty) this._place(ips[i], ports[i], ids[i]);
  }
}
