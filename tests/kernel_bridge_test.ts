// Kernel coexistence without a kernel: the classifier on hand-made frames,
// the control plane's reading of `ip -j` output, and the bridge on the
// in-memory link, where a second stack with the same address and MAC plays
// the kernel behind the exception path.
import { assert, assertEquals } from "@std/assert";
import {
  ConfigError,
  createHeapZone,
  createMemoryLink,
  createStack,
  parseStackConfig,
  type Stack,
} from "../src/mod.ts";
import { coexistEnabled } from "../src/api/config.ts";
import { parseInterface } from "../src/ip/iface.ts";
import { NeighborCache } from "../src/ip/neighbor.ts";
import { KernelBridge } from "../src/kernel/bridge.ts";
import { Classifier, type FlowOwner, Path } from "../src/kernel/classifier.ts";
import {
  chooseSettings,
  KernelControl,
  parseAddresses,
  parseGateway,
  parseNeighbors,
} from "../src/kernel/control.ts";
import { parseIpv4, parseMac } from "../src/wire/mod.ts";
import { describe, test } from "./harness.ts";
import { WrappedDevice } from "./wrapped_device.ts";
import { DESC_WORDS } from "../src/device/device.ts";

const me = parseIpv4("198.18.0.2");
const peer = parseIpv4("198.18.0.1");
const myMac = parseMac("02:00:00:00:00:01");
const peerMac = parseMac("02:00:00:00:00:02");

