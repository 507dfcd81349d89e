import { assert, assertEquals } from "@std/assert";
import { DESC_WORDS } from "../src/device/mod.ts";
import { Random } from "../src/util/random.ts";
import {
  arpHardwareEthernet,
  ArpOp,
  ArpPacket,
  EthernetFrame,
  EtherType,
  IcmpPacket,
  IcmpType,
  IpProtocol,
  Ipv4Packet,
  macBroadcast,
  TcpFlags,
  TcpPacket,
  TcpRepr,
} from "../src/wire/mod.ts";
import { writeEthernet, writeIpv4, writeUdp } from "./frames.ts";
import { describe, test } from "./harness.ts";
import { addrA, addrB, type Host, twoHosts } from "./sim.ts";

function balanced(h: Host): void {
  h.zone.flush();
  assertEquals(h.zone.accounting().inUse, 0, `${h.zone.name}: buffers left in use`);
  assertEquals(
    h.ip.counters.accountedRxFrames(),
    h.ip.counters.linkRxFrames,
    "every received frame accounted for",
  );
}

describe("ipv4, arp and icmp on the in-memory link", () => {
  test("a ping resolves the neighbour by ARP, then gets its echo reply (RFC 826, RFC 792)", () => {
    const { a, b, clock } = twoHosts();
    const replies: number[] = [];
    a.ip.onEchoReply = (src, ident, seq) => replies.push(src, ident, seq);
    assert(a.ip.sendEchoRequest(addrB, 7, 1, 56, clock.now));
    assert(clock.runUntil(() => replies.length === 3, 100));
    assertEquals(replies, [addrB, 7, 1]);
    const sa = a.ip.counters.snapshot();
    const sb = b.ip.counters.snapshot();
    assertEquals([sa.arp.requestsOut, sb.arp.requestsIn, sb.arp.repliesOut, sa.arp.repliesIn], [1, 1, 1, 1]);
    assertEquals([sb.icmp.inEchos, sb.icmp.outEchoReps, sa.icmp.inOther], [1, 1, 1]);
    // b learned a from a's request (the request was for b): its reply needed no ARP of its own.
    assertEquals(sb.arp.requestsOut, 0);
    balanced(a);
    balanced(b);
  });

  test("frames sent before resolution wait for the ARP reply, then all go, in order", () => {
    const { a, b, clock } = twoHosts();
    const seqs: number[] = [];
    a.ip.onEchoReply = (_src, _ident, seq) => seqs.push(seq);
    for (let i = 0; i < 5; i++) a.ip.sendEchoRequest(addrB, 1, i, 32, clock.now);
    assertEquals(a.ip.neighbors.size, 1);
    assert(clock.runUntil(() => seqs.length === 5, 100));
    assertEquals(seqs, [0, 1, 2, 3, 4]);
    assertEquals(a.ip.counters.arpRequestsOut, 1, "one request for five waiting frames");
    balanced(a);
    balanced(b);
  });

  test("both ends resolve each other at once: each answers a request while its own frames wait", () => {
    const { a, b, clock } = twoHosts();
    let ra = 0;
    let rb = 0;
    a.ip.onEchoReply = () => ra++;
    b.ip.onEchoReply = () => rb++;
    for (let i = 0; i < 3; i++) {
      a.ip.sendEchoRequest(addrB, 1, i, 16, clock.now);
      b.ip.sendEchoRequest(addrA, 2, i, 16, clock.now);
    }
    assert(clock.runUntil(() => ra === 3 && rb === 3, 100));
    assertEquals(a.ip.counters.linkNotForUs + b.ip.counters.linkNotForUs, 0);
    balanced(a);
    balanced(b);
  });

  test("an address nobody answers for: three requests a second apart, then the waiting frames are dropped", () => {
    const { a, b, clock } = twoHosts();
    const nobody = 0xc6120009;
    for (let i = 0; i < 132; i++) a.ip.sendEchoRequest(nobody, 1, i, 32, clock.now);
    const c = a.ip.counters;
    assertEquals(c.arpQueueDrops, 4, "128 wait, the rest are dropped at once");
    clock.run(1500);
    assertEquals(c.arpRequestsOut, 2);
    clock.run(2000);
    assertEquals(c.arpRequestsOut, 3);
    assertEquals(c.arpUnresolvedDrops, 128);
    assertEquals(a.ip.neighbors.size, 0);
    assertEquals(b.ip.counters.arpRequestsIn, 3, "b heard the requests");
    assertEquals(b.ip.counters.arpRepliesOut, 0, "and answered none: they were not for it");
    balanced(a);
    balanced(b);
  });

  test("a gratuitous ARP updates a neighbour that is known and creates none (RFC 826 merge flag, RFC 5227)", () => {
    const { a, b, clock } = twoHosts();
    a.ip.announce(clock.now);
    clock.run(10);
    assertEquals(b.ip.counters.arpRequestsIn, 1);
    assertEquals(b.ip.neighbors.size, 0);
    // After an exchange b knows a; a new announcement refreshes it, still without a reply.
    a.ip.sendEchoRequest(addrB, 1, 1, 8, clock.now);
    clock.run(10);
    assertEquals(b.ip.neighbors.size, 1);
    a.ip.announce(clock.now);
    clock.run(10);
    assertEquals(b.ip.counters.arpRepliesOut, 1, "only the real request was answered");
    balanced(a);
    balanced(b);
  });

  test("a neighbour entry expires after its reachable time: confirmed by a unicast request, forgotten if silent", () => {
    const { a, b, clock } = twoHosts();
    let replies = 0;
    a.ip.onEchoReply = () => replies++;
    a.ip.sendEchoRequest(addrB, 1, 1, 8, clock.now);
    assert(clock.runUntil(() => replies === 1, 100));
    assertEquals(a.ip.counters.arpRequestsOut, 1);
    clock.run(31_000); // past the 30 s reachable time
    a.ip.sendEchoRequest(addrB, 1, 2, 8, clock.now);
    assert(clock.runUntil(() => replies === 2, 100), "the stale entry is still used");
    assertEquals(a.ip.counters.arpRequestsOut, 2, "and confirmed with one request");
    assertEquals(b.ip.counters.arpRepliesOut, 2);
    // Now b goes silent: its link end drops everything it receives.
    b.device.close();
    clock.run(31_000);
    a.ip.sendEchoRequest(addrB, 1, 3, 8, clock.now);
    clock.run(5_000);
    assertEquals(a.ip.neighbors.size, 0, "forgotten after three unanswered requests");
    assertEquals(a.ip.counters.arpRequestsOut, 5);
    balanced(a);
  });

  test("no route: a destination off the subnet without a gateway is counted, not sent", () => {
    const { a, b, clock } = twoHosts();
    assertEquals(a.ip.sendEchoRequest(0x08080808, 1, 1, 8, clock.now), false);
    assertEquals(a.ip.counters.ipOutNoRoutes, 1);
    balanced(a);
    balanced(b);
  });
});

