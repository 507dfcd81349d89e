/**
 * The connection table: (remote address, remote port, local port) to
 * connection id, as an open-addressing hash over one Int32Array (linear
 * probing, deletion by backward shift, so there are no tombstones). A
 * connection costs 8 to 16 bytes of table, and a lookup no allocation: the
 * slots hold ids, and the keys are read back from the connections.
 *
 * @module
 */
import type { Tcb } from "./tcb.ts";

const empty = -1;
const initialSlots = 64;

/** The 4-tuple's hash (the local address is the stack's own, one per layer). */
function hash(remoteIp: number, remotePort: number, localPort: number): number {
  let h = Math.imul(remoteIp ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(((localPort << 16) | remotePort) ^ (h >>> 15), 0xc2b2ae35);
  return (h ^ (h >>> 13)) >>> 0;
}

/** Connections by 4-tuple; see the module documentation. */
export class TcbTable {
  private _slots = new Int32Array(initialSlots).fill(empty);
  private _mask = initialSlots - 1;
  private _size = 0;
  private readonly _tcbs: (Tcb | undefined)[];

  /** `tcbs`: the layer's connections by id, where the slots' ids are looked up. */
  constructor(tcbs: (Tcb | undefined)[]) {
    this._tcbs = tcbs;
  }

  /** Connections held. */
  get size(): number {
    return this._size;
  }

  /** The connection with this 4-tuple, if any. */
  get(remoteIp: number, remotePort: number, localPort: number): Tcb | undefined {
    const slots = this._slots;
    const mask = this._mask;
    for (let i = hash(remoteIp, remotePort, localPort) & mask;; i = (i + 1) & mask) {
      const id = slots[i];
      if (id === empty) return undefined;
      const t = this._tcbs[id]!;
      if (t.remotePort === remotePort && t.localPort === localPort && t.remoteIp === remoteIp) return t;
    }
  }

  /** Adds `tcb`, whose 4-tuple must not be in the table. */
  add(tcb: Tcb): void {
    if ((this._size + 1) * 2 > this._slots.length) this._grow();
    this._place(tcb);
    this._size++;
  }

  /** Removes `tcb` if it is in the table. */
  delete(tcb: Tcb): void {
    const slots = this._slots;
    const mask = this._mask;
    let i = hash(tcb.remoteIp, tcb.remotePort, tcb.localPort) & mask;
    for (;; i = (i + 1) & mask) {
      const id = slots[i];
      if (id === empty) return;
      if (id === tcb.id && this._tcbs[id] === tcb) break;
    }
    // Backward shift: move later members of the run into the hole when their home allows it.
    let hole = i;
    for (let j = (i + 1) & mask;; j = (j + 1) & mask) {
      const id = slots[j];
      if (id === empty) break;
      const t = this._tcbs[id]!;
      const home = hash(t.remoteIp, t.remotePort, t.localPort) & mask;
      // The member at j may fill the hole if its home is not in (hole, j] (cyclically).
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[hole] = id;
        hole = j;
      }
    }
    slots[hole] = empty;
    this._size--;
  }

  private _place(tcb: Tcb): void {
    const slots = this._slots;
    const mask = this._mask;
    let i = hash(tcb.remoteIp, tcb.remotePort, tcb.localPort) & mask;
    while (slots[i] !== empty) i = (i + 1) & mask;
    slots[i] = tcb.id;
  }

  private _grow(): void {
    const old = this._slots;
    this._slots = new Int32Array(old.length * 2).fill(empty);
    this._mask = this._slots.length - 1;
    for (let i = 0; i < old.length; i++) if (old[i] !== empty) this._place(this._tcbs[old[i]]!);
  }
}
