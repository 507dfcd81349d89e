/**
 * A mem zone in ordinary memory, for the in-memory device and for tests: the
 * same handles, reference counts and accounting as a DPDK zone, with the
 * buffers laid out the same way (a 64-byte header, then the data room).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { MemZone, type ZoneBackend } from "./zone.ts";

/** Options of {@link createHeapZone}. */
export interface HeapZoneOptions {
  /** Name, for messages. */
  name?: string;
  /** Number of buffers. */
  count: number;
  /** Bytes of data room per buffer; default 2176 (128 of headroom and a 2048-byte frame). */
  dataRoom?: number;
  /** Default data offset of a fresh buffer; default 128. */
  headroom?: number;
}

const headerSize = 64; // the reference count sits at offset 0 of the header

class HeapBackend implements ZoneBackend {
  private readonly _free: Uint32Array;
  private _top: number;
  constructor(count: number, stride: number) {
    this._free = new Uint32Array(count);
    // Lowest handles on top, so buffers are handed out in address order.
    for (let i = 0; i < count; i++) this._free[i] = (count - 1 - i) * stride;
    this._top = count;
  }
  takeBulk(out: Uint32Array, n: number): boolean {
    if (n > this._top) return false;
    for (let i = 0; i < n; i++) out[i] = this._free[--this._top];
    return true;
  }
  giveBulk(handles: Uint32Array, n: number): void {
    for (let i = 0; i < n; i++) this._free[this._top++] = handles[i];
  }
  available(): number {
    return this._top;
  }
}

/**
 * Creates a zone of `count` buffers in ordinary memory.
 *
 * @example
 * ```ts
 * const zone = createHeapZone({ count: 1024 });
 * const h = zone.take();
 * zone.data(h, zone.headroom, 4).set([1, 2, 3, 4]);
 * zone.release(h);
 * ```
 */
export function createHeapZone(options: HeapZoneOptions): MemZone {
  const { count, dataRoom = 2176, headroom = 128, name = "heap" } = options;
  if (!Number.isInteger(count) || count < 1 || count > 1 << 22) {
    throw new ConfigError("count", `expected an integer 1..${1 << 22}, got ${count}`);
  }
  if (!Number.isInteger(dataRoom) || dataRoom < 64 || dataRoom > 65535) {
    throw new ConfigError("dataRoom", `expected an integer 64..65535, got ${dataRoom}`);
  }
  if (!Number.isInteger(headroom) || headroom < 0 || headroom >= dataRoom) {
    throw new ConfigError("headroom", `expected an integer 0..${dataRoom - 1}, got ${headroom}`);
  }
  const stride = (headerSize + dataRoom + 63) & ~63;
  return new MemZone(
    {
      name,
      buffer: new ArrayBuffer(stride * count),
      capacity: count,
      dataRoomOffset: headerSize,
      dataRoomSize: dataRoom,
      headroom,
      refcntOffset: 0,
    },
    new HeapBackend(count, stride),
  );
}
