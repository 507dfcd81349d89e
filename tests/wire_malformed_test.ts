/**
 * Drop reasons, and malformed input through every view and TCP's representation:
 * random bytes, truncations and bit flips give a drop reason, never an
 * exception. Random tests take their seed from LUNA_SEED when set, and print
 * it on failure.
 */
import { describe, test } from "./harness.ts";
import { assertEquals } from "@std/assert";
import {
  ArpPacket,
  Drop,
  dropReasonCount,
  dropReasonName,
  EthernetFrame,
  EtherType,
  IcmpPacket,
  IpProtocol,
  Ipv4Packet,
  TcpOptionCursor,
  TcpOptions,
  TcpPacket,
  TcpRepr,
  UdpPacket,
} from "../src/wire/mod.ts";
import { hex, prng, seedFromEnv } from "./helpers.ts";

// A whole SYN frame, 02:00:00:00:00:01 -> 02:00:00:00:00:02, 198.18.0.1 -> .2.
const synFrame = hex(
  "0200 0000 0002 0200 0000 0001 0800" +
    "4500 003c 0001 4000 4006 ae93 c612 0001 c612 0002" +
    "9c40 0050 1234 5678 0000 0000 a002 faf0 a592 0000 0204 05b4 0402 080a 0a0b 0c0d 0000 0000 0103 0307",
);

// The receive path as the stack runs it (src/ip/ipv4_layer.ts): each view
// wraps its header, then the checksum is verified; TCP is parsed into its
// representation as the TCP layer does. Returns the first drop reason.
const eth = new EthernetFrame();
const ip = new Ipv4Packet();
const tcp = new TcpPacket();
const tcpRepr = new TcpRepr();
const udp = new UdpPacket();
const icmp = new IcmpPacket();
const arp = new ArpPacket();

function ipv4In(bytes: Uint8Array, offset: number, length: number, verifyChecksum: boolean): Drop {
  const why = ip.wrap(bytes, offset, length);
  if (why !== Drop.none) return why;
  return verifyChecksum && !ip.verifyChecksum() ? Drop.ipv4BadChecksum : Drop.none;
}

function udpIn(bytes: Uint8Array, offset: number, length: number, src: number, dst: number): Drop {
  const why = udp.wrap(bytes, offset, length);
  if (why !== Drop.none) return why;
  return udp.verifyChecksum(src, dst) ? Drop.none : Drop.udpBadChecksum;
}

function icmpIn(bytes: Uint8Array, offset: number, length: number, verifyChecksum: boolean): Drop {
  const why = icmp.wrap(bytes, offset, length);
  if (why !== Drop.none) return why;
  return verifyChecksum && !icmp.verifyChecksum() ? Drop.icmpBadChecksum : Drop.none;
}

function receive(bytes: Uint8Array, offset: number, length: number): Drop {
  let why = eth.wrap(bytes, offset, length);
  if (why !== Drop.none) return why;
  const type = eth.ethertype;
  if (type === EtherType.arp) return arp.wrap(bytes, eth.payloadOffset, eth.payloadLen);
  if (type !== EtherType.ipv4) return Drop.unknownEthertype;
  why = ipv4In(bytes, eth.payloadOffset, eth.payloadLen, true);
  if (why !== Drop.none) return why;
  const at = ip.payloadOffset;
  const len = ip.payloadLen;
  switch (ip.protocol) {
    case IpProtocol.tcp:
      return tcpRepr.parse(tcp.attach(bytes, at, len), ip.src, ip.dst);
    case IpProtocol.udp:
      return udpIn(bytes, at, len, ip.src, ip.dst);
    case IpProtocol.icmp:
      return icmpIn(bytes, at, len, true);
    default:
      return Drop.unknownIpProtocol;
  }
}

function isReason(why: unknown): boolean {
  return typeof why === "number" && Number.isInteger(why) && why >= 0 && why < dropReasonCount;
}

