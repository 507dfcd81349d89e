/**
 * TCP segment view and representation. The segments from 198.18.0.1 to
 * 198.18.0.2 were checked by Wireshark's tshark (checksum status "Good").
 * Random tests take their seed from LUNA_SEED when set, and print it on failure.
 */
import { describe, test } from "./harness.ts";
import { assertEquals, assertThrows } from "@std/assert";
import {
  checksumUpdate32,
  Drop,
  internetChecksum,
  pseudoHeaderSum,
  seqAdd,
  TcpFlags,
  tcpHeaderLen,
  TcpPacket,
  TcpRepr,
} from "../src/wire/mod.ts";
import { hex, prng, seedFromEnv } from "./helpers.ts";




const src = 0xc612_0001; // 198.18.0.1
const dst = 0xc612_0002; // 198.18.0.2

// SYN 40000 -> 80, seq 0x12345678, window 64240; MSS 1460, SACK-permitted,
// timestamps 0x0a0b0c0d/0, NOP, window scale 7: the layout Linux sends.
const syn = hex(
  "9c40 0050 1234 5678 0000 0000 a002 faf0 a592 0000 0204 05b4 0402 080a 0a0b 0c0d 0000 0000 0103 0307",
);
// PSH|ACK with timestamps and the 13 bytes "hello, world!".
const data = hex(
  "9c40 0050 1234 5679 9abc def0 8018 01f6 add3 0000 0101 080a 0a0b 0c0e 1122 3344" +
    "6865 6c6c 6f2c 2077 6f72 6c64 21",
);
// ACK 80 -> 40000 with timestamps 7/8 and SACK blocks 100-200, 300-400.
const sackAck = hex(
  "0050 9c40 9abc def0 1234 5679 d010 01f6 0f96 0000 0101 080a 0000 0007 0000 0008" +
    "0101 0512 0000 0064 0000 00c8 0000 012c 0000 0190",
);

function synRepr(): TcpRepr {
  const r = new TcpRepr();
  r.srcPort = 40000;
  r.dstPort = 80;
  r.seq = 0x12345678;
  r.flags = TcpFlags.syn;
  r.window = 64240;
  r.options.mss = 1460;
  r.options.sackPermitted = true;
  r.options.timestamps = true;
  r.options.tsVal = 0x0a0b0c0d;
  r.options.windowScale = 7;
  return r;
}

