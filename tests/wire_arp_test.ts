/** ARP (Ethernet/IPv4) packet view and representation. */
import { describe, test } from "./harness.ts";
import { assertEquals, assertThrows } from "@std/assert";
import { ArpOp, ArpPacket, arpPacketLen, ArpRepr, Drop } from "../src/wire/mod.ts";

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// Who has 198.18.0.2? Tell 198.18.0.1 (02:00:00:00:00:01).
const requestBytes = hex("0001 0800 0604 0001 0200 0000 0001 c612 0001 0000 0000 0000 c612 0002");

describe("wire arp", () => {
  test("a request's fields read in place", () => {
    const arp = new ArpPacket();
    assertEquals(arp.wrap(requestBytes, 0, requestBytes.length), Drop.none);
    assertEquals(arp.hardwareType, 1);
    assertEquals(arp.protocolType, 0x0800);
    assertEquals(arp.hardwareLen, 6);
    assertEquals(arp.protocolLen, 4);
    assertEquals(arp.operation, ArpOp.request);
    assertEquals(arp.senderMac, 0x0200_0000_0001);
    assertEquals(arp.senderIp, 0xc612_0001);
    assertEquals(arp.targetMac, 0);
    assertEquals(arp.targetIp, 0xc612_0002);
  });

  test("a representation parses the request and emits it byte for byte", () => {
    const repr = new ArpRepr();
    assertEquals(repr.parse(new ArpPacket(requestBytes)), Drop.none);
    assertEquals(
      [repr.operation, repr.senderMac, repr.senderIp, repr.targetMac, repr.targetIp],
      [ArpOp.request, 0x0200_0000_0001, 0xc612_0001, 0, 0xc612_0002],
    );
    const out = new Uint8Array(repr.bufferLen()).fill(0xee);
    repr.emit(new ArpPacket(out));
    assertEquals(Array.from(out), Array.from(requestBytes));
  });

  test("a reply round-trips through emit and parse", () => {
    const repr = new ArpRepr();
    repr.operation = ArpOp.reply;
    repr.senderMac = 0x0200_0000_0002;
    repr.senderIp = 0xc612_0002;
    repr.targetMac = 0x0200_0000_0001;
    repr.targetIp = 0xc612_0001;
    const bytes = new Uint8Array(40);
    const arp = new ArpPacket(bytes, 6, arpPacketLen);
    repr.emit(arp);
    const back = new ArpRepr();
    assertEquals(back.parse(arp), Drop.none);
    assertEquals(back, repr);
  });

  test("a packet shorter than 28 bytes is truncated, at every length", () => {
    const arp = new ArpPacket();
    for (let len = 0; len < arpPacketLen; len++) {
      assertEquals(arp.wrap(requestBytes, 0, len), Drop.truncated, `length ${len}`);
    }
  });

  test("ARP for other hardware or protocols is unsupported", () => {
    const cases: Array<[number, number]> = [[1, 0x00], [3, 0x86], [4, 16], [5, 6]];
    for (const [at, value] of cases) {
      const bytes = requestBytes.slice();
      bytes[at] = value;
      assertEquals(new ArpRepr().parse(new ArpPacket(bytes)), Drop.arpUnsupported, `byte ${at} = ${value}`);
    }
  });

  test("emitting into a view shorter than 28 bytes throws and writes nothing", () => {
    const bytes = new Uint8Array(40);
    const repr = new ArpRepr();
    repr.operation = ArpOp.request;
    assertThrows(() => repr.emit(new ArpPacket(bytes, 0, 27)), RangeError, "needs 28 bytes");
    assertThrows(() => repr.emit(new ArpPacket(bytes, 20, 28)), RangeError, "needs 28 bytes");
    assertEquals(bytes, new Uint8Array(40));
  });
});