function put48(b: Uint8Array, off: number, v: number): void {
  for (let i = 5; i >= 0; i--) {
    b[off + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

/** An Ethernet frame: IPv4 with `proto` and 20 bytes of transport header, or another ethertype. */
function frame(
  o: {
    ethertype?: number;
    dst?: number;
    ipDst?: number;
    proto?: number;
    dport?: number;
    sport?: number;
    frag?: number;
  },
): Uint8Array {
  const b = new Uint8Array(14 + 20 + 20);
  put48(b, 0, o.dst ?? myMac);
  put48(b, 6, peerMac);
  const type = o.ethertype ?? 0x0800;
  b[12] = type >> 8;
  b[13] = type & 0xff;
  if (type !== 0x0800) return b;
  const ip = 14;
  b[ip] = 0x45;
  b[ip + 3] = 40;
  b[ip + 6] = (o.frag ?? 0x4000) >> 8;
  b[ip + 7] = (o.frag ?? 0) & 0xff;
  b[ip + 8] = 64;
  b[ip + 9] = o.proto ?? 6;
  new DataView(b.buffer).setUint32(ip + 12, peer);
  new DataView(b.buffer).setUint32(ip + 16, o.ipDst ?? me);
  const sport = o.sport ?? 40000;
  const dport = o.dport ?? 8080;
  b[ip + 20] = sport >> 8;
  b[ip + 21] = sport & 0xff;
  b[ip + 22] = dport >> 8;
  b[ip + 23] = dport & 0xff;
  b[ip + 32] = 0x50;
  return b;
}

const owner: FlowOwner = {
  address: me,
  mac: myMac,
  // Listens on 8080; one connection from peer:40001 to our 50000.
  claim: (local, ip, remote) =>
    local === 8080 ? 0 : local === 50000 && ip === peer && remote === 40001 ? 1 : -1,
};

function classify(f: Uint8Array): number {
  return new Classifier(owner).classify(f, 0, f.length);
}

describe("kernel classifier", () => {
  test("TCP to a port the stack listens on, or for a flow it owns, goes to the stack", () => {
    assertEquals(classify(frame({ dport: 8080 })), Path.stack);
    assertEquals(classify(frame({ dport: 50000, sport: 40001 })), Path.stack);
  });

  test("TCP to other ports, other addresses or other MACs goes to the kernel", () => {
    assertEquals(classify(frame({ dport: 22 })), Path.kernel);
    assertEquals(classify(frame({ dport: 50000, sport: 40002 })), Path.kernel);
    assertEquals(classify(frame({ ipDst: parseIpv4("198.18.0.3") })), Path.kernel);
    assertEquals(classify(frame({ dst: parseMac("02:00:00:00:00:99") })), Path.kernel);
  });

  test("ICMP, UDP, IPv6, other protocols and IPv4 fragments go to the kernel; ARP to both", () => {
    assertEquals(classify(frame({ proto: 1 })), Path.kernel);
    assertEquals(classify(frame({ proto: 17, dport: 8080 })), Path.kernel);
    assertEquals(classify(frame({ proto: 47 })), Path.kernel);
    assertEquals(classify(frame({ ethertype: 0x86dd })), Path.kernel);
    assertEquals(classify(frame({ ethertype: 0x8100 })), Path.kernel);
    assertEquals(classify(frame({ frag: 0x2000 })), Path.kernel, "first fragment (MF)");
    assertEquals(classify(frame({ frag: 0x0010 })), Path.kernel, "later fragment");
    assertEquals(classify(frame({ ethertype: 0x0806 })), Path.both);
  });

  test("malformed IPv4 goes to the kernel unchanged; a runt is dropped", () => {
    const bad = frame({});
    bad[14] = 0x65; // version 6 in an IPv4 ethertype
    assertEquals(classify(bad), Path.kernel);
    const short = frame({}).subarray(0, 14 + 20 + 2); // no room for the ports
    assertEquals(classify(short), Path.kernel);
    assertEquals(classify(new Uint8Array(10)), Path.drop);
  });

  test("without an address (the kernel gave none) the stack owns nothing", () => {
    const c = new Classifier({ ...owner, address: 0 });
    const f = frame({ ipDst: 0 });
    assertEquals(c.classify(f, 0, f.length), Path.kernel);
  });
});

describe("coexist config", () => {
  const on = (input: Record<string, unknown>) => coexistEnabled(parseStackConfig(input));
  const field = (input: Record<string, unknown>) => {
    try {
      parseStackConfig(input);
    } catch (e) {
      assert(e instanceof ConfigError);
      return e.field;
    }
    return "accepted";
  };

  test("on by default for af_packet, af_xdp and PCI devices; off for memif, raw EAL devices and device objects", () => {
    assert(on({ device: "af_packet:veth0" }), "af_packet, and the address comes from the kernel");
    assert(on({ device: "af_xdp:veth0", address: "198.18.0.2/24" }));
    assert(on({ device: "0000:03:00.0" }));
    assert(!on({ device: "af_packet:veth0", address: "198.18.0.2/24", coexist: false }));
    assert(!on({ device: "memif:/tmp/m.sock", address: "198.18.0.2/24" }));
    assert(on({ device: "memif:/tmp/m.sock", coexist: { pollMs: 500 } }), "settings turn it on");
    const [dev] = createMemoryLink({ zone: createHeapZone({ count: 256 }) });
    assert(!on({ device: dev, address: "198.18.0.2/24" }));
  });

  test("without coexistence the address is required; a device object cannot coexist; settings are checked", () => {
    const [dev] = createMemoryLink({ zone: createHeapZone({ count: 256 }) });
    assertEquals(field({ device: "memif:/tmp/m.sock" }), "address");
    assertEquals(field({ device: "af_packet:veth0", coexist: false }), "address");
    assertEquals(field({ device: dev, address: "198.18.0.2/24", coexist: true }), "coexist");
    assertEquals(
      field({ device: "af_packet:veth0", coexist: { tap: "far too long a name" } }),
      "coexist.tap",
    );
    assertEquals(field({ device: "af_packet:veth0", coexist: { colour: "red" } }), "coexist.colour");
    assertEquals(field({ device: "af_packet:veth0", coexist: "yes" }), "coexist");
    try {
      parseStackConfig({ device: "af_packet:veth0", coexist: { colour: "red" } });
    } catch (e) {
      assert((e as Error).message.includes("known: tap, pollMs, guard"), (e as Error).message);
    }
    assertEquals(field({ device: "af_packet:veth0", gateway: "198.18.0.1" }), "gateway");
  });
});

describe("kernel control plane", () => {
  const addr = [{
    ifname: "t0",
    addr_info: [
      { family: "inet", local: "198.18.0.2", prefixlen: 24, scope: "global" },
      { family: "inet", local: "198.18.0.9", prefixlen: 24, secondary: true },
      { family: "inet6", local: "fe80::1", prefixlen: 64 },
    ],
  }];
  const routes = [
    { dst: "default", gateway: "198.18.0.254", metric: 100, flags: [] },
    { dst: "default", gateway: "198.18.0.1", flags: [] },
    { dst: "198.18.0.0/24", protocol: "kernel", scope: "link", prefsrc: "198.18.0.2", flags: [] },
  ];
  const neigh = [
    { dst: "198.18.0.1", lladdr: "02:00:00:00:00:02", state: ["REACHABLE"] },
    { dst: "198.18.0.7", state: ["FAILED"] },
    { dst: "198.18.0.8", lladdr: "02:00:00:00:00:08", state: ["INCOMPLETE"] },
    { dst: "198.18.0.5", lladdr: "02:00:00:00:00:05", state: ["STALE"] },
  ];

  test("ip -j output becomes addresses (primary first), the default gateway and resolved neighbours", () => {
    assertEquals(parseAddresses(addr), [{ address: me, prefixLen: 24 }, {
      address: parseIpv4("198.18.0.9"),
      prefixLen: 24,
    }]);
    assertEquals(parseGateway(routes), peer, "the lowest metric wins");
    assertEquals(parseNeighbors(neigh), [{ ip: peer, mac: peerMac }, {
      ip: parseIpv4("198.18.0.5"),
      mac: parseMac("02:00:00:00:00:05"),
    }]);
    assertEquals(parseAddresses([]), []);
    assertEquals(parseGateway([]), 0);
  });

  test("the primary address is used unless the preferred one is there; none means address 0", () => {
    const state = { addresses: parseAddresses(addr), gateway: peer, neighbors: [] };
    assertEquals(chooseSettings(state), { address: me, prefixLen: 24, gateway: peer });
    assertEquals(chooseSettings(state, parseIpv4("198.18.0.9")).address, parseIpv4("198.18.0.9"));
    assertEquals(chooseSettings(state, parseIpv4("10.0.0.1")).address, me);
    assertEquals(chooseSettings({ addresses: [], gateway: 0, neighbors: [] }), {
      address: 0,
      prefixLen: 32,
      gateway: 0,
    });
    const offLink = chooseSettings({
      addresses: [{ address: me, prefixLen: 24 }],
      gateway: parseIpv4("10.0.0.1"),
      neighbors: [],
    });
    assertEquals(offLink.gateway, 0, "a gateway off the subnet is not used");
  });

  test("applying a change moves the interface in place and feeds the neighbour cache", () => {
    const iface = parseInterface("198.18.0.2/24", myMac);
    const requests: number[] = [];
    const cache = new NeighborCache({ sendRequest: (ip) => requests.push(ip), release() {}, drop() {} });
    const control = new KernelControl("t0");
    const state = {
      addresses: [{ address: parseIpv4("198.18.4.5"), prefixLen: 16 }],
      gateway: parseIpv4("198.18.9.9"),
      neighbors: parseNeighbors(neigh),
    };
    assert(control.apply(state, iface, cache, 0));
    assertEquals([iface.address, iface.prefixLen, iface.gateway], [
      parseIpv4("198.18.4.5"),
      16,
      parseIpv4("198.18.9.9"),
    ]);
    assert(iface.onLink(parseIpv4("198.18.200.1")), "the new prefix is in force");
    assertEquals(cache.lookup(peer, 0), peerMac);
    assert(!control.apply(state, iface, cache, 1), "nothing changed the second time");
    assertEquals(requests, []);
  });
});

async function pollAll(stacks: Stack[], done: () => boolean, ms = 5000): Promise<boolean> {
  const end = performance.now() + ms;
  for (let i = 0; !done() && performance.now() < end; i++) {
    for (const s of stacks) s.poll();
    if ((i & 255) === 255) await new Promise((r) => setImmediate(r));
  }
  return done();
}

/** The "kernel" end of the exception path, noting the TCP destination port of every frame it receives. */
class PortWatch extends WrappedDevice {
  readonly tcpPorts = new Set<number>();
  override rx(descs: Uint32Array, max: number, now: number): number {
    const n = this.inner.rx(descs, max, now);
    const z = this.inner.zone;
    for (let i = 0; i < n; i++) {
      const at = z.dataStart(descs[i * DESC_WORDS]) + (descs[i * DESC_WORDS + 1] & 0xffff);
      const b = z.bytes;
      if (b[at + 12] !== 0x08 || b[at + 13] !== 0x00 || b[at + 23] !== 6) continue;
      const tcp = at + 14 + (b[at + 14] & 0x0f) * 4;
      this.tcpPorts.add((b[tcp + 2] << 8) | b[tcp + 3]);
    }
    return n;
  }
}

/** The NIC and the exception path share luna's zone; the peer and the "kernel" have their own. */
async function coexistingHosts(): Promise<
  { luna: Stack; kernel: Stack; peer: Stack; bridge: KernelBridge; kernelPorts: Set<number> }
> {
  const zone = createHeapZone({ name: "luna", count: 4096 });
  const [nic, wire] = createMemoryLink({
    zone,
    zoneB: createHeapZone({ name: "peer", count: 4096 }),
    macA: "02:00:00:00:00:01",
    macB: "02:00:00:00:00:02",
  });
  const [tap, kernelEnd] = createMemoryLink({
    zone,
    zoneB: createHeapZone({ name: "kernel", count: 4096 }),
    names: ["tap", "kernel"],
    macA: "02:00:00:00:00:01",
    macB: "02:00:00:00:00:01",
  });
  const bridge = new KernelBridge(nic, tap, { exceptionPollEvery: 2 });
  const luna = await createStack({ device: bridge, address: "198.18.0.2/24" });
  const kernelSide = new PortWatch(kernelEnd);
  const kernel = await createStack({ device: kernelSide, address: "198.18.0.2/24" });
  const peerStack = await createStack({ device: wire, address: "198.18.0.1/24" });
  return { luna, kernel, peer: peerStack, bridge, kernelPorts: kernelSide.tcpPorts };
}

function echoServer(s: Stack, port: number): void {
  s.listen(port, () => ({
    onData(c) {
      const buf = new Uint8Array(65536);
      for (let n = c.read(buf); n > 0; n = c.read(buf)) c.write(buf.subarray(0, n));
    },
    onEnd(c) {
      c.close();
    },
  }));
}

async function exchange(hosts: Stack[], from: Stack, port: number, bytes: number): Promise<number> {
  const data = new Uint8Array(bytes).map((_, i) => (i * 13) & 0xff);
  let got = 0;
  let closed = false;
  from.connect("198.18.0.2", port, {
    onOpen(c) {
      c.write(data);
      c.close();
    },
    onData(c) {
      const buf = new Uint8Array(65536);
      for (let n = c.read(buf); n > 0; n = c.read(buf)) got += n;
    },
    onClose() {
      closed = true;
    },
  });
  assert(await pollAll(hosts, () => closed), `exchange on port ${port}: closed`);
  return got;
}

describe("kernel bridge on the in-memory link", () => {
  test("one address, two owners: the stack serves its port, the 'kernel' serves the rest and answers ARP and ping", async () => {
    const { luna, kernel, peer: p, bridge, kernelPorts } = await coexistingHosts();
    const hosts = [luna, kernel, p];
    echoServer(luna, 8080);
    echoServer(kernel, 9000);
    assertEquals(await exchange(hosts, p, 8080, 50_000), 50_000);
    assertEquals(await exchange(hosts, p, 9000, 50_000), 50_000);
    let pong = 0;
    p.ip.onEchoReply = () => pong++;
    p.ip.sendEchoRequest(me, 7, 1, 56, performance.now());
    assert(await pollAll(hosts, () => pong === 1), "ping answered");

    const l = luna.stats();
    const k = kernel.stats();
    assertEquals(l.tcp.passiveOpens, 1, "luna accepted the connection to 8080 only");
    assertEquals(k.tcp.passiveOpens, 1, "the kernel accepted the connection to 9000 only");
    assertEquals(l.ip.arp.repliesOut, 0, "the stack never answers ARP while it coexists");
    assert(k.ip.arp.repliesOut >= 1, "the kernel answered ARP");
    assert(l.ip.arp.requestsIn >= 1, "the stack heard the ARP request too");
    assertEquals(l.ip.icmp.inEchos, 0);
    assertEquals(k.ip.icmp.inEchos, 1);
    // Not a count of the kernel's resets: on a busy machine its FIN may be sent again after an
    // RTO, and the peer's second ACK of it reaches a closed port there and is answered with a RST.
    assert(!kernelPorts.has(8080), `the kernel never saw luna's flow: ports ${[...kernelPorts]}`);
    assert(kernelPorts.has(9000), "the kernel saw its own flow");
    const b = bridge.stats();
    assert(b.toStack.frames > 0 && b.toKernel.frames > 0 && b.fromKernel.frames > 0, JSON.stringify(b));
    assertEquals(b.fromKernelSent.frames, b.fromKernel.frames);
    assertEquals(b.drops, { runt: 0, kernelBusy: 0, nicBusy: 0 });
    assertEquals(b.classified.icmp, 1);
    assert(b.classified.tcpOwned > 0 && b.classified.tcpKernel > 0 && b.arpShared > 0);
    assertEquals(l.kernel?.toStack.frames, b.toStack.frames, "the stack's stats carry the bridge's");
    for (const s of hosts) await s.close(100);
    for (const s of hosts) {
      assertEquals(s.device.zone.accounting().inUse, 0, `${s.device.name}: every buffer back`);
    }
  });

  test("a connection the stack opens is claimed by its 4-tuple; the kernel gets no segment of it", async () => {
    const { luna, kernel, peer: p, bridge } = await coexistingHosts();
    const hosts = [luna, kernel, p];
    echoServer(p, 7);
    let got = 0;
    let closed = false;
    luna.connect("198.18.0.1", 7, {
      onOpen(c) {
        c.write(new Uint8Array(20_000).fill(7));
        c.close();
      },
      onData(c) {
        const buf = new Uint8Array(65536);
        for (let n = c.read(buf); n > 0; n = c.read(buf)) got += n;
      },
      onClose() {
        closed = true;
      },
    });
    const lookupsAtOpen = luna.tcp.tableStats().lookups; // connect() looked for a free port
    assert(await pollAll(hosts, () => closed));
    assertEquals(got, 20_000);
    assertEquals(kernel.stats().ip.tcp.inSegs, 0, "no segment of luna's flow reached the kernel");
    assertEquals(bridge.stats().classified.tcpKernel, 0);
    // The classifier's answer travels with the frame: one table lookup per segment, not two.
    const inSegs = luna.tcp.counters.inSegs;
    assert(inSegs >= 10, `segments received: ${inSegs}`);
    assertEquals(
      luna.tcp.tableStats().lookups - lookupsAtOpen,
      inSegs,
      "connection-table lookups, one per segment received",
    );
    for (const s of hosts) await s.close(100);
  });
});
