/**
 * SipHash-2-4 against the 64 test vectors of the reference implementation
 * (vectors.h of github.com/veorq/SipHash: key 00 01 .. 0f, messages of
 * 0..63 bytes 00 01 02 ..), each given as the 8 output bytes in order.
 */
import { describe, test } from "./harness.ts";
import { assertEquals, assertThrows } from "@std/assert";
import { randomSipHashKey, SipHash } from "../src/tcp/siphash.ts";

const vectors = [
  "310e0edd47db6f72",
  "fd67dc93c539f874",
  "5a4fa9d909806c0d",
  "2d7efbd796666785",
  "b7877127e09427cf",
  "8da699cd64557618",
  "cee3fe586e46c9cb",
  "37d1018bf50002ab",
  "6224939a79f5f593",
  "b0e4a90bdf82009e",
  "f3b9dd94c5bb5d7a",
  "a7ad6b22462fb3f4",
  "fbe50e86bc8f1e75",
  "903d84c02756ea14",
  "eef27a8e90ca23f7",
  "e545be4961ca29a1",
  "db9bc2577fcc2a3f",
  "9447be2cf5e99a69",
  "9cd38d96f0b3c14b",
  "bd6179a71dc96dbb",
  "98eea21af25cd6be",
  "c7673b2eb0cbf2d0",
  "883ea3e395675393",
  "c8ce5ccd8c030ca8",
  "94af49f6c650adb8",
  "eab8858ade92e1bc",
  "f315bb5bb835d817",
  "adcf6b0763612e2f",
  "a5c91da7acaa4dde",
  "716595876650a2a6",
  "28ef495c53a387ad",
  "42c341d8fa92d832",
  "ce7cf2722f512771",
  "e37859f94623f3a7",
  "381205bb1ab0e012",
  "ae97a10fd434e015",
  "b4a31508beff4d31",
  "81396229f0907902",
  "4d0cf49ee5d4dcca",
  "5c73336a76d8bf9a",
  "d0a704536ba93e0e",
  "925958fcd6420cad",
  "a915c29bc8067318",
  "952b79f3bc0aa6d4",
  "f21df2e41d4535f9",
  "87577519048f53a9",
  "10a56cf5dfcd9adb",
  "eb75095ccd986cd0",
  "51a9cb9ecba312e6",
  "96afadfc2ce666c7",
  "72fe52975a4364ee",
  "5a1645b276d592a1",
  "b274cb8ebf87870a",
  "6f9bb4203de7b381",
  "eaecb2a30b22a87f",
  "9924a43cc1315724",
  "bd838d3aafbf8db7",
  "0b1a2a3265d51aea",
  "135079a3231ce660",
  "932b2846e4d70666",
  "e1915f5cb1eca46c",
  "f325965ca16d629f",
  "575ff28e60381be5",
  "724506eb4c328a95",
];

function hex32le(x: number): string {
  let s = "";
  for (let i = 0; i < 4; i++) s += ((x >>> (8 * i)) & 0xff).toString(16).padStart(2, "0");
  return s;
}

/** The result as its 8 output bytes (little-endian), in hex. */
function outputHex(h: SipHash): string {
  return hex32le(h.lo) + hex32le(h.hi);
}

function referenceKey(): Uint8Array {
  return Uint8Array.from({ length: 16 }, (_, i) => i);
}

describe("tcp siphash", () => {
  test("SipHash-2-4 matches the 64 reference vectors (messages of 0..63 bytes)", () => {
    const h = new SipHash(referenceKey());
    const msg = Uint8Array.from({ length: 64 }, (_, i) => i);
    for (let n = 0; n < 64; n++) {
      h.hashBytes(msg, 0, n);
      assertEquals(outputHex(h), vectors[n], `message of ${n} bytes`);
    }
  });

  test("the paper's appendix example: 15 bytes hash to 0xa129ca6149be45e5", () => {
    const h = new SipHash(referenceKey());
    h.hashBytes(Uint8Array.from({ length: 15 }, (_, i) => i));
    assertEquals([h.hi, h.lo], [0xa129ca61, 0x49be45e5]);
  });

  test("a message at an offset inside a larger buffer hashes like the bytes alone", () => {
    const h = new SipHash(referenceKey());
    const buf = new Uint8Array(80).fill(0xee);
    for (let i = 0; i < 21; i++) buf[7 + i] = i;
    h.hashBytes(buf, 7, 21);
    assertEquals(outputHex(h), vectors[21]);
  });

  test("hashWords4 and hashWords6 equal hashing their little-endian bytes", () => {
    const h = new SipHash(referenceKey());
    const words = [0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c, 0x13121110, 0x17161514];
    h.hashWords4(words[0], words[1], words[2], words[3]);
    assertEquals(outputHex(h), vectors[16]);
    h.hashWords6(words[0], words[1], words[2], words[3], words[4], words[5]);
    assertEquals(outputHex(h), vectors[24]);
    const bytes = new Uint8Array([
      0xc6,
      0x12,
      0x00,
      0x01,
      0xff,
      0xff,
      0xff,
      0xff,
      0,
      0,
      0x50,
      0x9c,
      1,
      2,
      3,
      4,
    ]);
    h.hashBytes(bytes);
    const a = [h.hi, h.lo];
    const dv = new DataView(bytes.buffer);
    h.hashWords4(dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true), dv.getUint32(12, true));
    assertEquals([h.hi, h.lo], a);
  });

  test("results are uint32 halves, and a different key gives a different hash", () => {
    const a = new SipHash(referenceKey());
    const key = referenceKey();
    key[15] ^= 1;
    const b = new SipHash(key);
    a.hashWords4(1, 2, 3, 4);
    b.hashWords4(1, 2, 3, 4);
    for (const x of [a.hi, a.lo, b.hi, b.lo]) assertEquals(x >>> 0, x);
    assertEquals(a.hi === b.hi && a.lo === b.lo, false);
  });

  test("a key must be 16 bytes; randomSipHashKey gives 16 bytes", () => {
    assertThrows(() => new SipHash(new Uint8Array(8)), RangeError);
    assertEquals(randomSipHashKey().length, 16);
  });
});
