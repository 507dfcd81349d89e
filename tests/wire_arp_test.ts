/** ARP (Ethernet/IPv4) packet view. */
import { describe, test } from "./harness.ts";
import { assertEquals } from "@std/assert";
import { arpHardwareEthernet, ArpOp, ArpPacket, arpPacketLen, Drop, EtherType } from "../src/wire/mod.ts";

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

  test("setters write the request byte for byte", () => {
    const out = new Uint8Array(arpPacketLen).fill(0xee);
    const arp = new ArpPacket(out);
    arp.hardwareType = arpHardwareEthernet;
    arp.protocolType = EtherType.ipv4;
    arp.hardwareLen = 6;
    arp.protocolLen = 4;
    arp.operation = ArpOp.request;
    arp.senderMac = 0x0200_0000_0001;
    arp.senderIp = 0xc612_0001;
    arp.targetMac = 0;
    arp.targetIp = 0xc612_0002;
    assertEquals(Array.from(out), Array.from(requestBytes));
  });

  test("a reply turned around in place, as the stack answers, reads back", () => {
    const bytes = new Uint8Array(40);
    bytes.set(requestBytes, 6);
    const arp = new ArpPacket();
    assertEquals(arp.wrap(bytes, 6, arpPacketLen), Drop.none);
    arp.operation = ArpOp.reply;
    arp.targetMac = arp.senderMac;
    arp.targetIp = arp.senderIp;
    arp.senderMac = 0x0200_0000_0002;
    arp.senderIp = 0xc612_0002;
    assertEquals(arp.wrap(bytes, 6, arpPacketLen), Drop.none);
    assertEquals(
      [arp.operation, arp.senderMac, arp.senderIp, arp.targetMac, arp.targetIp],
      [ArpOp.reply, 0x0200_0000_0002, 0xc612_0002, 0x0200_0000_0001, 0xc612_0001],
    );
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
      assertEquals(
        new ArpPacket().wrap(bytes, 0, bytes.length),
        Drop.arpUnsupported,
        `byte ${at} = ${value}`,
      );
    }
  });
});
