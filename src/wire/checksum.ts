/**
 * The Internet checksum (RFC 1071), the IPv4 pseudo-header of TCP and UDP
 * (RFC 9293 3.1, RFC 768), and incremental updates (RFC 1624).
 *
 * Sums here are one's-complement sums folded to 16 bits (0..0xffff); a
 * checksum is the complement of a sum, the value that goes in a header.
 * A range whose checksum field is included verifies when its sum is 0xffff.
 *
 * @example
 * ```ts
 * import { internetChecksum, onesSum } from "./checksum.ts";
 * const bytes = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
 * onesSum(bytes, 0, 8); // 0xddf2, the example of RFC 1071 section 3
 * internetChecksum(bytes, 0, 8); // 0x220d
 * ```
 *
 * @module
 */

/**
 * Ranges at least this long are summed 32 bits at a time through an Int32Array
 * over the same memory; shorter ones byte by byte (faster below it, as measured
 * on Bun 1.4 and Deno 2.9).
 */
const wordPathBytesMin = 64;

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// One Int32Array over the last ArrayBuffer summed: packets live in one zone
// buffer, so this is created once per zone, not per packet. Int32, not Uint32:
// its loads stay small integers, where a Uint32Array's words past 2^31 are
// doubles (the sum took twice the time). The view before it is kept too: two
// stacks in one thread (the in-memory link's two ends, a test's or a
// benchmark's) sum packets of their two zones in turn, and with one view it
// was made again on nearly every call.
let wordsOf: ArrayBufferLike | null = null;
let words: Int32Array = new Int32Array(0);
let wordsOfPrev: ArrayBufferLike | null = null;
let wordsPrev: Int32Array = new Int32Array(0);

/** Folds a non-negative integer sum (below 2^53) into a 16-bit one's-complement sum. */
export function onesFold(sum: number): number {
  // A packet's sum is below 2^31: folded with integer operations; only larger ones as doubles.
  while (sum > 0xffff) {
    sum = sum <= 0x7fffffff ? (sum & 0xffff) + (sum >>> 16) : (sum % 0x10000) + Math.floor(sum / 0x10000);
  }
  return sum;
}

/**
 * One's-complement sum of `bytes[start..end)` taken as big-endian 16-bit words
 * (an odd last byte is padded with a zero byte, RFC 1071), plus `initial`;
 * folded to 16 bits.
 */
export function onesSum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  if (littleEndian && end - start >= wordPathBytesMin && ((bytes.byteOffset + start) & 1) === 0) {
    return onesFold(sumByWords(bytes, start, end) + initial);
  }
  return onesFold(sumByBytes(bytes, start, end) + initial);
}

/** The Internet checksum of `bytes[start..end)` with `initial` added: the complement of {@link onesSum}. */
export function internetChecksum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  return ~onesSum(bytes, start, end, initial) & 0xffff;
}

/**
 * Sum of the IPv4 pseudo-header of TCP and UDP (RFC 9293 3.1, RFC 768):
 * source and destination address (uint32), protocol, and the segment length.
 */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return onesFold((src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length);
}

/**
 * The checksum after one 16-bit word it covers changes from `oldWord` to
 * `newWord` (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')). The word must sit at an
 * even offset of the checksummed range; to change one byte, pass the word
 * that holds it.
 */
export function checksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  return ~onesFold((~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** The checksum after a 32-bit field it covers (an address, a sequence number) changes; RFC 1624 eqn. 3 on both halves. */
export function checksumUpdate32(checksum: number, oldValue: number, newValue: number): number {
  return ~onesFold(
    (~checksum & 0xffff) +
      (~oldValue >>> 16) + (~oldValue & 0xffff) +
      (newValue >>> 16) + (newValue & 0xffff),
  ) & 0xffff;
}

// Sums high and low bytes in separate lanes so that both stay small integers
// for any packet size; combined once at the end.
function sumByBytes(b: Uint8Array, start: number, end: number): number {
  let hi = 0;
  let lo = 0;
  let i = start;
  const end8 = start + ((end - start) & ~7);
  for (; i < end8; i += 8) {
    hi += b[i] + b[i + 2] + b[i + 4] + b[i + 6];
    lo += b[i + 1] + b[i + 3] + b[i + 5] + b[i + 7];
  }
  for (; i + 1 < end; i += 2) {
    hi += b[i];
    lo += b[i + 1];
  }
  if (i < end) hi += b[i];
  return hi * 256 + lo;
}

// On a little-endian host each 32-bit load holds two byte-swapped 16-bit
// words. The one's-complement sum is byte-order independent (RFC 1071 2(B)):
// sum the swapped words, then swap the folded result back.
function sumByWords(b: Uint8Array, start: number, end: number): number {
  let hi = 0;
  let lo = 0;
  let i = start;
  if (((b.byteOffset + i) & 2) !== 0) {
    hi += b[i];
    lo += b[i + 1];
    i += 2;
  }
  let wi = (b.byteOffset + i) >>> 2;
  const wordCount = (end - i) >>> 2;
  const wend = wi + wordCount;
  const buffer = b.buffer;
  if (buffer !== wordsOf || wend > words.length) {
    const lastOf = wordsOf, last = words;
    if (buffer === wordsOfPrev && wend <= wordsPrev.length) {
      wordsOf = buffer;
      words = wordsPrev;
    } else {
      wordsOf = buffer;
      words = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
    }
    wordsOfPrev = lastOf;
    wordsPrev = last;
  }
  const w = words;
  let sl = 0;
  let sh = 0;
  const wend4 = wi + (wordCount & ~3);
  for (; wi < wend4; wi += 4) {
    const x0 = w[wi];
    const x1 = w[wi + 1];
    const x2 = w[wi + 2];
    const x3 = w[wi + 3];
    sl += (x0 & 0xffff) + (x1 & 0xffff) + (x2 & 0xffff) + (x3 & 0xffff);
    sh += (x0 >>> 16) + (x1 >>> 16) + (x2 >>> 16) + (x3 >>> 16);
  }
  for (; wi < wend; wi++) {
    const x = w[wi];
    sl += x & 0xffff;
    sh += x >>> 16;
  }
  i += wordCount << 2;
  for (; i + 1 < end; i += 2) {
    hi += b[i];
    lo += b[i + 1];
  }
  if (i < end) hi += b[i];
  const swapped = onesFold(sl + sh);
  return hi * 256 + lo + (((swapped & 0xff) << 8) | (swapped >>> 8));
}
