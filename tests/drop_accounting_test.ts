// Drops that show: a burst arrives at a stack whose loop has stopped polling,
// so its receive ring overflows; every frame sent is then counted somewhere.
// On af_packet and af_xdp (a veth from the kernel's side): every frame the
// veth delivered is in stack.stats(), received by the port or dropped for a
// full ring (port.rxRingDropped: the kernel's counts, which DPDK 22.11's
// af_packet PMD does not read and its af_xdp PMD reads only in part). On
// memif (shared memory between two stacks) a full ring refuses the sender:
// what the sender's transmit path pushed is sent (the receiver counts each)
// or dropped and counted by the sender.
import { assert, assertEquals } from "@std/assert";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Child, explain, removeEalFiles, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";
import { interopLab, singleQueueVeth } from "./lab_peers.ts";

// Sends COUNT UDP datagrams from the kernel's side to luna's MAC and address, one
// sendto each (the veth hands each on at once: none waits in a backlog), and
// prints how many the socket took.
const sender = `
import socket, struct, sys
iface, dst_mac, src_ip, dst_ip, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
src_mac = open(f"/sys/class/net/{iface}/address").read().strip()
mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
def csum(b):
    t = sum(struct.unpack(f"!{len(b) // 2}H", b))
    t = (t >> 16) + (t & 0xffff)
    return ~(t + (t >> 16)) & 0xffff
payload = b"x" * 18
udp = struct.pack("!HHHH", 40000, 9, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
frame = mac(dst_mac) + mac(src_mac) + b"\\x08\\x00" + ip + udp
sent = 0
for i in range(count):
    if s.send(frame) == len(frame):
        sent += 1
print(sent)
`;

function counter(
  lab: ReturnType<typeof interopLab>,
  side: "luna" | "kernel",
  iface: string,
  name: string,
): number {
  return Number(lab.exec(side, "cat", [`/sys/class/net/${iface}/statistics/${name}`]).trim());
}