// ---- frames built by hand, for the receive path

const macA = 0x020000000001;
const macB = 0x020000000002;

/** Writes a frame of the given kind into buffer h of host b's zone; returns its length. */
function build(kind: number, h: Host, buf: number, rnd: Random): number {
  const z = h.zone;
  const b = z.bytes;
  const at = z.dataStart(buf) + z.headroom;
  const ipOff = at + 14;
  switch (kind) {
    case 0: { // ARP request for b
      writeEthernet(b, at, macBroadcast, macA, EtherType.arp);
      const arp = new ArpPacket(b, ipOff, 28);
      arp.hardwareType = arpHardwareEthernet;
      arp.protocolType = EtherType.ipv4;
      arp.hardwareLen = 6;
      arp.protocolLen = 4;
      arp.operation = ArpOp.request;
      arp.senderMac = macA;
      arp.senderIp = addrA;
      arp.targetMac = 0;
      arp.targetIp = addrB;
      return 60;
    }
    case 1: { // ICMP echo request
      writeEthernet(b, at, macB, macA, EtherType.ipv4);
      const ident = rnd.int(65536);
      const seqNo = rnd.int(65536);
      const len = 8 + rnd.int(64);
      writeIpv4(b, ipOff, addrA, addrB, IpProtocol.icmp, len);
      const icmp = new IcmpPacket(b, ipOff + 20, len);
      icmp.type = IcmpType.echoRequest;
      icmp.code = 0;
      icmp.ident = ident;
      icmp.seqNo = seqNo;
      icmp.fillChecksum();
      return 14 + 20 + len;
    }
    case 2: { // TCP with options
      writeEthernet(b, at, macB, macA, EtherType.ipv4);
      const tcp = new TcpRepr();
      tcp.srcPort = 1000 + rnd.int(1000);
      tcp.dstPort = 80;
      tcp.seq = rnd.next();
      tcp.ack = rnd.next();
      tcp.flags = TcpFlags.syn;
      tcp.window = 65535;
      tcp.options.mss = 1460;
      tcp.options.windowScale = 7;
      tcp.options.sackPermitted = true;
      tcp.options.timestamps = true;
      tcp.options.tsVal = rnd.next();
      tcp.payloadLen = rnd.int(100);
      const len = tcp.bufferLen();
      writeIpv4(b, ipOff, addrA, addrB, IpProtocol.tcp, len);
      tcp.emit(new TcpPacket(b, ipOff + 20, len), addrA, addrB);
      return 14 + 20 + len;
    }
    default: { // UDP
      writeEthernet(b, at, macB, macA, EtherType.ipv4);
      const payloadLen = rnd.int(200);
      writeIpv4(b, ipOff, addrA, addrB, IpProtocol.udp, 8 + payloadLen);
      writeUdp(b, ipOff + 20, addrA, addrB, 53, 5353, payloadLen);
      return 14 + 20 + 8 + payloadLen;
    }
  }
}

