/**
 * Copying bytes between packet buffers without allocating: no `subarray`
 * view per copy. Within one ArrayBuffer it is `copyWithin` (a memmove);
 * between two it moves 32-bit words through each side's DataView (unaligned
 * access is fine there), then the odd tail byte by byte.
 *
 * @module
 */

/**
 * Copies `len` bytes from `src[srcOff..)` to `dst[dstOff..)`; `srcView` and
 * `dstView` are DataViews over the same buffers as `src` and `dst`, starting
 * at the same byte (a MemZone's `bytes` and `view` are such a pair).
 *
 * @example
 * ```ts
 * import { copyBytes } from "./bytes.ts";
 * const a = new Uint8Array([1, 2, 3, 4, 5]), b = new Uint8Array(8);
 * copyBytes(b, new DataView(b.buffer), 2, a, new DataView(a.buffer), 0, 5);
 * ```
 */
export function copyBytes(
  dst: Uint8Array,
  dstView: DataView,
  dstOff: number,
  src: Uint8Array,
  srcView: DataView,
  srcOff: number,
  len: number,
): void {
  if (dst.buffer === src.buffer && dst.byteOffset === src.byteOffset) {
    dst.copyWithin(dstOff, srcOff, srcOff + len);
    return;
  }
  let i = 0;
  const words = len - 7;
  for (; i < words; i += 8) {
    dstView.setInt32(dstOff + i, srcView.getInt32(srcOff + i, true), true);
    dstView.setInt32(dstOff + i + 4, srcView.getInt32(srcOff + i + 4, true), true);
  }
  for (; i < len; i++) dst[dstOff + i] = src[srcOff + i];
}

/**
 * Copies `len` bytes from `src[srcOff..)` to `dst[dstOff..)`, allocating
 * nothing for a whole-array source, for two views of one ArrayBuffer (a
 * `copyWithin`), or for a short copy; a long copy between two buffers makes
 * one `subarray` view, which the copy's own cost dwarfs.
 *
 * @example
 * ```ts
 * import { copyRange } from "./bytes.ts";
 * const a = new Uint8Array([1, 2, 3, 4, 5]), b = new Uint8Array(8);
 * copyRange(b, 2, a, 1, 3); // b = [0, 0, 2, 3, 4, 0, 0, 0]
 * ```
 */
export function copyRange(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  if (srcOff === 0 && len === src.length) {
    dst.set(src, dstOff);
  } else if (len <= 128) {
    for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
  } else if (dst.buffer === src.buffer) {
    const from = src.byteOffset - dst.byteOffset + srcOff;
    dst.copyWithin(dstOff, from, from + len);
  } else {
    dst.set(src.subarray(srcOff, srcOff + len), dstOff);
  }
}
