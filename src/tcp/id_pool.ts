/**
 * Connection ids, handed out lowest first. An id indexes the arrays kept per
 * connection (the layer's control blocks, the timer wheel's links and
 * deadlines), so those arrays must be as long as the highest id in use. If
 * ids were reused last-freed-first, one crowd of connections would leave
 * ids scattered up to its peak for good, and the arrays could never shrink
 * when it left (into TIME-WAIT, whose records keep no id, or for good).
 * Handing out the smallest free id keeps the ids in use packed at the
 * bottom, and {@link IdPool.capacity} follows them down.
 *
 * The free ids are a bitmap with summaries above it: level 0 has a bit per
 * id, set while the id is free; each level above has a bit per word of the
 * level below, set while that word has a free bit. The smallest free id is
 * found from the top word down, one word per level (four levels cover a
 * million ids); taking and returning an id update a word per level at most.
 * The highest id in use is found again, when it is returned, by walking
 * down the level-0 words: a walk that passes free words is paid for by the
 * ids handed out to fill them first, since no id above them is handed out
 * while they are free.
 *
 * Capacity is a power of two: it doubles when every id is in use, and halves
 * (or more) once the ids in use all lie in its lowest quarter; the caller
 * follows {@link IdPool.capacity} with its per-id arrays.
 *
 * @example
 * ```ts
 * import { IdPool } from "./id_pool.ts";
 * const ids = new IdPool(32);
 * const a = ids.take(); // 0
 * const b = ids.take(); // 1
 * ids.give(a);
 * ids.take(); // 0 again: the smallest free id
 * void b;
 * ```
 *
 * @module
 */

/** Default least capacity, ids. */
export const idCapacityMinDefault = 256;

const ctz = (w: number): number => 31 - Math.clz32(w & -w);

/** Ids 0, 1, 2, ... handed out smallest first; see the module documentation. */
export class IdPool {
  private readonly _min: number;
  private _capacity = 0;
  // _levels[0]: a bit per id, set while free; _levels[k + 1]: a bit per word of _levels[k],
  // set while that word is not zero. The last level is one word.
  private _levels: Uint32Array[] = [];
  private _size = 0;
  private _end = 0;

  /** A pool whose capacity never falls below `capacityMin` (a power of two, at least 32). */
  constructor(capacityMin = idCapacityMinDefault) {
    if (!Number.isInteger(capacityMin) || capacityMin < 32 || (capacityMin & (capacityMin - 1)) !== 0) {
      throw new RangeError(`capacityMin must be a power of two >= 32, got ${capacityMin}`);
    }
    this._min = capacityMin;
    this._resize(capacityMin);
  }

  /** Ids the pool holds now (in use and free): the length the per-id arrays need. */
  get capacity(): number {
    return this._capacity;
  }

  /** Ids in use. */
  get size(): number {
    return this._size;
  }

  /** One more than the highest id in use (0 when none is). */
  get end(): number {
    return this._end;
  }

  /** Bytes of the bitmaps, as allocated. */
  get bytes(): number {
    let n = 0;
    for (const a of this._levels) n += a.byteLength;
    return n;
  }

  /** Whether `id` is in use. */
  has(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this._capacity &&
      (this._levels[0][id >>> 5] & (1 << (id & 31))) === 0;
  }

  /** The smallest free id, now in use; the capacity doubles first when every id is in use. */
  take(): number {
    if (this._size === this._capacity) this._resize(this._capacity * 2);
    const levels = this._levels;
    let i = 0;
    for (let k = levels.length - 1; k >= 0; k--) i = i * 32 + ctz(levels[k][i]);
    const id = i;
    for (let k = 0; k < levels.length; k++) {
      const a = levels[k];
      const w = i >>> 5;
      a[w] &= ~(1 << (i & 31));
      if (a[w] !== 0) break;
      i = w;
    }
    this._size++;
    if (id >= this._end) this._end = id + 1;
    return id;
  }

  /**
   * Returns `id` to the pool. Returns true when the capacity shrank (the ids
   * in use all lie in its lowest quarter): the caller shortens its per-id
   * arrays to the new {@link capacity}.
   */
  give(id: number): boolean {
    if (!this.has(id)) throw new RangeError(`id ${id} is not in use`);
    const levels = this._levels;
    let i = id;
    for (let k = 0; k < levels.length; k++) {
      const a = levels[k];
      const w = i >>> 5;
      const was = a[w];
      a[w] = was | (1 << (i & 31));
      if (was !== 0) break;
      i = w;
    }
    this._size--;
    if (id === this._end - 1) this._end = this._highestBelow(id) + 1;
    if (this._capacity > this._min && this._end <= this._capacity >>> 2) {
      let cap = this._min;
      while (cap < 2 * this._end) cap *= 2;
      this._resize(cap);
      return true;
    }
    return false;
  }

  /** The highest id in use below `id`, or -1. */
  private _highestBelow(id: number): number {
    const free = this._levels[0];
    let w = id >>> 5;
    // Ids of word w below id; then whole words below it.
    let mask = (id & 31) === 0 ? 0 : (1 << (id & 31)) - 1;
    for (; w >= 0; w--, mask = -1) {
      const used = ~free[w] & mask;
      if (used !== 0) return w * 32 + 31 - Math.clz32(used);
    }
    return -1;
  }

  /** Makes the bitmaps hold `cap` ids; ids from the old capacity up are free. Every id in use is below `cap`. */
  private _resize(cap: number): void {
    const old = this._levels;
    const levels: Uint32Array[] = [];
    for (let n = cap >>> 5;; n = Math.ceil(n / 32)) {
      levels.push(new Uint32Array(n));
      if (n === 1) break;
    }
    // Level 0: the old words that fit, then every id beyond them free.
    const l0 = levels[0];
    const kept = old.length > 0 ? Math.min(old[0].length, l0.length) : 0;
    if (kept > 0) l0.set(old[0].subarray(0, kept));
    l0.fill(0xffffffff, kept);
    // Each level above: a bit per non-zero word below.
    for (let k = 1; k < levels.length; k++) {
      const below = levels[k - 1];
      const a = levels[k];
      for (let w = 0; w < below.length; w++) if (below[w] !== 0) a[w >>> 5] |= 1 << (w & 31);
    }
    this._levels = levels;
    this._capacity = cap;
  }
}
