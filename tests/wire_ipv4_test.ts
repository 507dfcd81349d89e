/**
 * IPv4 header view. The vectors were checked by
 * Wireshark's tshark (header checksum status "Good"). Random tests take their
 * seed from LUNA_SEED when set, and print it on failure.
 */
import { describe, test } from "./harness.ts";
import { assertEquals, assertThrows } from "@std/assert";
import { Drop, formatIpv4, IpProtocol, ipv4HeaderLen, Ipv4Packet, parseIpv4 } from "../src/wire/mod.ts";
import { hex, prng, seedFromEnv } from "./helpers.ts";

// 198.18.0.1 -> 198.18.0.2, TCP, id 1, DF, TTL 64, 40 bytes of SYN after it.
const synHeader = hex("4500 003c 0001 4000 4006 ae93 c612 0001 c612 0002");

function withPayload(header: Uint8Array, payloadLen: number): Uint8Array {
  const out = new Uint8Array(header.length + payloadLen);
  out.set(header);
  return out;
}

// What the receive path (src/ip/ipv4_layer.ts) asks of a header: that it
// wraps, then that its checksum verifies unless the NIC checked it already.
function ipv4In(bytes: Uint8Array, verifyChecksum = true): Drop {
  const ip = new Ipv4Packet();
  const why = ip.wrap(bytes, 0, bytes.length);
  if (why !== Drop.none) return why;
  if (verifyChecksum && !ip.verifyChecksum()) return Drop.ipv4BadChecksum;
  return Drop.none;
}

