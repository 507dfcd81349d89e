/**
 * TCP sequence arithmetic: comparisons on the 32-bit difference hold across
 * the wrap. Random tests take their seed from LUNA_SEED when set, and print it
 * on failure.
 */
import { describe, test } from "./harness.ts";
import { prng, seedFromEnv } from "./helpers.ts";
import { assertEquals } from "@std/assert";
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from "../src/wire/mod.ts";



describe("wire seq", () => {
  test("numbers just past the wrap compare as later", () => {
    assertEquals(seqLt(0xffff_fff0, 0x10), true);
    assertEquals(seqGt(0x10, 0xffff_fff0), true);
    assertEquals(seqLe(0xffff_ffff, 0), true);
    assertEquals(seqGe(0, 0xffff_ffff), true);
    assertEquals(seqLt(0x10, 0xffff_fff0), false);
  });

  test("a number is neither before nor after itself", () => {
    for (const a of [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) {
      assertEquals([seqLt(a, a), seqGt(a, a), seqLe(a, a), seqGe(a, a)], [false, false, true, true]);
    }
  });

  test("addition wraps modulo 2^32 and takes negative steps", () => {
    assertEquals(seqAdd(0xffff_ffff, 1), 0);
    assertEquals(seqAdd(0xffff_ffff, 2), 1);
    assertEquals(seqAdd(0, -1), 0xffff_ffff);
    assertEquals(seqAdd(100, 0x7fff_ffff), 0x8000_0063);
  });

  test("subtraction is the signed distance across the wrap", () => {
    assertEquals(seqSub(0x10, 0xffff_fff0), 0x20);
    assertEquals(seqSub(0xffff_fff0, 0x10), -0x20);
    assertEquals(seqSub(seqAdd(12345, 1000), 12345), 1000);
  });

  test("max and min pick by sequence order, not by magnitude", () => {
    assertEquals(seqMax(0xffff_fff0, 5), 5);
    assertEquals(seqMin(0xffff_fff0, 5), 0xffff_fff0);
    assertEquals(seqMax(7, 7), 7);
    assertEquals(seqMin(3, 9), 3);
  });

  test("comparisons agree with the distance for random pairs less than 2^31 apart", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    for (let i = 0; i < 20000; i++) {
      const a = (rand() * 0x1_0000_0000) >>> 0;
      const d = Math.floor((rand() * 2 - 1) * 0x7fff_ffff);
      const b = seqAdd(a, d);
      const why = `seed=${seed} (rerun with LUNA_SEED=${seed}) a=${a} d=${d}`;
      assertEquals(seqSub(b, a), d, why);
      assertEquals(seqLt(a, b), d > 0, why);
      assertEquals(seqGt(a, b), d < 0, why);
      assertEquals(seqLe(a, b), d >= 0, why);
      assertEquals(seqGe(a, b), d <= 0, why);
      assertEquals(seqMax(a, b), d >= 0 ? b : a, why);
      assertEquals(seqMin(a, b), d >= 0 ? a : b, why);
    }
  });

  test("results are plain uint32 numbers, never negative", () => {
    const r = seqAdd(0x8000_0000, 0x8000_0000);
    assertEquals(r, 0);
    assertEquals(seqAdd(0x7fff_ffff, 1), 0x8000_0000);
    assertEquals(seqAdd(0x8000_0000, 0x7fff_ffff), 0xffff_ffff);
  });
});
