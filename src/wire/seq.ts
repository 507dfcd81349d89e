/**
 * TCP sequence number arithmetic (RFC 9293 3.4): sequence numbers are uint32
 * numbers compared on their signed 32-bit difference, so that comparisons hold
 * across the wrap from 2^32 - 1 to 0 for numbers less than 2^31 apart. Plain
 * functions over numbers, for the hot path: nothing is allocated.
 *
 * @example
 * ```ts
 * import { seqAdd, seqLt } from "./seq.ts";
 * seqLt(0xffff_fff0, 0x10); // true: 0x10 is 32 past 0xfffffff0
 * seqAdd(0xffff_ffff, 2); // 1
 * ```
 *
 * @module
 */

/** Whether `a` comes before `b`. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** Whether `a` comes before or is `b`. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** Whether `a` comes after `b`. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** Whether `a` comes after or is `b`. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** `a` advanced by `n` (which may be negative), modulo 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The signed distance from `b` to `a` (`a - b`), in -2^31..2^31 - 1. */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}

/** The later of `a` and `b`. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a : b;
}

/** The earlier of `a` and `b`. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a : b;
}