describe("wire tcp", () => {
  test("a SYN's fields and options read in place and its checksum verifies", () => {
    const tcp = new TcpPacket();
    assertEquals(tcp.wrap(syn, 0, syn.length), Drop.none);
    assertEquals([tcp.srcPort, tcp.dstPort, tcp.seq, tcp.ack], [40000, 80, 0x12345678, 0]);
    assertEquals([tcp.headerLen, tcp.flags, tcp.window, tcp.checksum, tcp.urgent], [
      40,
      TcpFlags.syn,
      64240,
      0xa592,
      0,
    ]);
    assertEquals([tcp.optionsOffset, tcp.optionsLen, tcp.payloadOffset, tcp.payloadLen], [20, 20, 40, 0]);
    assertEquals(tcp.verifyChecksum(src, dst), true);
    const repr = new TcpRepr();
    assertEquals(repr.parse(tcp, src, dst), Drop.none);
    assertEquals(repr, synRepr());
  });

  test("a SYN is emitted byte for byte as captured", () => {
    const repr = synRepr();
    assertEquals(repr.headerLen(), 40);
    const bytes = new Uint8Array(repr.bufferLen()).fill(0xee);
    repr.emit(new TcpPacket(bytes), src, dst);
    assertEquals(Array.from(bytes), Array.from(syn));
  });

  test("a data segment is emitted around a payload already in the buffer", () => {
    const repr = new TcpRepr();
    repr.srcPort = 40000;
    repr.dstPort = 80;
    repr.seq = 0x12345679;
    repr.ack = 0x9abcdef0;
    repr.flags = TcpFlags.psh | TcpFlags.ack;
    repr.window = 502;
    repr.options.timestamps = true;
    repr.options.tsVal = 0x0a0b0c0e;
    repr.options.tsEcr = 0x11223344;
    repr.payloadLen = 13;
    const bytes = new Uint8Array(repr.bufferLen()).fill(0xee);
    bytes.set(new TextEncoder().encode("hello, world!"), repr.headerLen());
    repr.emit(new TcpPacket(bytes), src, dst);
    assertEquals(Array.from(bytes), Array.from(data));
    const back = new TcpRepr();
    assertEquals(back.parse(new TcpPacket(data), src, dst), Drop.none);
    assertEquals(back, repr);
  });

  test("an ACK with SACK blocks is emitted byte for byte as captured", () => {
    const repr = new TcpRepr();
    assertEquals(repr.parse(new TcpPacket(sackAck), src, dst), Drop.none);
    assertEquals(repr.options.sackCount, 2);
    assertEquals(Array.from(repr.options.sackBlocks.subarray(0, 4)), [100, 200, 300, 400]);
    const bytes = new Uint8Array(repr.bufferLen());
    repr.emit(new TcpPacket(bytes), src, dst);
    assertEquals(Array.from(bytes), Array.from(sackAck));
  });

  test("smoltcp's test segment verifies and is rebuilt byte for byte", () => {
    // src/wire/tcp.rs of smoltcp: 192.168.1.1 -> 192.168.1.2, FIN|RST|ACK|URG.
    const bytes = hex("bf00 0050 0123 4567 89ab cdef 5035 0123 20be 0201 aa00 00ff");
    const a = 0xc0a8_0101;
    const b = 0xc0a8_0102;
    const repr = new TcpRepr();
    assertEquals(repr.parse(new TcpPacket(bytes), a, b), Drop.none);
    assertEquals(repr.flags, TcpFlags.fin | TcpFlags.rst | TcpFlags.ack | TcpFlags.urg);
    assertEquals([repr.window, repr.urgent, repr.payloadLen], [0x0123, 0x0201, 4]);
    const out = bytes.slice();
    out.fill(0, 0, tcpHeaderLen);
    repr.emit(new TcpPacket(out), a, b);
    assertEquals(Array.from(out), Array.from(bytes));
  });

  test("random representations round-trip through emit and parse", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    const u32 = () => (rand() * 0x1_0000_0000) >>> 0;
    const tcp = new TcpPacket();
    for (let i = 0; i < 1000; i++) {
      const repr = new TcpRepr();
      repr.srcPort = (rand() * 0x10000) | 0;
      repr.dstPort = (rand() * 0x10000) | 0;
      repr.seq = u32();
      repr.ack = u32();
      repr.flags = (rand() * 256) | 0;
      repr.window = (rand() * 0x10000) | 0;
      repr.urgent = (rand() * 0x10000) | 0;
      repr.payloadLen = (rand() * 100) | 0;
      const o = repr.options;
      if (rand() < 0.5) o.mss = (rand() * 0x10000) | 0;
      if (rand() < 0.5) o.windowScale = (rand() * 15) | 0;
      o.sackPermitted = rand() < 0.5;
      if (rand() < 0.5) {
        o.timestamps = true;
        o.tsVal = u32();
        o.tsEcr = u32();
      }
      // Only as many SACK blocks as fit beside the other options, so that
      // what is parsed back equals what was asked for.
      const blocks = (rand() * 5) | 0;
      for (let k = 0; k < blocks; k++) o.addSackBlock(u32(), u32());
      o.sackCount = o.sackCountEmitted();
      o.sackBlocks.fill(0, 2 * o.sackCount);
      const at = (rand() * 8) | 0;
      const bytes = new Uint8Array(at + repr.bufferLen());
      for (let k = 0; k < bytes.length; k++) bytes[k] = (rand() * 256) | 0;
      repr.emit(tcp.attach(bytes, at, repr.bufferLen()), src, dst);
      const back = new TcpRepr();
      const why = `seed=${seed} (rerun with LUNA_SEED=${seed}) i=${i}`;
      assertEquals(back.parse(tcp, src, dst), Drop.none, why);
      assertEquals(back, repr, why);
    }
  });

  test("emit leaves the checksum zero for the NIC when asked", () => {
    const repr = synRepr();
    const bytes = new Uint8Array(repr.bufferLen()).fill(0xee);
    repr.emit(new TcpPacket(bytes), src, dst, false);
    assertEquals([bytes[16], bytes[17]], [0, 0]);
  });

  test("the pseudo-header sum in the checksum field is what offload completes", () => {
    const bytes = data.slice();
    const tcp = new TcpPacket(bytes);
    tcp.fillPseudoHeaderSum(src, dst);
    assertEquals(tcp.checksum, pseudoHeaderSum(src, dst, 6, data.length));
    // A NIC sums the segment from the transport header on, as if with no pseudo-header.
    assertEquals(internetChecksum(bytes, 0, bytes.length), 0xadd3);
  });

  test("rewriting the ACK number with an incremental update keeps the segment valid", () => {
    const bytes = data.slice();
    const tcp = new TcpPacket(bytes);
    const oldAck = tcp.ack;
    const newAck = seqAdd(oldAck, 1448);
    tcp.ack = newAck;
    tcp.checksum = checksumUpdate32(tcp.checksum, oldAck, newAck);
    assertEquals(tcp.verifyChecksum(src, dst), true);
  });

  test("sequence space counts SYN and FIN", () => {
    const repr = new TcpRepr();
    repr.payloadLen = 10;
    assertEquals(repr.segmentLen(), 10);
    repr.flags = TcpFlags.syn | TcpFlags.ack;
    assertEquals(repr.segmentLen(), 11);
    repr.flags = TcpFlags.syn | TcpFlags.fin;
    assertEquals(repr.segmentLen(), 12);
  });

  test("the data offset setter keeps the reserved bits", () => {
    const bytes = syn.slice();
    bytes[12] |= 0x01;
    const tcp = new TcpPacket(bytes);
    tcp.headerLen = 24;
    assertEquals([tcp.headerLen, bytes[12] & 0x0f], [24, 1]);
  });

  test("copyFrom copies every field and option", () => {
    const a = synRepr();
    a.options.addSackBlock(1, 2);
    const b = new TcpRepr();
    b.copyFrom(a);
    assertEquals(b, a);
  });

  test("a segment shorter than 20 bytes is truncated, at every length", () => {
    const tcp = new TcpPacket();
    for (let len = 0; len < tcpHeaderLen; len++) {
      assertEquals(tcp.wrap(syn, 0, len), Drop.truncated, `length ${len}`);
    }
  });

  test("a data offset below 5 or past the segment is tcpBadDataOffset", () => {
    for (const offset of [0, 1, 4, 11, 15]) {
      const bytes = syn.slice();
      bytes[12] = offset << 4;
      assertEquals(
        new TcpRepr().parse(new TcpPacket(bytes), src, dst),
        Drop.tcpBadDataOffset,
        `offset ${offset}`,
      );
    }
    // Cut into the options: 40 bytes of header declared in 36.
    assertEquals(new TcpPacket().wrap(syn, 0, 36), Drop.tcpBadDataOffset);
  });

  test("a corrupted segment gives tcpBadChecksum unless the check is skipped", () => {
    for (const at of [0, 5, 13, 25, data.length - 1]) {
      const bytes = data.slice();
      bytes[at] ^= 0x10;
      assertEquals(new TcpRepr().parse(new TcpPacket(bytes), src, dst), Drop.tcpBadChecksum, `byte ${at}`);
    }
    assertEquals(new TcpRepr().parse(new TcpPacket(data), src + 1, dst), Drop.tcpBadChecksum);
    const bytes = data.slice();
    bytes[30] ^= 1;
    assertEquals(new TcpRepr().parse(new TcpPacket(bytes), src, dst, false), Drop.none);
  });

  test("a bad option length under a good checksum is tcpBadOptionLength", () => {
    const bytes = syn.slice();
    bytes[21] = 5; // MSS with length 5 runs into the next option
    const tcp = new TcpPacket(bytes);
    tcp.fillChecksum(src, dst);
    assertEquals(new TcpRepr().parse(tcp, src, dst), Drop.tcpBadOptionLength);
  });

  test("the parse of a segment with options ignores the payload", () => {
    const repr = new TcpRepr();
    assertEquals(repr.parse(new TcpPacket(data), src, dst), Drop.none);
    assertEquals(repr.payloadLen, 13);
    assertEquals(repr.options.mss, -1);
    assertEquals([repr.options.tsVal, repr.options.tsEcr], [0x0a0b0c0e, 0x11223344]);
  });

  test("emitting into a view shorter than header, options and payload throws and writes nothing", () => {
    const repr = synRepr();
    repr.payloadLen = 1;
    const bytes = new Uint8Array(48);
    assertThrows(() => repr.emit(new TcpPacket(bytes, 0, 40), src, dst), RangeError, "needs 41 bytes");
    assertThrows(() => repr.emit(new TcpPacket(bytes, 8, 41), src, dst), RangeError, "needs 41 bytes");
    assertEquals(bytes, new Uint8Array(48));
  });
});
