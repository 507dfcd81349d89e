/** TCP options: the cursor, parsing every option, emitting them, and bad lengths. */
import { describe, test } from "./harness.ts";
import { assertEquals, assertThrows } from "@std/assert";
import {
  Drop,
  sackBlocksMax,
  TcpOptionCursor,
  TcpOptionKind,
  TcpOptions,
  tcpOptionsLenMax,
} from "../src/wire/mod.ts";

function roundTrip(options: TcpOptions): TcpOptions {
  const bytes = new Uint8Array(3 + options.emitLen()).fill(0xee);
  const len = options.emit(bytes, 3);
  assertEquals(len, options.emitLen());
  assertEquals(len % 4, 0, "options end on a 4-byte boundary");
  assertEquals(len <= tcpOptionsLenMax, true, `options fit in 40 bytes, not ${len}`);
  const back = new TcpOptions();
  assertEquals(back.parse(bytes, 3, 3 + len), Drop.none);
  return back;
}

function parse(bytes: number[]): [Drop, TcpOptions] {
  const options = new TcpOptions();
  const why = options.parse(new Uint8Array(bytes), 0, bytes.length);
  return [why, options];
}

describe("wire tcp options", () => {
  test("MSS round-trips alone", () => {
    const o = new TcpOptions();
    o.mss = 1460;
    assertEquals(o.emitLen(), 4);
    assertEquals(roundTrip(o), o);
  });

  test("window scale round-trips alone, as NOP and the option", () => {
    const o = new TcpOptions();
    o.windowScale = 14;
    assertEquals(o.emitLen(), 4);
    assertEquals(roundTrip(o), o);
    o.windowScale = 0;
    assertEquals(roundTrip(o), o);
  });

  test("SACK-permitted round-trips alone", () => {
    const o = new TcpOptions();
    o.sackPermitted = true;
    assertEquals(o.emitLen(), 4);
    assertEquals(roundTrip(o), o);
  });

  test("timestamps round-trip alone, full 32-bit values included", () => {
    const o = new TcpOptions();
    o.timestamps = true;
    o.tsVal = 0xffff_ffff;
    o.tsEcr = 0x8000_0001;
    assertEquals(o.emitLen(), 12);
    assertEquals(roundTrip(o), o);
  });

  test("one to four SACK blocks round-trip", () => {
    for (let n = 1; n <= sackBlocksMax; n++) {
      const o = new TcpOptions();
      for (let k = 0; k < n; k++) o.addSackBlock(0xffff_0000 + 1000 * k, 0xffff_0000 + 1000 * k + 500);
      assertEquals(o.emitLen(), 4 + 8 * n);
      assertEquals(roundTrip(o), o, `${n} blocks`);
    }
  });

  test("a SYN's full set round-trips in 20 bytes", () => {
    const o = new TcpOptions();
    o.mss = 8960;
    o.windowScale = 9;
    o.sackPermitted = true;
    o.timestamps = true;
    o.tsVal = 1;
    o.tsEcr = 0;
    assertEquals(o.emitLen(), 20);
    assertEquals(roundTrip(o), o);
  });

  test("beside timestamps only three SACK blocks are emitted", () => {
    const o = new TcpOptions();
    o.timestamps = true;
    o.tsVal = 5;
    for (let k = 0; k < 4; k++) o.addSackBlock(10 * k, 10 * k + 5);
    assertEquals(o.sackCountEmitted(), 3);
    assertEquals(o.emitLen(), 40);
    const back = roundTrip(o);
    assertEquals(back.sackCount, 3);
    assertEquals(Array.from(back.sackBlocks), [0, 5, 10, 15, 20, 25, 0, 0]);
  });

  test("a fifth SACK block is refused", () => {
    const o = new TcpOptions();
    for (let k = 0; k < 4; k++) assertEquals(o.addSackBlock(k, k + 1), true);
    assertEquals(o.addSackBlock(9, 10), false);
    assertEquals(o.sackCount, 4);
  });

  test("no options emit nothing", () => {
    const o = new TcpOptions();
    assertEquals(o.emitLen(), 0);
    assertEquals(o.emit(new Uint8Array(0), 0), 0);
    assertEquals(roundTrip(o), o);
  });

  test("the cursor yields every option with its data, NOPs and unknown kinds included", () => {
    const bytes = new Uint8Array([1, 2, 4, 5, 0xb4, 30, 4, 0xaa, 0xbb, 4, 2, 0]);
    const c = new TcpOptionCursor().reset(bytes, 0, bytes.length);
    const seen: Array<[number, number, number]> = [];
    while (c.next()) seen.push([c.kind, c.dataOffset, c.dataLen]);
    assertEquals(seen, [[1, 1, 0], [2, 3, 2], [30, 7, 2], [4, 11, 0]]);
    assertEquals(c.error, Drop.none);
  });

  test("the cursor stops at EOL and ignores what follows", () => {
    const bytes = new Uint8Array([1, 0, 2, 0, 0, 0]);
    const c = new TcpOptionCursor().reset(bytes, 0, bytes.length);
    assertEquals(c.next(), true);
    assertEquals(c.kind, TcpOptionKind.nop);
    assertEquals(c.next(), false);
    assertEquals(c.next(), false);
    assertEquals(c.error, Drop.none);
    const [why, o] = parse([0, 2, 1]);
    assertEquals([why, o.mss], [Drop.none, -1]);
  });

  test("unknown options are skipped by their length", () => {
    // TCP-AO-like kind 29 of 6 bytes, then MSS.
    const [why, o] = parse([29, 6, 1, 2, 3, 4, 2, 4, 0x05, 0xdc]);
    assertEquals(why, Drop.none);
    assertEquals(o.mss, 1500);
  });

  test("a window scale above 14 is kept as received", () => {
    const [why, o] = parse([1, 3, 3, 15]);
    assertEquals([why, o.windowScale], [Drop.none, 15]);
  });

  test("parsing again forgets what the last segment had", () => {
    const o = new TcpOptions();
    assertEquals(o.parse(new Uint8Array([2, 4, 5, 0xb4, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2]), 0, 14), Drop.none);
    assertEquals([o.mss, o.sackCount], [1460, 1]);
    assertEquals(o.parse(new Uint8Array([1, 1, 1, 1]), 0, 4), Drop.none);
    assertEquals(o, new TcpOptions());
  });

  test("bad option lengths give tcpBadOptionLength and never throw", () => {
    const cases: Array<[string, number[]]> = [
      ["kind with no length byte", [2]],
      ["length 0", [30, 0, 1, 1]],
      ["length 1", [2, 1, 1, 1]],
      ["length past the options", [2, 4, 5]],
      ["unknown kind past the options", [30, 9, 0, 0, 0, 0]],
      ["MSS of 3 bytes", [2, 3, 5, 0]],
      ["MSS of 5 bytes", [2, 5, 5, 0xb4, 0]],
      ["window scale of 4 bytes", [3, 4, 7, 0]],
      ["window scale of 2 bytes", [3, 2, 1, 1]],
      ["SACK-permitted of 3 bytes", [4, 3, 0, 1]],
      ["timestamps of 8 bytes", [8, 8, 0, 0, 0, 1, 0, 0]],
      ["SACK with no block", [5, 2, 1, 1]],
      ["SACK of 11 bytes", [5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0]],
      ["SACK of 5 blocks", [5, 42, ...new Array(40).fill(0)]],
      ["bad option after a good one", [2, 4, 5, 0xb4, 1, 3, 3]],
    ];
    for (const [name, bytes] of cases) {
      assertEquals(parse(bytes)[0], Drop.tcpBadOptionLength, name);
    }
  });

  test("copyFrom and clear carry and reset every option", () => {
    const a = new TcpOptions();
    a.mss = 536;
    a.windowScale = 2;
    a.sackPermitted = true;
    a.timestamps = true;
    a.tsVal = 3;
    a.tsEcr = 4;
    a.addSackBlock(5, 6);
    const b = new TcpOptions();
    b.copyFrom(a);
    assertEquals(b, a);
    b.clear();
    assertEquals(b, new TcpOptions());
  });

  test("emit writes the documented layout", () => {
    const o = new TcpOptions();
    o.mss = 1460;
    o.sackPermitted = true;
    o.windowScale = 7;
    const bytes = new Uint8Array(o.emitLen());
    o.emit(bytes, 0);
    assertEquals(Array.from(bytes), [2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]);
  });

  test("emitting options past the end of the buffer throws and writes nothing", () => {
    const o = new TcpOptions();
    o.mss = 1460;
    o.windowScale = 7;
    const bytes = new Uint8Array(10);
    assertThrows(() => o.emit(bytes, 3), RangeError, "needs 8 bytes");
    assertEquals(bytes, new Uint8Array(10));
    assertEquals(o.emit(bytes, 2), 8);
  });
});
