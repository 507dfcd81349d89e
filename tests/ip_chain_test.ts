// Malformed chained frames (records continued with RxFlag.more) at the IP
// layer: each is counted by reason and dropped, and every link's buffer goes
// back to the zone; nothing throws.
import { assertEquals } from "@std/assert";
import { DESC_WORDS, RxFlag } from "../src/device/mod.ts";
import { Drop, EtherType, IpProtocol } from "../src/wire/mod.ts";
import { writeEthernet, writeIpv4 } from "./frames.ts";
import { describe, test } from "./harness.ts";
import { addrA, addrB, twoHosts } from "./sim.ts";

const macA = 0x02_00_00_00_00_01;
const macB = 0x02_00_00_00_00_02;
const good = RxFlag.ipCksumGood | RxFlag.l4CksumGood;

interface Chain {
  /** Payload bytes in each link after the first. */
  links: number[];
  /** Bytes of payload in the first buffer, after a 20-byte TCP header. */
  head?: number;
  protocol?: number;
  /** IPv4 total length; default what the links add up to. */
  totalLen?: number;
  flags?: number;
  /** Records handed to the IP layer (default all): fewer cuts the chain short. */
  records?: number;
  /** Data offset of the last link (default the headroom). */
  lastOffset?: number;
}

/** Builds a chained TCP/IPv4 frame from B to A in A's zone and hands it to A's IP layer. */
function receive(c: Chain): { host: ReturnType<typeof twoHosts>["a"]; inUseBefore: number } {
  const { a } = twoHosts();
  const zone = a.zone;
  const inUseBefore = zone.accounting().inUse;
  const head = c.head ?? 100;
  const payload = head + c.links.reduce((x, y) => x + y, 0);
  const descs = new Uint32Array((c.links.length + 1) * DESC_WORDS);
  const h = zone.take();
  const at = zone.dataStart(h) + zone.headroom;
  writeEthernet(zone.bytes, at, macA, macB, EtherType.ipv4);
  const protocol = c.protocol ?? IpProtocol.tcp;
  writeIpv4(zone.bytes, at + 14, addrB, addrA, protocol, 20 + payload);
  if (c.totalLen !== undefined) zone.view.setUint16(at + 14 + 2, c.totalLen);
  zone.bytes[at + 34 + 12] = 0x50; // TCP data offset 5
  zone.bytes[at + 34 + 13] = 0x10; // ACK
  descs[0] = h;
  descs[1] = zone.headroom | ((14 + 20 + 20 + head) << 16);
  descs[2] = (c.flags ?? good) | RxFlag.more;
  c.links.forEach((len, i) => {
    const l = zone.take();
    const last = i === c.links.length - 1;
    const d = (i + 1) * DESC_WORDS;
    descs[d] = l;
    descs[d + 1] = ((last ? c.lastOffset : undefined) ?? zone.headroom) | (len << 16);
    descs[d + 2] = last ? 0 : RxFlag.more;
  });
  a.ip.receive(descs, c.records ?? c.links.length + 1, 0);
  // Records the IP layer was not handed are still the test's.
  for (let k = c.records ?? c.links.length + 1; k < c.links.length + 1; k++) {
    zone.release(descs[k * DESC_WORDS]);
  }
  return { host: a, inUseBefore };
}

function dropped(c: Chain, why: Drop): void {
  const { host, inUseBefore } = receive(c);
  assertEquals(host.ip.counters.malformed[why], 1, `counted as ${why}`);
  assertEquals(host.ip.counters.tcpInSegs, 0);
  host.zone.flush();
  assertEquals(host.zone.accounting().inUse, inUseBefore, "every link's buffer is back");
}

describe("chained frames at the IP layer", () => {
  test("a chain the burst cuts short is dropped whole", () => {
    dropped({ links: [1000, 1000, 500], records: 3 }, Drop.chainMalformed);
  });

  test("links that do not add up to the IPv4 total length are dropped", () => {
    dropped({ links: [1000, 1000], totalLen: 20 + 20 + 100 + 1500 }, Drop.chainMalformed);
    dropped({ links: [1000, 1000], totalLen: 20 + 20 + 100 + 2500 }, Drop.chainMalformed);
  });

  test("a chain that is not TCP is dropped", () => {
    dropped({ links: [1000], protocol: IpProtocol.icmp }, Drop.chainMalformed);
  });

  test("a chain whose TCP header runs past its first buffer is dropped", () => {
    dropped({ links: [1000], head: -10 }, Drop.chainMalformed);
  });

  test("a link that runs past its buffer is dropped with the rest", () => {
    dropped({ links: [1000, 1000], lastOffset: 2000 }, Drop.chainMalformed);
  });

  test("a chain without the device's checksum verdicts is dropped (it is not summed in place)", () => {
    dropped({ links: [1000, 1000], flags: 0 }, Drop.chainUnverified);
  });

  test("a chain whose TCP checksum the device found bad is dropped as such", () => {
    dropped({ links: [1000], flags: RxFlag.ipCksumGood | RxFlag.l4CksumBad }, Drop.tcpBadChecksum);
  });

  test("a well-formed chain reaches TCP as one segment, and its buffers come back", () => {
    const { host, inUseBefore } = receive({ links: [1000, 1000, 500] });
    assertEquals(host.ip.counters.tcpInSegs, 1);
    assertEquals(host.ip.counters.malformedTotal(), 0);
    host.zone.flush();
    assertEquals(host.zone.accounting().inUse, inUseBefore);
  });
});
