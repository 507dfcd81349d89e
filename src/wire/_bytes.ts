/**
 * Big-endian field access over a Uint8Array, shared by the header views.
 * Plain byte loads combine into integers without allocating and without a
 * DataView (which would have to be created per buffer).
 *
 * @module
 */

/** An empty byte array, the default buffer of a view not yet attached. */
export const noBytes: Uint8Array = new Uint8Array(0);

/** Reads the uint16 at `o`. */
export function rd16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/** Writes `v` as a uint16 at `o`. */
export function wr16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

/** Reads the uint32 at `o`, as a non-negative number. */
export function rd32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Writes `v` as a uint32 at `o`. */
export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Reads the 48-bit big-endian value at `o` (a MAC address) as a number. */
export function rd48(b: Uint8Array, o: number): number {
  return rd16(b, o) * 0x1_0000_0000 + rd32(b, o + 2);
}

/** Writes a 48-bit value (a MAC address) at `o`. */
export function wr48(b: Uint8Array, o: number, v: number): void {
  wr16(b, o, Math.floor(v / 0x1_0000_0000));
  wr32(b, o + 2, v >>> 0);
}

/** Whether `[offset, offset + length)` lies inside `b`. */
export function inBounds(b: Uint8Array, offset: number, length: number): boolean {
  return offset >= 0 && length >= 0 && offset + length <= b.length;
}

/**
 * Throws a RangeError unless a view of `length` bytes at `offset` in `b` holds
 * `need` bytes: emitting into a view too small is a bug in the caller, and is
 * refused before anything is written.
 */
export function needRoom(what: string, b: Uint8Array, offset: number, length: number, need: number): void {
  if (length < need || !inBounds(b, offset, need)) {
    throw new RangeError(
      `${what}: emitting needs ${need} bytes, but the view holds ${length} at offset ${offset} ` +
        `of a ${b.length}-byte buffer`,
    );
  }
}
