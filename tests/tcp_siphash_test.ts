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
  test("SipHash-1-3 (c = 1, d = 3) of words equals a BigInt reference of SipHash-c-d", () => {
    const key = referenceKey();
    // The reference, written from the paper with 64-bit BigInts; checked first against SipHash-2-4's vectors.
    const mask = (1n << 64n) - 1n;
    const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & mask;
    const sip = (c: number, d: number, msg: Uint8Array): string => {
      const dv = new DataView(key.buffer, key.byteOffset);
      const k0 = dv.getBigUint64(0, true), k1 = dv.getBigUint64(8, true);
      const v = [
        k0 ^ 0x736f6d6570736575n,
        k1 ^ 0x646f72616e646f6dn,
        k0 ^ 0x6c7967656e657261n,
        k1 ^ 0x7465646279746573n,
      ];
      const round = () => {
        v[0] = (v[0] + v[1]) & mask, v[1] = rotl(v[1], 13n) ^ v[0], v[0] = rotl(v[0], 32n);
        v[2] = (v[2] + v[3]) & mask, v[3] = rotl(v[3], 16n) ^ v[2];
        v[0] = (v[0] + v[3]) & mask, v[3] = rotl(v[3], 21n) ^ v[0];
        v[2] = (v[2] + v[1]) & mask, v[1] = rotl(v[1], 17n) ^ v[2], v[2] = rotl(v[2], 32n);
      };
      const padded = new Uint8Array((msg.length >> 3) * 8 + 8);
      padded.set(msg);
      padded[padded.length - 1] = msg.length & 0xff;
      const pv = new DataView(padded.buffer);
      for (let p = 0; p < padded.length; p += 8) {
        const m = pv.getBigUint64(p, true);
        v[3] ^= m;
        for (let r = 0; r < c; r++) round();
        v[0] ^= m;
      }
      v[2] ^= 0xffn;
      for (let r = 0; r < d; r++) round();
      const out = new DataView(new ArrayBuffer(8));
      out.setBigUint64(0, v[0] ^ v[1] ^ v[2] ^ v[3], true);
      return [...new Uint8Array(out.buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
    };
    const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
    for (const n of [0, 7, 16, 24, 63]) {
      assertEquals(
        sip(2, 4, Uint8Array.from({ length: n }, (_, i) => i)),
        vectors[n],
        `reference, ${n} bytes`,
      );
    }
    const h = new SipHash(key, 1, 3);
    for (const n of [16, 24]) {
      const m = bytes(n);
      const w = new DataView(m.buffer);
      const at = (i: number) => w.getUint32(4 * i, true);
      if (n === 16) h.hashWords4(at(0), at(1), at(2), at(3));
      else h.hashWords6(at(0), at(1), at(2), at(3), at(4), at(5));
      assertEquals(outputHex(h), sip(1, 3, m), `SipHash-1-3 of ${n} bytes`);
      const h24 = new SipHash(key);
      if (n === 16) h24.hashWords4(at(0), at(1), at(2), at(3));
      else h24.hashWords6(at(0), at(1), at(2), at(3), at(4), at(5));
      assertEquals(outputHex(h24), sip(2, 4, m), `SipHash-2-4 of ${n} bytes`);
    }
    assertThrows(() => new SipHash(key, 0, 3), RangeError);
  });
});
