/** ICMP message view; the vector was checked by Wireshark's tshark. */
import { describe, test } from "./harness.ts";
import { assertEquals } from "@std/assert";
import { checksumUpdate16, Drop, icmpHeaderLen, IcmpPacket, IcmpType } from "../src/wire/mod.ts";

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// Echo request, id 0x1234, seq 1, 32 bytes of the alphabet as ping sends it.
const echoRequest = hex(
  "0800 3b27 1234 0001 6162 6364 6566 6768 696a 6b6c 6d6e 6f70 7172 7374 7576 7761 6263 6465 6667 6869",
);

describe("wire icmp", () => {
  test("an echo request's fields read in place and its checksum verifies", () => {
    const icmp = new IcmpPacket();
    assertEquals(icmp.wrap(echoRequest, 0, echoRequest.length), Drop.none);
    assertEquals(icmp.type, IcmpType.echoRequest);
    assertEquals(icmp.code, 0);
    assertEquals(icmp.checksum, 0x3b27);
    assertEquals(icmp.ident, 0x1234);
    assertEquals(icmp.seqNo, 1);
    assertEquals(icmp.rest, 0x1234_0001);
    assertEquals(icmp.payloadOffset, 8);
    assertEquals(icmp.payloadLen, 32);
    assertEquals(icmp.verifyChecksum(), true);
  });

  test("an echo reply is built in place over the request's payload, its checksum updated (RFC 1624)", () => {
    const bytes = echoRequest.slice();
    const icmp = new IcmpPacket();
    assertEquals(icmp.wrap(bytes, 0, bytes.length), Drop.none);
    assertEquals(icmp.verifyChecksum(), true);
    // As the stack answers a ping (src/ip/ipv4_layer.ts).
    icmp.checksum = checksumUpdate16(icmp.checksum, IcmpType.echoRequest << 8, IcmpType.echoReply << 8);
    icmp.type = IcmpType.echoReply;
    assertEquals(icmp.verifyChecksum(), true);
    assertEquals(Array.from(bytes.subarray(4)), Array.from(echoRequest.subarray(4)));
    // Type 8 -> 0 changes the first word by 0x0800, and the checksum by as much.
    assertEquals(icmp.checksum, 0x3b27 + 0x0800);
  });

  test("setters and fillChecksum write the captured message byte for byte", () => {
    const bytes = echoRequest.slice();
    bytes.fill(0xee, 0, icmpHeaderLen);
    const icmp = new IcmpPacket(bytes, 0, bytes.length);
    icmp.type = IcmpType.echoRequest;
    icmp.code = 0;
    icmp.ident = 0x1234;
    icmp.seqNo = 1;
    icmp.fillChecksum();
    assertEquals(Array.from(bytes), Array.from(echoRequest));
  });

  test("messages written through the setters read back and verify, odd payloads included", () => {
    for (const payloadLen of [0, 1, 7, 56, 1471]) {
      const len = icmpHeaderLen + payloadLen;
      const bytes = new Uint8Array(2 + len);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i * 7;
      const icmp = new IcmpPacket(bytes, 2, len);
      icmp.type = IcmpType.destUnreachable;
      icmp.code = 4;
      icmp.ident = 0;
      icmp.seqNo = 1400;
      icmp.fillChecksum();
      assertEquals(icmp.wrap(bytes, 2, len), Drop.none, `payload ${payloadLen}`);
      assertEquals(icmp.verifyChecksum(), true, `payload ${payloadLen}`);
      assertEquals(
        [icmp.type, icmp.code, icmp.ident, icmp.seqNo, icmp.payloadLen],
        [IcmpType.destUnreachable, 4, 0, 1400, payloadLen],
      );
    }
  });

  test("fillChecksum covers the whole message", () => {
    const bytes = echoRequest.slice();
    const icmp = new IcmpPacket(bytes);
    bytes[20] ^= 0xff;
    assertEquals(icmp.verifyChecksum(), false);
    icmp.fillChecksum();
    assertEquals(icmp.verifyChecksum(), true);
  });

  test("a message shorter than 8 bytes is truncated, at every length", () => {
    for (let len = 0; len < icmpHeaderLen; len++) {
      assertEquals(new IcmpPacket().wrap(echoRequest, 0, len), Drop.truncated, `length ${len}`);
    }
  });

  test("a corrupted message wraps, and its checksum does not verify", () => {
    const bytes = echoRequest.slice();
    bytes[39] ^= 0x01;
    const icmp = new IcmpPacket();
    assertEquals(icmp.wrap(bytes, 0, bytes.length), Drop.none);
    assertEquals(icmp.verifyChecksum(), false);
  });

  test("a view whose length runs past its buffer is truncated", () => {
    assertEquals(new IcmpPacket().wrap(echoRequest, 8, echoRequest.length), Drop.truncated);
    assertEquals(new IcmpPacket().wrap(echoRequest, 8, echoRequest.length - 8), Drop.none);
  });
});