describe("wire drop reasons", () => {
  test("reasons are the integers 0..count-1, each with its own name", () => {
    const values = Object.values(Drop).sort((a, b) => a - b);
    assertEquals(values, Array.from({ length: dropReasonCount }, (_, i) => i));
    const names = values.map((v) => dropReasonName(v as Drop));
    assertEquals(new Set(names).size, dropReasonCount);
    assertEquals(dropReasonName(Drop.none), "none");
    assertEquals(dropReasonName(Drop.tcpBadOptionLength), "tcpBadOptionLength");
  });

  test("the SYN frame passes the whole receive path", () => {
    assertEquals(receive(synFrame, 0, synFrame.length), Drop.none);
    assertEquals([tcpRepr.options.mss, tcpRepr.options.windowScale], [1460, 7]);
  });

  test("every truncation of the SYN frame gives the reason of the layer it cuts", () => {
    for (let len = 0; len < synFrame.length; len++) {
      // Cut in the Ethernet header, or short of the IPv4 total length.
      assertEquals(receive(synFrame, 0, len), Drop.truncated, `length ${len}`);
    }
  });

  test("an unknown ethertype and an unknown protocol are reported as such", () => {
    const v6 = synFrame.slice();
    v6[12] = 0x86;
    v6[13] = 0xdd;
    assertEquals(receive(v6, 0, v6.length), Drop.unknownEthertype);
    const sctp = synFrame.slice();
    const ipView = new Ipv4Packet(sctp, 14, 60);
    ipView.protocol = 132;
    ipView.fillChecksum();
    assertEquals(receive(sctp, 0, sctp.length), Drop.unknownIpProtocol);
  });

  test("random bit flips in the SYN frame give a reason, never an exception", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    const counts = new Uint32Array(dropReasonCount);
    for (let i = 0; i < 20000; i++) {
      const bytes = synFrame.slice();
      const flips = 1 + ((rand() * 4) | 0);
      for (let k = 0; k < flips; k++) bytes[(rand() * bytes.length) | 0] ^= 1 << ((rand() * 8) | 0);
      const len = rand() < 0.2 ? (rand() * bytes.length) | 0 : bytes.length;
      let why: unknown;
      try {
        why = receive(bytes, 0, len);
      } catch (e) {
        throw new Error(`seed=${seed} (rerun with LUNA_SEED=${seed}) i=${i}: threw ${e}`);
      }
      assertEquals(isReason(why), true, `seed=${seed} (rerun with LUNA_SEED=${seed}) i=${i}: ${String(why)}`);
      counts[why as number]++;
    }
    // Flips in checksummed bytes are caught by checksums.
    assertEquals(counts[Drop.tcpBadChecksum] > 0 && counts[Drop.ipv4BadChecksum] > 0, true, `seed=${seed}`);
  });

  test("random bytes through every view and TCP's representation give a reason, never an exception", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    const options = new TcpOptions();
    const cursor = new TcpOptionCursor();
    for (let i = 0; i < 20000; i++) {
      const bytes = new Uint8Array((rand() * 80) | 0);
      for (let k = 0; k < bytes.length; k++) bytes[k] = (rand() * 256) | 0;
      // Half the time steer the first bytes towards plausible headers.
      if (rand() < 0.5 && bytes.length > 0) bytes[0] = rand() < 0.5 ? 0x45 : 0x50 | (bytes[0] & 0x0f);
      const offset = ((rand() * (bytes.length + 4)) | 0) - 2;
      const length = ((rand() * (bytes.length + 4)) | 0) - 2;
      const why = `seed=${seed} (rerun with LUNA_SEED=${seed}) i=${i}`;
      const results: unknown[] = [];
      try {
        results.push(receive(bytes, offset, length));
        results.push(eth.wrap(bytes, offset, length));
        results.push(arp.wrap(bytes, offset, length));
        results.push(ipv4In(bytes, offset, length, true));
        results.push(ipv4In(bytes, offset, length, false));
        results.push(tcpRepr.parse(tcp.attach(bytes, offset, length), 1, 2));
        results.push(tcpRepr.parse(tcp.attach(bytes, offset, length), 1, 2, false));
        results.push(udpIn(bytes, offset, length, 1, 2));
        results.push(icmpIn(bytes, offset, length, false));
        results.push(icmpIn(bytes, offset, length, true));
        results.push(options.parse(bytes, 0, bytes.length));
        cursor.reset(bytes, 0, bytes.length);
        let steps = 0;
        while (cursor.next()) steps++;
        assertEquals(steps <= bytes.length, true, `${why}: the cursor always advances`);
        results.push(cursor.error);
      } catch (e) {
        throw new Error(`${why}: threw ${e}`);
      }
      for (const r of results) assertEquals(isReason(r), true, `${why}: ${String(r)}`);
    }
  });

  test("a drop reason outside the enum still has a printable name", () => {
    assertEquals(dropReasonName(99 as Drop), "drop 99");
  });
});
