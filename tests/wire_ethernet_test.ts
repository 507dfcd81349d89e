/** Ethernet II header view, and MAC address helpers. */
import { describe, test } from "./harness.ts";
import { assertEquals, assertThrows } from "@std/assert";
import {
  Drop,
  EthernetFrame,
  ethernetHeaderLen,
  EtherType,
  formatMac,
  isMulticastMac,
  macBroadcast,
  parseMac,
  readMac,
  writeMac,
} from "../src/wire/mod.ts";

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// The Ethernet header of a frame from 02:00:00:00:00:01 to 02:00:00:00:00:02
// carrying IPv4, then two bytes of payload.
const frameBytes = hex("0200 0000 0002 0200 0000 0001 0800 4500");

describe("wire ethernet", () => {
  test("a frame's fields read in place", () => {
    const frame = new EthernetFrame();
    assertEquals(frame.wrap(frameBytes, 0, frameBytes.length), Drop.none);
    assertEquals(frame.dst, 0x0200_0000_0002);
    assertEquals(frame.src, 0x0200_0000_0001);
    assertEquals(frame.ethertype, EtherType.ipv4);
    assertEquals(frame.payloadOffset, 14);
    assertEquals(frame.payloadLen, 2);
  });

  test("MAC addresses copy into a caller's array", () => {
    const frame = new EthernetFrame(frameBytes);
    const out = new Uint8Array(12);
    frame.copyDst(out, 0);
    frame.copySrc(out, 6);
    assertEquals(Array.from(out), Array.from(frameBytes.subarray(0, 12)));
  });

  test("setters write the header byte for byte", () => {
    const bytes = new Uint8Array(16);
    const frame = new EthernetFrame(bytes, 0, 16);
    frame.dst = 0x0200_0000_0002;
    frame.src = 0x0200_0000_0001;
    frame.ethertype = 0x0800;
    bytes[14] = 0x45;
    assertEquals(Array.from(bytes), Array.from(frameBytes));
  });

  test("a header written at an offset reads back through the same view", () => {
    const bytes = new Uint8Array(ethernetHeaderLen + 4);
    const frame = new EthernetFrame(bytes, 4, ethernetHeaderLen);
    frame.dst = macBroadcast;
    frame.src = 0xfe_dc_ba_98_76_54;
    frame.ethertype = EtherType.arp;
    assertEquals(frame.wrap(bytes, 4, ethernetHeaderLen), Drop.none);
    assertEquals([frame.dst, frame.src, frame.ethertype], [macBroadcast, 0xfe_dc_ba_98_76_54, EtherType.arp]);
    assertEquals(Array.from(bytes.subarray(4)), Array.from(hex("ffff ffff ffff fedc ba98 7654 0806")));
  });

  test("a frame shorter than its header is truncated, at every length", () => {
    const frame = new EthernetFrame();
    for (let len = 0; len < ethernetHeaderLen; len++) {
      assertEquals(frame.wrap(frameBytes, 0, len), Drop.truncated, `length ${len}`);
    }
    assertEquals(frame.wrap(frameBytes, 0, ethernetHeaderLen), Drop.none);
  });

  test("a view reaching past its buffer is truncated, not read", () => {
    const frame = new EthernetFrame();
    assertEquals(frame.wrap(frameBytes, 4, frameBytes.length), Drop.truncated);
    assertEquals(frame.wrap(frameBytes, -1, 15), Drop.truncated);
    assertEquals(frame.check(), Drop.truncated);
  });

  test("MAC addresses format and parse", () => {
    assertEquals(formatMac(0x0200_0000_0001), "02:00:00:00:00:01");
    assertEquals(formatMac(macBroadcast), "ff:ff:ff:ff:ff:ff");
    assertEquals(formatMac(0), "00:00:00:00:00:00");
    assertEquals(parseMac("02:00:00:00:00:01"), 0x0200_0000_0001);
    assertEquals(parseMac("FE-DC-BA-98-76-54"), 0xfe_dc_ba_98_76_54);
    assertEquals(parseMac(formatMac(0x12_34_56_78_9a_bc)), 0x12_34_56_78_9a_bc);
  });

  test("a malformed MAC address is refused with a message", () => {
    for (const text of ["", "02:00:00:00:00", "02:00:00:00:00:01:02", "0g:00:00:00:00:01", "2:0:0:0:0:1"]) {
      assertThrows(() => parseMac(text), Error, "is not a MAC address");
    }
  });

  test("multicast is told by the I/G bit", () => {
    assertEquals(isMulticastMac(macBroadcast), true);
    assertEquals(isMulticastMac(0x01_00_5e_00_00_01), true);
    assertEquals(isMulticastMac(0x02_00_00_00_00_01), false);
  });

  test("readMac and writeMac work at any offset", () => {
    const bytes = new Uint8Array(9);
    writeMac(bytes, 3, 0xa1_b2_c3_d4_e5_f6);
    assertEquals(Array.from(bytes), [0, 0, 0, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6]);
    assertEquals(readMac(bytes, 3), 0xa1_b2_c3_d4_e5_f6);
  });
});
