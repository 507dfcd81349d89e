// Frames of known content for transfer tests: frame i has a length between
// 60 and 1514 bytes, starts with i (uint32, little-endian), and every other
// byte is a function of i and its position, so any lost, reordered or
// altered byte is found.

/** Length of frame `i`: 60..1514, varied. */
export function frameLength(i: number): number {
  return 60 + ((i * 7919) % 1455);
}

function fillByte(i: number, j: number): number {
  return (i * 131 + j * 7) & 0xff;
}

/** Writes frame `i` at `bytes[off ..]`. */
export function fillFrame(bytes: Uint8Array, off: number, i: number, len: number): void {
  bytes[off] = i & 0xff;
  bytes[off + 1] = (i >>> 8) & 0xff;
  bytes[off + 2] = (i >>> 16) & 0xff;
  bytes[off + 3] = (i >>> 24) & 0xff;
  for (let j = 4; j < len; j++) bytes[off + j] = fillByte(i, j);
}

/** The frame number written at `off`. */
export function frameNumber(bytes: Uint8Array, off: number): number {
  return (bytes[off] | (bytes[off + 1] << 8) | (bytes[off + 2] << 16) | (bytes[off + 3] << 24)) >>> 0;
}

/** Index of the first wrong byte of frame `i` at `off`, or -1 when it is intact. */
export function checkFrame(bytes: Uint8Array, off: number, i: number, len: number): number {
  if (len !== frameLength(i)) return 0;
  if (frameNumber(bytes, off) !== i) return 0;
  for (let j = 4; j < len; j++) if (bytes[off + j] !== fillByte(i, j)) return j;
  return -1;
}
