// Martian datagrams (RFC 1122 3.2.1.3, RFC 1812 5.3.7): a SYN to a listening
// port from a source no host may send from, or to a broadcast address, is
// dropped and counted by reason, never answered and never given state.
import { assert, assertEquals } from "@std/assert";
import { DESC_WORDS } from "../src/device/mod.ts";
import { Martian } from "../src/ip/mod.ts";
import { EtherType, IpProtocol, parseIpv4, TcpFlags, TcpPacket, TcpRepr } from "../src/wire/mod.ts";
import { writeEthernet, writeIpv4 } from "./frames.ts";
import { describe, test } from "./harness.ts";
import { addrB, type Host, twoHosts } from "./sim.ts";
import { attachTcp } from "./tcp_sim.ts";

const macA = 0x020000000001;
const macB = 0x020000000002;

/** Hands B's IP layer a SYN to port 80 from `src` to `dst`, as if it had arrived on the link. */
function synFrom(b: Host, src: number, dst: number, now: number): void {
  const z = b.zone;
  const h = z.take();
  const at = z.dataStart(h) + z.headroom;
  writeEthernet(z.bytes, at, macB, macA, EtherType.ipv4);
  const tcp = new TcpRepr();
  tcp.srcPort = 40000;
  tcp.dstPort = 80;
  tcp.seq = 1000;
  tcp.flags = TcpFlags.syn;
  tcp.window = 65535;
  tcp.options.mss = 1460;
  const len = tcp.bufferLen();
  writeIpv4(z.bytes, at + 14, src, dst, IpProtocol.tcp, len);
  tcp.emit(new TcpPacket(z.bytes, at + 34, len), src, dst);
  const d = new Uint32Array(DESC_WORDS);
  d[0] = h;
  d[1] = z.headroom | ((34 + len) << 16);
  b.ip.receive(d, 1, now);
}

describe("martian datagrams", () => {
  test("a SYN from each martian source class, or to a broadcast address, gets no answer and no state", () => {
    const { b, clock } = twoHosts();
    const tb = attachTcp(b);
    tb.listen(80, () => ({}));
    const cases: [string, number, number, Martian][] = [
      ["limited broadcast source", 0xffffffff, addrB, Martian.broadcast],
      ["subnet broadcast source", parseIpv4("198.18.0.255"), addrB, Martian.broadcast],
      ["multicast source", parseIpv4("224.0.0.1"), addrB, Martian.multicast],
      ["loopback source", parseIpv4("127.0.0.1"), addrB, Martian.loopback],
      ["unspecified source", 0, addrB, Martian.unspecified],
      ["class E source", parseIpv4("240.0.0.7"), addrB, Martian.classE],
      ["our own address as source", addrB, addrB, Martian.own],
      [
        "TCP to the subnet broadcast",
        parseIpv4("198.18.0.9"),
        parseIpv4("198.18.0.255"),
        Martian.tcpToBroadcast,
      ],
      ["TCP to the limited broadcast", parseIpv4("198.18.0.9"), 0xffffffff, Martian.tcpToBroadcast],
    ];
    const sentBefore = b.ip.counters.ipOutRequests + b.ip.counters.arpRequestsOut;
    for (const [name, src, dst, reason] of cases) {
      const before = b.ip.counters.martians[reason];
      synFrom(b, src, dst, clock.now);
      clock.run(10);
      assertEquals(b.ip.counters.martians[reason], before + 1, name);
    }
    clock.run(5000);
    assertEquals(b.ip.counters.ipOutRequests + b.ip.counters.arpRequestsOut, sentBefore, "nothing was sent");
    assertEquals(tb.counters.passiveOpens, 0);
    assertEquals(tb.connections, 0, "no half-open state");
    assertEquals(b.ip.counters.accountedRxFrames(), b.ip.counters.linkRxFrames, "every frame accounted for");
    const s = b.ip.counters.snapshot().martians;
    assertEquals(s.broadcast, 2);
    assertEquals(s.tcpToBroadcast, 2);
    // The same SYN from an ordinary neighbour is answered: the harness can see an answer.
    synFrom(b, parseIpv4("198.18.0.9"), addrB, clock.now);
    clock.run(10);
    assertEquals(tb.counters.passiveOpens, 1);
    assert(
      b.ip.counters.ipOutRequests + b.ip.counters.arpRequestsOut > sentBefore,
      "the SYN-ACK (or its ARP) left",
    );
  });

  test("on a /31 the other address is a host, not a broadcast (RFC 3021)", () => {
    const { b } = twoHosts();
    b.ip.iface.set(parseIpv4("198.18.0.2"), 31, 0);
    assertEquals(b.ip.iface.martianSource(parseIpv4("198.18.0.3")), -1);
    b.ip.iface.set(parseIpv4("198.18.0.2"), 24, 0);
    assertEquals(b.ip.iface.martianSource(parseIpv4("198.18.0.255")), Martian.broadcast);
  });
});
