/**
 * Internet checksum (RFC 1071), pseudo-header sums, and RFC 1624 incremental
 * updates: known vectors, and random data against a reference implementation.
 * Random tests take their seed from LUNA_SEED when set, and print it on failure.
 */
import { describe, test } from "./harness.ts";
import { assertEquals, assertThrows } from "@std/assert";
import {
  checksumUpdate16,
  checksumUpdate32,
  internetChecksum,
  IpProtocol,
  onesFold,
  onesSum,
  pseudoHeaderSum,
} from "../src/wire/mod.ts";
import { hex, prng, seedFromEnv } from "./helpers.ts";




/** The textbook sum: big-endian words, odd byte padded, carries folded at the end. */
function referenceSum(b: Uint8Array, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i += 2) s += (b[i] << 8) + (i + 1 < end ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

const seedHint = (seed: number) => `seed=${seed} (rerun with LUNA_SEED=${seed})`;

describe("wire checksum", () => {
  test("RFC 1071 section 3 example sums to 0xddf2", () => {
    const bytes = hex("0001 f203 f4f5 f6f7");
    assertEquals(onesSum(bytes, 0, bytes.length), 0xddf2);
    assertEquals(internetChecksum(bytes, 0, bytes.length), 0x220d);
  });

  test("odd length pads the last byte with zero", () => {
    assertEquals(onesSum(hex("ab"), 0, 1), 0xab00);
    assertEquals(onesSum(hex("0001 f2"), 0, 3), 0xf201);
    assertEquals(onesSum(hex(""), 0, 0), 0);
  });

  test("a captured IPv4 header's checksum 0xb861 is recomputed and verifies", () => {
    // 192.168.0.1 -> 192.168.0.199, UDP, the example header of Wikipedia's
    // "Internet checksum" article.
    const header = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
    assertEquals(onesSum(header, 0, 20), 0xffff);
    header[10] = 0;
    header[11] = 0;
    assertEquals(internetChecksum(header, 0, 20), 0xb861);
  });

  test("a known TCP segment verifies with its pseudo-header", () => {
    // smoltcp's src/wire/tcp.rs test segment, 192.168.1.1 -> 192.168.1.2, checksum 0x20be.
    const segment = hex("bf00 0050 0123 4567 89ab cdef 5035 0123 20be 0201 aa00 00ff");
    const phdr = pseudoHeaderSum(0xc0a80101, 0xc0a80102, IpProtocol.tcp, segment.length);
    assertEquals(onesSum(segment, 0, segment.length, phdr), 0xffff);
    segment[16] = 0;
    segment[17] = 0;
    assertEquals(internetChecksum(segment, 0, segment.length, phdr), 0x20be);
  });

  test("pseudo-header sum adds addresses, protocol and length", () => {
    // 198.18.0.1 -> 198.18.0.2, TCP, 40 bytes: c612+0001+c612+0002+0006+0028.
    assertEquals(pseudoHeaderSum(0xc6120001, 0xc6120002, 6, 40), onesFold(0xc612 * 2 + 1 + 2 + 6 + 40));
    assertEquals(pseudoHeaderSum(0xffffffff, 0xffffffff, 0xff, 0xffff), onesFold(0xffff * 5 + 0xff));
  });

  test("onesFold folds every carry back in", () => {
    assertEquals(onesFold(0), 0);
    assertEquals(onesFold(0xffff), 0xffff);
    assertEquals(onesFold(0x10000), 1);
    assertEquals(onesFold(0x1fffe), 0xffff);
    assertEquals(onesFold(2 ** 40), 0x100); // 2^16 is 1 modulo 0xffff
  });

  test("RFC 1624 section 4 example: eqn. 3 gives 0x0000 where recomputation does", () => {
    // Other header words sum to 0xcd7a; m = 0x5555 becomes 0x3285.
    const hc = ~onesFold(0xcd7a + 0x5555) & 0xffff;
    assertEquals(hc, 0xdd2f);
    assertEquals(checksumUpdate16(hc, 0x5555, 0x3285), 0x0000);
    assertEquals(~onesFold(0xcd7a + 0x3285) & 0xffff, 0x0000);
  });

  test("an unchanged field leaves the checksum as it was, zero included", () => {
    // RFC 1624 erratum 4782 case: HC = 0 and m' = m must not become 0xffff.
    assertEquals(checksumUpdate16(0x0000, 0x5555, 0x5555), 0x0000);
    assertEquals(checksumUpdate16(0x1234, 0xabcd, 0xabcd), 0x1234);
    assertEquals(checksumUpdate32(0x0000, 0xdeadbeef, 0xdeadbeef), 0x0000);
  });

  test("every range, offset and alignment sums like the reference", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    const backing = new Uint8Array(4096 + 16);
    for (let i = 0; i < backing.length; i++) backing[i] = (rand() * 256) | 0;
    for (let round = 0; round < 2000; round++) {
      // A view starting at an arbitrary byte of the backing buffer, so that
      // the 32-bit path meets every alignment, and the odd-address fallback.
      const viewStart = (rand() * 8) | 0;
      const view = backing.subarray(viewStart);
      const start = (rand() * 64) | 0;
      const len = round < 200 ? round : (rand() * 4000) | 0;
      const end = Math.min(start + len, view.length);
      const initial = (rand() * 0x3ffff) | 0;
      assertEquals(
        onesSum(view, start, end, initial),
        onesFold(referenceSum(view, start, end) + initial),
        `${seedHint(seed)} viewStart=${viewStart} start=${start} end=${end}`,
      );
    }
  });

  test("a 64 KiB range of 0xff bytes sums without overflow", () => {
    const bytes = new Uint8Array(65536).fill(0xff);
    assertEquals(onesSum(bytes, 0, bytes.length), 0xffff);
    // An odd count: 32767 words of 0xffff (negative zero) and a padded 0xff00.
    assertEquals(onesSum(bytes, 1, bytes.length), 0xff00);
    assertEquals(onesSum(bytes, 0, 65535), referenceSum(bytes, 0, 65535));
  });

  test("16-bit incremental updates equal recomputation on random data", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    for (let round = 0; round < 3000; round++) {
      const len = 2 * (4 + ((rand() * 700) | 0));
      const data = new Uint8Array(len);
      for (let i = 0; i < len; i++) data[i] = (rand() * 256) | 0;
      const field = 2 * ((rand() * (len / 2)) | 0);
      let at = 2 * ((rand() * (len / 2)) | 0);
      if (at === field) at = (at + 2) % len;
      data[field] = 0;
      data[field + 1] = 0;
      const before = internetChecksum(data, 0, len);
      const oldWord = (data[at] << 8) | data[at + 1];
      const newWord = (rand() * 0x10000) | 0;
      data[at] = newWord >>> 8;
      data[at + 1] = newWord & 0xff;
      assertEquals(
        checksumUpdate16(before, oldWord, newWord),
        internetChecksum(data, 0, len),
        `${seedHint(seed)} round=${round} len=${len} at=${at}`,
      );
    }
  });

  test("32-bit incremental updates equal recomputation on random data", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    for (let round = 0; round < 3000; round++) {
      const len = 4 * (2 + ((rand() * 300) | 0));
      const data = new Uint8Array(len);
      for (let i = 0; i < len; i++) data[i] = (rand() * 256) | 0;
      // The checksum field sits in the first word; the 32-bit field elsewhere, 2-aligned.
      data[0] = 0;
      data[1] = 0;
      const at = 2 + 2 * ((rand() * ((len - 4) / 2)) | 0);
      const before = internetChecksum(data, 0, len);
      const oldValue = ((data[at] << 24) | (data[at + 1] << 16) | (data[at + 2] << 8) | data[at + 3]) >>> 0;
      const newValue = (rand() * 0x1_0000_0000) >>> 0;
      data[at] = newValue >>> 24;
      data[at + 1] = newValue >>> 16;
      data[at + 2] = newValue >>> 8;
      data[at + 3] = newValue;
      assertEquals(
        checksumUpdate32(before, oldValue, newValue),
        internetChecksum(data, 0, len),
        `${seedHint(seed)} round=${round} len=${len} at=${at}`,
      );
    }
  });

  test("a TTL decrement updated through its 16-bit word keeps the IPv4 header valid", () => {
    const header = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
    const oldWord = (header[8] << 8) | header[9];
    header[8]--;
    const newWord = (header[8] << 8) | header[9];
    const updated = checksumUpdate16((header[10] << 8) | header[11], oldWord, newWord);
    header[10] = updated >>> 8;
    header[11] = updated & 0xff;
    assertEquals(onesSum(header, 0, 20), 0xffff);
  });

  test("a failing random check names its seed for replay", () => {
    assertThrows(() => assertEquals(onesSum(hex("0001"), 0, 2), 2, seedHint(42)), Error, "LUNA_SEED=42");
  });
});
