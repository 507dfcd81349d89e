/**
 * A mem zone over a DPDK packet pool: the shim builds the pool over one
 * contiguous region, which is mapped here once; buffers are mbufs, and a
 * handle is an mbuf's offset from the region's start.
 *
 * @module
 */
import { PoolInfo, type Shim } from "../../../ffi/mod.ts";
import { cString } from "../../../ffi/mod.ts";
import { BufferError, ConfigError, EalError, errnoName } from "../../errors.ts";
import { MemZone, type ZoneBackend } from "../../mem/zone.ts";
import { mtuOneBufferMax } from "../spec.ts";

/** Headroom of a DPDK buffer before a received frame (RTE_PKTMBUF_HEADROOM of this DPDK build). */
export const mbufHeadroom = 128;
/** The most data room a buffer has (DPDK's data_room_size is 16 bits). */
export const dataRoomMax = 65535;
/** The default data room: 128 of headroom and a 2048-byte frame. */
export const dataRoomDefault = 2176;

/**
 * Bytes of data room a buffer needs to hold one whole frame of an `mtu`-byte
 * IP packet (plus the Ethernet header) after the headroom, so that every
 * frame is one buffer: the default for MTUs up to 2034, more above.
 */
export function dataRoomForMtu(mtu: number): number {
  const need = mbufHeadroom + ethernetHeaderBytes + mtu;
  return need <= dataRoomDefault ? dataRoomDefault : (need + 63) & ~63;
}
const ethernetHeaderBytes = 14;

/**
 * Bytes of data room for a port at `mtu` whose PMD chains the pool's buffers
 * for a frame longer than one, both ways (net_memif): a whole frame up to
 * {@link mtuOneBufferMax}, a jumbo frame's room above it. A 64 KiB frame is
 * then a chain of 8 buffers, while the pool's other buffers (an ACK, a
 * request) do not each take 64 KiB.
 */
export function dataRoomForChainedMtu(mtu: number): number {
  return dataRoomForMtu(Math.min(mtu, mtuOneBufferMax));
}

/** Options of a DPDK pool. */
export interface DpdkZoneOptions {
  /** Number of buffers. Default 8191. */
  count?: number;
  /** DPDK's per-lcore cache. Default 256. */
  cache?: number;
  /** Bytes of data room per buffer, headroom included. Default 2176; see {@link dataRoomForMtu}. */
  dataRoom?: number;
  /** Buffers kept in the TypeScript-side cache. Default 512. */
  localCache?: number;
  /**
   * Maps an existing pool (its shim id) instead of creating one: how a
   * Worker thread sees the pool its main thread made. `count`, `cache` and
   * `dataRoom` are then the pool's own.
   */
  attach?: number;
}

class PoolBackend implements ZoneBackend {
  private readonly _shim: Shim;
  private readonly _pool: number;
  private readonly _name: string;
  constructor(shim: Shim, pool: number, name: string) {
    this._shim = shim;
    this._pool = pool;
    this._name = name;
  }
  takeBulk(out: Uint32Array, n: number): boolean {
    const rc = this._shim.symbols.luna_alloc_bulk(this._pool, out, n);
    return rc === n;
  }
  giveBulk(handles: Uint32Array, n: number): void {
    const rc = this._shim.symbols.luna_free_bulk(this._pool, handles, n);
    if (rc < 0) {
      throw new BufferError(`${this._name}: the pool refused buffers it does not own (${errnoName(rc)})`);
    }
  }
  available(): number {
    return this._shim.symbols.luna_pool_avail(this._pool);
  }
  copyIn(src: Uint8Array, srcOff: number, dst: Uint32Array, n: number): void {
    if (n === 0) return;
    const rc = this._shim.symbols.luna_copy_in(this._pool, src, src.length, srcOff, dst, n);
    if (rc < 0) throw new RangeError(`${this._name}: a copy into the zone out of bounds (${errnoName(rc)})`);
  }
}

/** A {@link MemZone} whose buffers are DPDK mbufs; `pool` is the shim's pool id. */
export class DpdkZone extends MemZone {
  /** The shim's id of the pool. */
  readonly pool: number;
  /** Creates a packet pool named `name` through `shim` (see {@link DpdkZoneOptions}) and maps it as a zone. */
  constructor(shim: Shim, name: string, options: DpdkZoneOptions = {}) {
    const count = options.count ?? 8191;
    const cache = options.cache ?? 256;
    const dataRoom = options.dataRoom ?? dataRoomDefault;
    for (
      const [field, v, lo, hi] of [
        ["count", count, 2, 1 << 24],
        ["cache", cache, 0, 512],
        ["dataRoom", dataRoom, 192, dataRoomMax],
      ] as const
    ) {
      if (!Number.isInteger(v) || v < lo || v > hi) {
        throw new ConfigError(field, `expected an integer ${lo}..${hi}, got ${v}`);
      }
    }
    const s = shim.symbols;
    const nameBytes = cString(name);
    const pool = options.attach ?? s.luna_pool_create(nameBytes, nameBytes.length, count, cache, dataRoom);
    if (pool < 0) throw new EalError(`cannot create pool '${name}': ${shim.lastError()}`, pool);
    const info = new Uint32Array(PoolInfo.words);
    if (s.luna_pool_info(pool, info, info.length) < 0) {
      throw new EalError(`pool ${pool} cannot be mapped: ${shim.lastError()}`, -2);
    }
    const len = info[PoolInfo.lenLo] + info[PoolInfo.lenHi] * 2 ** 32;
    const base = s.luna_pool_base(pool);
    if (shim.isNull(base)) throw new EalError(`pool '${name}' has no base address`, -22);
    const marks = s.luna_pool_marks(pool);
    if (shim.isNull(marks)) throw new EalError(`pool '${name}' has no marks of hot sums`, -22);
    super(
      {
        name,
        buffer: shim.mapMemory(base, len),
        capacity: info[PoolInfo.count],
        dataRoomOffset: info[PoolInfo.dataRoomOffset],
        dataRoomSize: info[PoolInfo.dataRoom],
        headroom: info[PoolInfo.headroom],
        refcntOffset: info[PoolInfo.refcntOffset],
        sumMarks: new Uint8Array(shim.mapMemory(marks, Math.floor(len / 64) + 1)),
        cacheSize: options.localCache,
      },
      new PoolBackend(shim, pool, name),
    );
    this.pool = pool;
  }
}