describe("wire ipv4", () => {
  test("a header's fields read in place", () => {
    const ip = new Ipv4Packet();
    const bytes = withPayload(synHeader, 40);
    assertEquals(ip.wrap(bytes, 0, bytes.length), Drop.none);
    assertEquals(ip.version, 4);
    assertEquals(ip.headerLen, 20);
    assertEquals(ip.dscp, 0);
    assertEquals(ip.ecn, 0);
    assertEquals(ip.totalLen, 60);
    assertEquals(ip.ident, 1);
    assertEquals(ip.dontFragment, true);
    assertEquals(ip.moreFragments, false);
    assertEquals(ip.fragmentOffsetBytes, 0);
    assertEquals(ip.isFragment, false);
    assertEquals(ip.ttl, 64);
    assertEquals(ip.protocol, IpProtocol.tcp);
    assertEquals(ip.checksum, 0xae93);
    assertEquals(ip.src, 0xc612_0001);
    assertEquals(ip.dst, 0xc612_0002);
    assertEquals(ip.payloadOffset, 20);
    assertEquals(ip.payloadLen, 40);
    assertEquals(ip.verifyChecksum(), true);
  });

  test("setters and fillChecksum write the captured header byte for byte", () => {
    const bytes = new Uint8Array(ipv4HeaderLen);
    const ip = new Ipv4Packet(bytes);
    ip.version = 4;
    ip.headerLen = ipv4HeaderLen;
    ip.totalLen = 60;
    ip.ident = 1;
    ip.dontFragment = true;
    ip.ttl = 64;
    ip.protocol = IpProtocol.tcp;
    ip.src = parseIpv4("198.18.0.1");
    ip.dst = parseIpv4("198.18.0.2");
    ip.fillChecksum();
    assertEquals(Array.from(bytes), Array.from(synHeader));
  });

  test("fillChecksum writes the checksum the header verifies with", () => {
    const bytes = withPayload(synHeader, 40);
    const ip = new Ipv4Packet(bytes);
    ip.checksum = 0x1234;
    assertEquals(ip.verifyChecksum(), false);
    ip.fillChecksum();
    assertEquals(ip.checksum, 0xae93);
    assertEquals(ip.verifyChecksum(), true);
  });

  test("random headers written through the setters read back the same and verify", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    const ip = new Ipv4Packet();
    for (let i = 0; i < 500; i++) {
      const why = `seed=${seed} (rerun with LUNA_SEED=${seed}) i=${i}`;
      const want = {
        src: (rand() * 0x1_0000_0000) >>> 0,
        dst: (rand() * 0x1_0000_0000) >>> 0,
        protocol: (rand() * 256) | 0,
        payloadLen: (rand() * 200) | 0,
        ttl: (rand() * 256) | 0,
        dscp: (rand() * 64) | 0,
        ecn: (rand() * 4) | 0,
        ident: (rand() * 0x10000) | 0,
        dontFragment: rand() < 0.5,
        moreFragments: rand() < 0.5,
        fragmentOffsetBytes: 8 * ((rand() * 0x2000) | 0),
      };
      const at = (rand() * 16) | 0;
      const bytes = new Uint8Array(at + ipv4HeaderLen + want.payloadLen);
      ip.attach(bytes, at, ipv4HeaderLen + want.payloadLen);
      ip.version = 4;
      ip.headerLen = ipv4HeaderLen;
      ip.totalLen = ipv4HeaderLen + want.payloadLen;
      ip.src = want.src;
      ip.dst = want.dst;
      ip.protocol = want.protocol;
      ip.ttl = want.ttl;
      ip.dscp = want.dscp;
      ip.ecn = want.ecn;
      ip.ident = want.ident;
      ip.dontFragment = want.dontFragment;
      ip.moreFragments = want.moreFragments;
      ip.fragmentOffsetBytes = want.fragmentOffsetBytes;
      ip.fillChecksum();
      assertEquals(ip.wrap(bytes, at, ipv4HeaderLen + want.payloadLen), Drop.none, why);
      assertEquals(ip.verifyChecksum(), true, why);
      const got = {
        src: ip.src,
        dst: ip.dst,
        protocol: ip.protocol,
        payloadLen: ip.payloadLen,
        ttl: ip.ttl,
        dscp: ip.dscp,
        ecn: ip.ecn,
        ident: ip.ident,
        dontFragment: ip.dontFragment,
        moreFragments: ip.moreFragments,
        fragmentOffsetBytes: ip.fragmentOffsetBytes,
      };
      assertEquals(got, want, why);
    }
  });

  test("a checksum left zero for the NIC is written as zero", () => {
    const bytes = withPayload(synHeader, 40);
    const ip = new Ipv4Packet(bytes);
    ip.checksum = 0;
    assertEquals([bytes[10], bytes[11]], [0, 0]);
    assertEquals(Array.from(bytes.subarray(12, 20)), Array.from(synHeader.subarray(12, 20)));
    assertEquals(ip.verifyChecksum(), false);
  });

  test("link padding after the total length is not payload", () => {
    const bytes = withPayload(synHeader, 40 + 6);
    const ip = new Ipv4Packet();
    assertEquals(ip.wrap(bytes, 0, bytes.length), Drop.none);
    assertEquals(ip.payloadLen, 40);
    assertEquals(ip.verifyChecksum(), true);
  });

  test("options lengthen the header and are skipped", () => {
    // IHL 6: one 4-byte option (NOP NOP NOP EOL), total length 28.
    const bytes = hex("4600 001c 0000 0000 4011 0000 0a00 0001 0a00 0002 0101 0100 dead beef 0000 0000");
    new Ipv4Packet(bytes).fillChecksum();
    const ip = new Ipv4Packet();
    assertEquals(ip.wrap(bytes, 0, bytes.length), Drop.none);
    assertEquals(ip.verifyChecksum(), true);
    assertEquals(ip.headerLen, 24);
    assertEquals(ip.payloadLen, 4);
    assertEquals(ip.payloadOffset, 24);
  });

  test("setters change only their own bits", () => {
    const bytes = withPayload(synHeader, 40);
    const ip = new Ipv4Packet(bytes);
    ip.dscp = 46;
    ip.ecn = 1;
    assertEquals([ip.dscp, ip.ecn, ip.version, ip.headerLen], [46, 1, 4, 20]);
    ip.headerLen = 24;
    ip.version = 4;
    assertEquals([ip.version, ip.headerLen], [4, 24]);
    ip.moreFragments = true;
    ip.fragmentOffsetBytes = 1480;
    assertEquals([ip.dontFragment, ip.moreFragments, ip.fragmentOffsetBytes, ip.isFragment], [
      true,
      true,
      1480,
      true,
    ]);
    ip.dontFragment = false;
    ip.moreFragments = false;
    assertEquals([ip.dontFragment, ip.moreFragments, ip.fragmentOffsetBytes], [false, false, 1480]);
    ip.fragmentOffsetBytes = 0;
    assertEquals(ip.isFragment, false);
  });

  test("a header shorter than 20 bytes is truncated, at every length", () => {
    const ip = new Ipv4Packet();
    for (let len = 0; len < ipv4HeaderLen; len++) {
      assertEquals(ip.wrap(synHeader, 0, len), Drop.truncated, `length ${len}`);
    }
  });

  test("malformed headers give their drop reason", () => {
    const cases: Array<[string, (b: Uint8Array) => void, number]> = [
      ["version 6", (b) => (b[0] = 0x65), Drop.ipv4BadVersion],
      ["version 0", (b) => (b[0] = 0x05), Drop.ipv4BadVersion],
      ["IHL 4", (b) => (b[0] = 0x44), Drop.ipv4BadIhl],
      ["IHL 0", (b) => (b[0] = 0x40), Drop.ipv4BadIhl],
      ["IHL 15 with a total length of 60", (b) => (b[0] = 0x4f), Drop.ipv4BadChecksum],
      ["IHL 6 with a total length of 20", (b) => (b[0] = 0x46, b[2] = 0, b[3] = 20), Drop.ipv4BadTotalLength],
      ["total length 19", (b) => (b[2] = 0, b[3] = 19), Drop.ipv4BadTotalLength],
      ["total length past the buffer", (b) => (b[2] = 0, b[3] = 61), Drop.truncated],
      ["bad checksum", (b) => (b[11] ^= 1), Drop.ipv4BadChecksum],
      ["flipped source bit", (b) => (b[15] ^= 0x80), Drop.ipv4BadChecksum],
    ];
    for (const [name, spoil, reason] of cases) {
      const bytes = withPayload(synHeader, 40);
      spoil(bytes);
      assertEquals(ipv4In(bytes), reason, name);
    }
  });

  test("a header longer than the buffer is truncated", () => {
    const bytes = withPayload(synHeader, 20);
    bytes[0] = 0x4f; // 60 bytes of header in 40
    assertEquals(new Ipv4Packet().wrap(bytes, 0, bytes.length), Drop.truncated);
  });

  test("a bad checksum passes when the NIC already checked it", () => {
    const bytes = withPayload(synHeader, 40);
    bytes[11] ^= 1;
    assertEquals(ipv4In(bytes, false), Drop.none);
  });

  test("dotted quads format and parse", () => {
    assertEquals(formatIpv4(0xc0a8_0001), "192.168.0.1");
    assertEquals(formatIpv4(0), "0.0.0.0");
    assertEquals(formatIpv4(0xffff_ffff), "255.255.255.255");
    assertEquals(parseIpv4("198.18.0.1"), 0xc612_0001);
    assertEquals(parseIpv4("255.255.255.255"), 0xffff_ffff);
    assertEquals(parseIpv4(formatIpv4(0x0a00_00ff)), 0x0a00_00ff);
  });

  test("what is not a dotted quad is refused with a message", () => {
    for (const text of ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.04", "a.b.c.d", " 1.2.3.4", "1..2.3"]) {
      assertThrows(() => parseIpv4(text), Error, "is not an IPv4 address");
    }
  });
});
