/** UDP header view; the vector was checked by Wireshark's tshark. */
import { describe, test } from "./harness.ts";
import { assertEquals } from "@std/assert";
import { Drop, udpHeaderLen, UdpPacket } from "../src/wire/mod.ts";

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const src = 0xc612_0001; // 198.18.0.1
const dst = 0xc612_0002; // 198.18.0.2
// 5353 -> 53, 5 bytes "query", checksum 0x0ea6.
const datagram = hex("14e9 0035 000d 0ea6 7175 6572 79");

describe("wire udp", () => {
  test("a datagram's fields read in place and its checksum verifies", () => {
    const udp = new UdpPacket();
    assertEquals(udp.wrap(datagram, 0, datagram.length), Drop.none);
    assertEquals([udp.srcPort, udp.dstPort, udp.udpLen, udp.checksum], [5353, 53, 13, 0x0ea6]);
    assertEquals([udp.payloadOffset, udp.payloadLen], [8, 5]);
    assertEquals(udp.verifyChecksum(src, dst), true);
    assertEquals(udp.verifyChecksum(src, dst + 1), false);
  });

  test("setters and fillChecksum write the captured datagram byte for byte", () => {
    const bytes = datagram.slice();
    bytes.fill(0xee, 0, udpHeaderLen);
    const udp = new UdpPacket(bytes);
    udp.srcPort = 5353;
    udp.dstPort = 53;
    udp.udpLen = udpHeaderLen + 5;
    udp.fillChecksum(src, dst);
    assertEquals(Array.from(bytes), Array.from(datagram));
  });

  test("datagrams written through the setters read back and verify", () => {
    for (const payloadLen of [0, 1, 2, 511, 1472]) {
      const len = udpHeaderLen + payloadLen;
      const bytes = new Uint8Array(len + 4);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i * 13;
      const udp = new UdpPacket(bytes, 0, len);
      udp.srcPort = 40000 + payloadLen;
      udp.dstPort = 7;
      udp.udpLen = len;
      udp.fillChecksum(src, dst);
      assertEquals(udp.wrap(bytes, 0, len), Drop.none, `payload ${payloadLen}`);
      assertEquals(udp.verifyChecksum(src, dst), true, `payload ${payloadLen}`);
      assertEquals([udp.srcPort, udp.dstPort, udp.payloadLen], [40000 + payloadLen, 7, payloadLen]);
    }
  });

  test("a zero checksum means none was sent and verifies", () => {
    const bytes = datagram.slice();
    bytes[6] = 0;
    bytes[7] = 0;
    const udp = new UdpPacket();
    assertEquals(udp.wrap(bytes, 0, bytes.length), Drop.none);
    assertEquals(udp.verifyChecksum(src, dst), true);
  });

  test("a computed checksum of zero goes out as 0xffff", () => {
    // Find a payload word that makes the sum come to 0xffff.
    const bytes = new Uint8Array(10);
    const udp = new UdpPacket(bytes);
    udp.srcPort = 1;
    udp.dstPort = 2;
    udp.udpLen = 10;
    for (let w = 0; w < 0x10000; w++) {
      bytes[8] = w >>> 8;
      bytes[9] = w & 0xff;
      udp.fillChecksum(src, dst);
      if (udp.checksum === 0xffff) break;
    }
    assertEquals(udp.checksum, 0xffff);
    assertEquals(udp.verifyChecksum(src, dst), true);
  });

  test("malformed lengths give their drop reason", () => {
    const udp = new UdpPacket();
    for (let len = 0; len < udpHeaderLen; len++) {
      assertEquals(udp.wrap(datagram, 0, len), Drop.truncated, `length ${len}`);
    }
    const short = datagram.slice();
    short[5] = 7;
    assertEquals(udp.wrap(short, 0, short.length), Drop.udpBadLength);
    const long = datagram.slice();
    long[5] = 14;
    assertEquals(udp.wrap(long, 0, long.length), Drop.udpBadLength);
  });

  test("a corrupted datagram wraps, and its checksum does not verify", () => {
    const bytes = datagram.slice();
    bytes[10] ^= 0x20;
    const udp = new UdpPacket();
    assertEquals(udp.wrap(bytes, 0, bytes.length), Drop.none);
    assertEquals(udp.verifyChecksum(src, dst), false);
  });

  test("the length field, not the buffer, bounds the payload", () => {
    const bytes = new Uint8Array(datagram.length + 3);
    bytes.set(datagram);
    const udp = new UdpPacket(bytes);
    assertEquals(udp.check(), Drop.none);
    assertEquals(udp.payloadLen, 5);
    assertEquals(udp.verifyChecksum(src, dst), true);
  });
});