/** The af_packet, packet and af_xdp case: frames from the kernel's side into a stalled stack on `kind`. */
async function burstFromKernel(kind: "af_packet" | "packet" | "af_xdp"): Promise<void> {
  const lab = interopLab();
  const dir = tempDir("drops");
  const prefix = uniquePrefix("drops");
  let child: Child | undefined;
  try {
    if (kind === "af_xdp") singleQueueVeth(lab);
    // No IPv6 chatter (router solicitations, MLD) on the link while frames are counted.
    for (const side of ["luna", "kernel"] as const) {
      lab.exec(side, "sysctl", ["-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    }
    const go = join(dir, "go");
    child = new Child("drop_burst.ts", [`${kind}:${lab.luna.iface}`, lab.luna.cidr, prefix, go], {
      wrap: lab.wrap("luna"),
      timeoutMs: 90_000,
    });
    await child.waitFor(/^READY$/, 30_000);
    const rxBefore = counter(lab, "luna", lab.luna.iface, "rx_packets");
    const dropBefore = counter(lab, "kernel", lab.kernel.iface, "tx_dropped");
    const mac = lab.exec("luna", "cat", [`/sys/class/net/${lab.luna.iface}/address`]).trim();
    // packet: queues in its socket's receive buffer (8 MB): more frames fill it.
    const count = kind === "packet" ? 30_000 : 12_000;
    writeFileSync(join(dir, "send.py"), sender);
    const out = lab.exec("kernel", "/usr/bin/python3", [
      join(dir, "send.py"),
      lab.kernel.iface,
      mac,
      lab.kernel.ip,
      lab.luna.ip,
      String(count),
    ], { timeoutMs: 60_000 });
    assertEquals(Number(out.trim()), count, "the sender's socket took every frame");
    const delivered = counter(lab, "luna", lab.luna.iface, "rx_packets") - rxBefore;
    const vethDropped = counter(lab, "kernel", lab.kernel.iface, "tx_dropped") - dropBefore;
    const lunaRxDropped = counter(lab, "luna", lab.luna.iface, "rx_dropped");
    console.log(
      `${kind}: veth delivered ${delivered}, dropped ${vethDropped} (luna side rx_dropped ${lunaRxDropped})`,
    );
    assertEquals(delivered + vethDropped, count, "the veth delivered or counted each frame");
    writeFileSync(go, "");
    const r = await child.done();
    assertEquals(r.code, 0, explain(r));
    const port = r.result!.port as Record<string, number>;
    const ip = r.result!.ip as { link: Record<string, number>; udp: Record<string, number> };
    console.log(`${kind}: ${JSON.stringify(port)}`);
    assert(port.rxRingDropped + port.imissed > 0, `the ring overflowed: ${JSON.stringify(port)}`);
    assertEquals(
      port.ipackets + port.imissed + port.rxRingDropped,
      delivered,
      `every frame delivered is counted: ${JSON.stringify(port)}`,
    );
    // And what the port received, the stack counted by outcome (UDP: no service here).
    const shimDropped = port.rxForeignDropped + port.rxMultisegDropped + port.rxOversizeDropped;
    assertEquals(ip.link.rxFrames, port.ipackets - shimDropped);
    assertEquals(ip.udp.noService, ip.link.rxFrames);
  } finally {
    if (child !== undefined && child.process.exitCode === null) child.process.kill("SIGKILL");
    lab.close();
    removeEalFiles(prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("drops that show", () => {
  test("a burst into a stalled af_packet loop: frames sent = frames received + ring drops", async () => {
    await burstFromKernel("af_packet");
  }, { timeoutMs: 120_000 });

  test("a burst into a stalled packet: loop: frames sent = frames received + socket drops", async () => {
    await burstFromKernel("packet");
  }, { timeoutMs: 120_000 });

  test("a burst into a stalled af_xdp loop: frames sent = frames received + ring drops", async () => {
    await burstFromKernel("af_xdp");
  }, { timeoutMs: 120_000 });

  test(
    "memif: a burst into a stalled peer: frames pushed = sent + counted drops, and the peer counts each sent",
    async () => {
      const dir = tempDir("drops-memif");
      const rxPrefix = uniquePrefix("drops-rx");
      const txPrefix = uniquePrefix("drops-tx");
      const socket = join(dir, "m.sock");
      let rx: Child | undefined;
      let tx: Child | undefined;
      try {
        const go = join(dir, "go");
        const done = join(dir, "done");
        rx = new Child("drop_burst.ts", [`memif:${socket},server`, "198.18.9.1/24", rxPrefix, go], {
          timeoutMs: 90_000,
        });
        // The server's socket first: a memif client that finds none does not come back for it.
        const socketBy = Date.now() + 30_000;
        while (!existsSync(socket) && Date.now() < socketBy) await new Promise((r) => setTimeout(r, 10));
        assert(existsSync(socket), `the receiver made no memif socket at ${socket} in 30 s`);
        const count = 12_000;
        tx = new Child("drop_send.ts", [
          `memif:${socket},client`,
          "198.18.9.2/24",
          "198.18.9.1",
          String(count),
          txPrefix,
          done,
        ], { timeoutMs: 90_000 });
        await rx.waitFor(/^READY$/, 30_000);
        const sentLine = await tx.waitFor(/^SENT /, 30_000);
        const s = JSON.parse(sentLine.slice("SENT ".length));
        const link = s.ip.link as Record<string, number>;
        const txPort = s.port as Record<string, number>;
        console.log(
          `memif sender: ${
            JSON.stringify({ pushed: s.pushed, already: s.already, waiting: s.waiting, link, port: txPort })
          }`,
        );
        assert(link.txDropped > 0, `the ring filled and the sender dropped: ${JSON.stringify(link)}`);
        assertEquals(
          link.txFrames + link.txDropped + s.waiting - s.already,
          count,
          "every frame pushed is sent, dropped or waiting",
        );
        assertEquals(txPort.opackets, link.txFrames, "the port sent what the stack counts as sent");
        writeFileSync(go, "");
        const r = await rx.done();
        assertEquals(r.code, 0, explain(r));
        writeFileSync(done, "");
        const t = await tx.done();
        assertEquals(t.code, 0, explain(t));
        const port = r.result!.port as Record<string, number>;
        const ip = r.result!.ip as {
          link: Record<string, number>;
          udp: Record<string, number>;
          arp: Record<string, number>;
        };
        console.log(`memif receiver: ${JSON.stringify(port)}`);
        assertEquals(
          port.ipackets + port.imissed + port.ierrors + port.rxNombuf,
          link.txFrames,
          `every frame sent is counted by the receiver: ${JSON.stringify(port)}`,
        );
        const shimDropped = port.rxForeignDropped + port.rxMultisegDropped + port.rxOversizeDropped;
        assertEquals(ip.link.rxFrames, port.ipackets - shimDropped);
        // The sender's gratuitous ARP request may be among them; the rest are the datagrams.
        const arp = ip.arp.requestsIn + ip.arp.repliesIn + ip.arp.other;
        assertEquals(ip.udp.noService + arp, ip.link.rxFrames);
        assert(arp <= 1, `no ARP but the sender's announcement: ${JSON.stringify(ip.arp)}`);
      } finally {
        for (const c of [tx, rx]) {
          if (c !== undefined && c.process.exitCode === null) c.process.kill("SIGKILL");
        }
        removeEalFiles(rxPrefix);
        removeEalFiles(txPrefix);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 120_000 },
  );
});
