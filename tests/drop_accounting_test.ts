// Drops that show: a burst arrives at an af_packet stack whose loop has
// stopped polling, so the socket's ring (4096 frames) overflows; every frame
// the kernel's veth delivered is then counted somewhere in stack.stats():
// received by the port, or dropped by the kernel for a full ring
// (port.rxRingDropped, which DPDK 22.11's af_packet PMD does not report).
import { assert, assertEquals } from "@std/assert";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Child, explain, removeEalFiles, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";
import { interopLab } from "./lab_peers.ts";

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

describe("drops that show", () => {
  test("a burst into a stalled af_packet loop: frames sent = frames received + ring drops", async () => {
    const lab = interopLab();
    const dir = tempDir("drops");
    const prefix = uniquePrefix("drops");
    let child: Child | undefined;
    try {
      // No IPv6 chatter (router solicitations, MLD) on the link while frames are counted.
      for (const side of ["luna", "kernel"] as const) {
        lab.exec(side, "sysctl", ["-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
      }
      const go = join(dir, "go");
      child = new Child("drop_burst.ts", [lab.luna.iface, lab.luna.cidr, prefix, go], {
        wrap: lab.wrap("luna"),
        timeoutMs: 90_000,
      });
      await child.waitFor(/^READY$/, 30_000);
      const rxBefore = counter(lab, "luna", lab.luna.iface, "rx_packets");
      const dropBefore = counter(lab, "kernel", lab.kernel.iface, "tx_dropped");
      const mac = lab.exec("luna", "cat", [`/sys/class/net/${lab.luna.iface}/address`]).trim();
      const count = 12_000;
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
      assertEquals(delivered + vethDropped, count, "the veth delivered or counted each frame");
      writeFileSync(go, "");
      const r = await child.done();
      assertEquals(r.code, 0, explain(r));
      const port = r.result!.port as Record<string, number>;
      const ip = r.result!.ip as { link: Record<string, number>; udp: Record<string, number> };
      assert(port.rxRingDropped > 0, `the ring overflowed: ${JSON.stringify(port)}`);
      console.log(
        `delivered ${delivered}: ${port.ipackets} received, ${port.rxRingDropped} dropped on a full ring`,
      );
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
  }, { timeoutMs: 120_000 });
});