describe("the receive path", () => {
  test("UDP, fragments, IPv6, other hosts' frames and datagrams are each counted by reason", () => {
    const { a, b, clock } = twoHosts();
    const rnd = new Random(5);
    const d = new Uint32Array(8 * DESC_WORDS);
    const put = (k: number, mutate?: (at: number) => void) => {
      const h = b.zone.take();
      const len = build(k, b, h, rnd);
      mutate?.(b.zone.dataStart(h) + b.zone.headroom);
      d[0] = h;
      d[1] = b.zone.headroom | (len << 16);
      d[2] = 0;
      b.ip.receive(d, 1, clock.now);
    };
    put(3);
    put(1, (at) => {
      const ip = new Ipv4Packet(b.zone.bytes, at + 14, 40);
      ip.moreFragments = true;
      ip.fillChecksum();
    });
    put(1, (at) => new EthernetFrame(b.zone.bytes, at, 60).ethertype = EtherType.ipv6);
    put(1, (at) => new EthernetFrame(b.zone.bytes, at, 60).dst = 0x020000000099);
    put(1, (at) => {
      const ip = new Ipv4Packet(b.zone.bytes, at + 14, 40);
      ip.dst = 0xc6120063;
      ip.fillChecksum();
    });
    put(1, (at) => b.zone.bytes[at + 14 + 10] ^= 0xff); // IP checksum
    const s = b.ip.counters.snapshot();
    assertEquals(s.udp.noService, 1);
    assertEquals(s.ip.fragments, 1);
    assertEquals(s.malformed.unknownEthertype, 1);
    assertEquals(s.link.notForUs, 1);
    assertEquals(s.ip.notForUs, 1);
    assertEquals(s.malformed.ipv4BadChecksum, 1);
    clock.run(5);
    balanced(a);
    balanced(b);
  });

  test("fuzz: 1,000,000 random and mutated frames; nothing escapes, every frame is accounted for", () => {
    const seed = Number(process.env.LUNA_SEED ?? 20261126);
    const { a, b, clock } = twoHosts({ buffers: 8192 });
    const rnd = new Random(seed);
    const burst = 64;
    const d = new Uint32Array(burst * DESC_WORDS);
    const total = 1_000_000;
    const bytes = b.zone.bytes;
    try {
      for (let done = 0; done < total; done += burst) {
        for (let k = 0; k < burst; k++) {
          const h = b.zone.take();
          const at = b.zone.dataStart(h) + b.zone.headroom;
          let len: number;
          const style = rnd.int(8);
          if (style === 0) {
            // Random bytes of a random length.
            len = rnd.int(1515);
            for (let j = 0; j < len; j++) bytes[at + j] = rnd.next() & 0xff;
          } else {
            len = build(rnd.int(4), b, h, rnd);
            if (style === 1) len = rnd.int(len + 1); // truncated
            else if (style === 2) bytes[at + rnd.int(len)] ^= 1 << rnd.int(8); // one bit
            else if (style === 3) {
              for (let j = 0; j < 4; j++) {
                bytes[at + 14 + rnd.int(Math.max(1, len - 14))] = rnd.next() & 0xff;
              }
            } else if (style === 4) bytes[at + 14 + 2] = rnd.next() & 0xff; // IP total length
            else if (style === 5) bytes[at + 14] = rnd.next() & 0xff; // version and IHL
            else if (style === 6 && len > 34 + 20) bytes[at + 34 + 20 + rnd.int(20)] = rnd.next() & 0xff; // TCP options
          }
          d[k * DESC_WORDS] = h;
          d[k * DESC_WORDS + 1] = b.zone.headroom | (len << 16);
          d[k * DESC_WORDS + 2] = 0;
        }
        b.ip.receive(d, burst, clock.now);
        b.ip.flush(clock.now);
        a.step(clock.now);
        clock.now += 0.001;
      }
    } catch (e) {
      throw new Error(`fuzz seed=${seed} (rerun with LUNA_SEED=${seed}): ${e}`);
    }
    clock.run(5000);
    const c = b.ip.counters;
    assertEquals(c.linkRxFrames, total);
    assertEquals(c.accountedRxFrames(), total, `seed=${seed}`);
    assert(c.malformedTotal() > 100_000, "many frames were malformed");
    assert(c.icmpInEchos > 1000 && c.tcpInSegs > 1000 && c.arpRequestsIn > 1000, "valid ones got through");
    balanced(a);
    balanced(b);
  }, { timeoutMs: 300_000 });
});
