// Kernel coexistence in a namespace lab: luna-ts drives the veth of
// namespace A through af_packet and shares it, and its address, with A's
// kernel through a net_tap exception interface. From namespace B, all at
// once: ping (the kernel answers), a UDP echo and a TCP echo served by
// kernel sockets in A, and luna's HTTP answer on port 8080 under curl load.
// B's capture must hold no RST for luna's flows and one ARP reply per
// request; an address change with `ip addr` reaches luna without a restart;
// a clean stop, and a start after a crash, leave A as it was.
// Needs root, iproute2, iptables, ethtool, iputils-ping, curl, tcpdump, python3.
import { assert, assertEquals } from "@std/assert";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { removeEalFiles, tempDir, uniquePrefix } from "./child.ts";
import { describe, runtime, test } from "./harness.ts";
import { KernelLab, LunaInNamespace, type Ran } from "./kernel_lab.ts";

const py = "/usr/bin/python3";

// Kernel servers in A: TCP echo (9000), TCP sink answering the byte count (9001), UDP echo (7000).
const kernelServers = `
import socket, threading
def tcp(port, echo):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("0.0.0.0", port)); l.listen(16)
    def serve(c):
        n = 0
        while True:
            d = c.recv(65536)
            if not d: break
            n += len(d)
            if echo: c.sendall(d)
        if not echo: c.sendall(str(n).encode())
        c.close()
    while True:
        c, _ = l.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 7000))
    while True:
        d, a = s.recvfrom(65535); s.sendto(d, a)
for f, a in ((tcp, (9000, True)), (tcp, (9001, False)), (udp, ())):
    threading.Thread(target=f, args=a, daemon=True).start()
print("SERVING", flush=True)
threading.Event().wait()
`;

// Clients in B. echo: send N bytes to 9000, read them back, compare. sink: send N bytes to 9001, time it.
const tcpClient = `
import socket, sys, time, threading, hashlib
ip, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = bytes((i * 7) & 255 for i in range(65536))
s = socket.create_connection((ip, 9000 if mode == "echo" else 9001), timeout=20)
t0 = time.time(); back = bytearray()
def send():
    left = n
    while left > 0:
        k = min(left, len(data)); s.sendall(data[:k]); left -= k
    s.shutdown(socket.SHUT_WR)
th = threading.Thread(target=send); th.start()
while True:
    d = s.recv(1 << 20)
    if not d: break
    back += d
th.join(); dt = time.time() - t0
if mode == "echo":
    full = (data * (n // len(data) + 1))[:n]
    print("OK" if bytes(back) == full else f"BAD {len(back)}")
else:
    print(f"SINK {int(back)} {dt:.4f}")
`;

const udpClient = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
ok = 0
for i in range(20):
    m = f"datagram {i}".encode() * 10
    for _ in range(3):
        s.sendto(m, (sys.argv[1], 7000))
        try:
            d, _ = s.recvfrom(65535)
            if d == m: ok += 1; break
        except socket.timeout:
            pass
print(f"UDP {ok}")
`;

function must(r: Ran, what: string): string {
  assertEquals(r.code, 0, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Average ping round trip in ms, asserting every echo was answered. */
async function ping(lab: KernelLab, ip: string, count = 40): Promise<number> {
  const out = must(
    await lab.run(lab.b, "ping", ["-c", String(count), "-i", "0.02", "-W", "2", "-q", ip], 30_000),
    `ping ${ip}`,
  );
  assert(out.includes(`${count} received`), out);
  const m = /= [\d.]+\/([\d.]+)\//.exec(out);
  assert(m !== null, out);
  return Number(m[1]);
}

/** Throughput of one kernel TCP flow from B to A's sink, Mbit/s. */
async function sink(lab: KernelLab, ip: string, bytes: number): Promise<number> {
  const out = must(
    await lab.run(lab.b, py, ["-c", tcpClient, ip, "sink", String(bytes)], 60_000),
    "tcp sink",
  );
  const m = /^SINK (\d+) ([\d.]+)/m.exec(out);
  assert(m !== null, out);
  assertEquals(Number(m[1]), bytes, "the kernel's sink got every byte");
  return (bytes * 8) / Number(m[2]) / 1e6;
}

async function waitLine(p: { stdout: string }, tag: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!p.stdout.includes(tag)) {
    if (Date.now() > end) throw new Error(`no '${tag}' within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The RSTs in luna's flows (port 8080) of tcpdump's `lines` that TCP does not explain. One is explained:
 * luna closes first, so it ends in TIME-WAIT; when the client's FIN waited longer than the client's RTO
 * for its ACK (luna's process not scheduled, on a busy machine), the client resent it, and luna ACKs each
 * copy as RFC 9293 §3.10.7.4 says. The first ACK closes the client's socket; the second finds no socket,
 * and the client's kernel answers it with a RST whose sequence number is that ACK's (FIN + 1).
 */
function unexplainedResets(lines: string[]): string[] {
  const flow = /IP (\S+)\.(\d+) > (\S+)\.8080: Flags \[([^\]]*)\], seq (\d+)/;
  const fins = new Map<string, number[]>();
  for (const line of lines) {
    const m = flow.exec(line);
    if (m === null || !m[4].includes("F")) continue;
    const key = `${m[1]}:${m[2]}>${m[3]}`;
    fins.set(key, [...(fins.get(key) ?? []), Number(m[5].split(":")[0])]);
  }
  return lines.filter((line) => {
    if (!/Flags \[R/.test(line) || !(line.includes(".8080 >") || line.includes(".8080:"))) return false;
    const m = flow.exec(line);
    if (m === null || m[4] !== "R") return true;
    const sent = fins.get(`${m[1]}:${m[2]}>${m[3]}`) ?? [];
    const finSeq = sent[0];
    return !(sent.length >= 2 && sent.every((seq) => seq === finSeq) && Number(m[5]) === ((finSeq + 1) >>> 0));
  });
}

/** Spawns something long-running in a namespace and collects its output. */
function background(lab: KernelLab, ns: string, cmd: string, args: string[]) {
  const p = lab.spawn(ns, cmd, args);
  const out = { stdout: "", stderr: "", process: p };
  p.stdout!.on("data", (d: string) => (out.stdout += d));
  p.stderr!.on("data", (d: string) => (out.stderr += d));
  return out;
}

describe("kernel coexistence (namespace lab)", () => {
  test(
    "ping, UDP and TCP to kernel sockets and luna's HTTP share one address; ip addr reaches luna; stop restores",
    async () => {
      const lab = new KernelLab("c", 7);
      const prefix = uniquePrefix("kcoexist");
      const dir = tempDir("kcoexist");
      const pcap = join(dir, "b.pcap");
      let luna: LunaInNamespace | undefined;
      try {
        const before = lab.snapshot();
        const servers = background(lab, lab.a, py, ["-u", "-c", kernelServers]);
        await waitLine(servers, "SERVING", 10_000);
        // The kernel alone, for comparison.
        const pingDirect = await ping(lab, lab.lunaIp);
        const tputDirect = await sink(lab, lab.lunaIp, 32 << 20);

        // ARP and luna's HTTP flows (200 short connections): the kernel's own flows stay out of it.
        const cap = background(lab, lab.b, "tcpdump", [
          "-i",
          lab.peerIf,
          "-n",
          "-U",
          "--immediate-mode",
          "-w",
          pcap,
          "arp or tcp port 8080",
        ]);
        const end = Date.now() + 10_000;
        while (!cap.stderr.includes("listening on") && Date.now() < end) {
          await new Promise((r) => setTimeout(r, 20));
        }

        luna = new LunaInNamespace(lab, { prefix, device: `af_packet:${lab.nic}`, coexist: { pollMs: 200 } });
        const ready = await luna.line("READY");
        assertEquals(
          ready.iface.split(" ")[0],
          `${lab.lunaIp}/24`,
          "the address came from the kernel's configuration",
        );
        const tap = ready.kernel.tap as string;
        const during = lab.snapshot();
        const addrs = during.addrs as string[];
        assertEquals(
          addrs.slice(0, 2),
          ["lo: 127.0.0.1/8 ::1/128", `${lab.nic}: `],
          "the veth gave its address away",
        );
        assert(addrs[2].startsWith(`${tap}: ${lab.lunaIp}/24`), `the exception interface holds it: ${addrs}`);
        assert(
          String(during.routes).includes(`198.19.0.0/16 via ${lab.peerIp} dev ${tap}`),
          String(during.routes),
        );
        assert(String(during.raw).includes(`-A PREROUTING -i ${lab.nic}`), String(during.raw));
        assertEquals([during.reserved, during.arpIgnore, during.ipv6], ["49152-65535", "8", "1"]);

        // B forgets luna's MAC: the first ping asks, and exactly one answer may come back.
        lab.exec(lab.b, "ip", ["neigh", "flush", "dev", lab.peerIf]);
        const url = `http://${lab.lunaIp}:8080/`;
        const [, udp, echo, curls] = await Promise.all([
          ping(lab, lab.lunaIp),
          lab.run(lab.b, py, ["-c", udpClient, lab.lunaIp], 60_000),
          lab.run(lab.b, py, ["-c", tcpClient, lab.lunaIp, "echo", String(4 << 20)], 60_000),
          lab.run(lab.b, "sh", ["-c", `seq 1 200 | xargs -P 8 -I{} curl -s -m 5 ${url}`], 60_000),
        ]);
        assertEquals(must(udp, "udp").trim(), "UDP 20", "every datagram echoed by the kernel's socket");
        assertEquals(must(echo, "tcp echo").trim(), "OK", "the kernel's TCP echo returned every byte");
        const bodies = must(curls, "curl").trim().split("\n");
        assertEquals(bodies.length, 200, "every request answered by luna");
        assert(
          bodies.every((b) => b === `luna ${lab.lunaIp}`),
          bodies.find((b) => b !== `luna ${lab.lunaIp}`),
        );
        // Measured alone, as the kernel's were.
        const pingVia = await ping(lab, lab.lunaIp);
        const tputVia = await sink(lab, lab.lunaIp, 32 << 20);

        // A change of address in the kernel reaches luna without a restart.
        const newIp = `${lab.net}.5`;
        lab.exec(lab.a, "ip", ["addr", "del", `${lab.lunaIp}/24`, "dev", tap]);
        lab.exec(lab.a, "ip", ["addr", "add", `${newIp}/24`, "dev", tap]);
        // Until luna's next read of the kernel (pollMs), connections to the new address are the
        // kernel's, and it refuses them: wait for luna to take it before connecting.
        await luna.waitFor(new RegExp(`^IFACE ${newIp.replaceAll(".", "\\.")}/24`), 10_000);
        const body = must(await lab.run(lab.b, "curl", ["-s", "-m", "3", `http://${newIp}:8080/`]), "curl")
          .trim();
        assertEquals(body, `luna ${newIp}`, "luna serves on the kernel's new address");
        await ping(lab, newIp, 5);

        // The capture ends while luna still runs: what it holds is luna's lifetime.
        cap.process.kill("SIGINT");
        await new Promise((r) => setTimeout(r, 300));
        const text = lab.exec(lab.b, "tcpdump", ["-n", "-S", "-r", pcap], 10_000);
        const lines = text.split("\n");
        assertEquals(unexplainedResets(lines), [], "no RST in luna's flows");
        for (const ip of [lab.lunaIp, newIp]) {
          const requests = lines.filter((l) => l.includes(`Request who-has ${ip} `)).length;
          const replies = lines.filter((l) => l.includes(`Reply ${ip} is-at`)).length;
          assert(requests >= 1, `B asked for ${ip}:\n${text}`);
          // No duplicate (the kernel through luna and the kernel on the veth itself); at most the last one in flight.
          assert(
            replies <= requests && replies >= requests - 1,
            `one ARP reply per request for ${ip}:\n${text}`,
          );
        }

        assertEquals(await luna.stop("clean"), 0, luna.explain());
        const result = await luna.line("RESULT");
        assertEquals(result.error, undefined);
        const k = result.kernel;
        assert(result.served >= 201, `served ${result.served}`);
        for (const path of ["toStack", "toKernel", "fromKernel"]) {
          assert(k[path].frames > 0 && k[path].bytes > 0, `${path}: ${JSON.stringify(k)}`);
        }
        assertEquals(k.fromKernelSent.frames, k.fromKernel.frames, "every frame of the kernel left");
        assertEquals(k.drops, { runt: 0, kernelBusy: 0, nicBusy: 0 });
        assert(
          k.ringBuffers > 0 && k.ringBuffers <= 256,
          `the exception port's ring holds ${k.ringBuffers} buffers`,
        );
        assertEquals(result.zone.inUse, 0, "every other buffer is back in the zone");
        for (const kind of ["tcpOwned", "tcpKernel", "arp", "icmp", "udp"]) {
          assert(k.classified[kind] > 0, `${kind}: ${JSON.stringify(k.classified)}`);
        }
        assert(k.control.changes >= 1, JSON.stringify(k.control));
        assertEquals(result.ip.arp.repliesOut, 0, "luna never answered ARP: the kernel did");
        assertEquals(result.ip.icmp.inEchos, 0, "luna never saw a ping: the kernel answered them");

        // The namespace as it was: no exception interface, no rule, the address back on the veth.
        assertEquals(lab.snapshot(), before);
        console.log(
          `[${runtime}] ping ${lab.lunaIp}: ${pingDirect.toFixed(3)} ms direct, ${
            pingVia.toFixed(3)
          } ms through luna-ts; ` +
            `kernel TCP: ${tputDirect.toFixed(0)} Mbit/s direct, ${
              tputVia.toFixed(0)
            } Mbit/s through luna-ts`,
        );
      } finally {
        if (luna !== undefined && luna.process.exitCode === null) await luna.stop("SIGKILL").catch(() => {});
        lab.close();
        removeEalFiles(prefix);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 240_000 },
  );

  test(
    "after a crash the exception interface is gone and the next start undoes what the dead process left",
    async () => {
      const lab = new KernelLab("r", 8);
      const prefixes = [uniquePrefix("kcrash"), uniquePrefix("krecover")];
      let luna: LunaInNamespace | undefined;
      try {
        const before = lab.snapshot();
        const netns = lab.exec(lab.a, "readlink", ["/proc/self/ns/net"]).trim().replace(/\D/g, "");
        luna = new LunaInNamespace(lab, { prefix: prefixes[0], device: `af_packet:${lab.nic}` });
        const tap = (await luna.line("READY")).kernel.tap as string;
        const record = `/run/luna-ts/coexist-${netns}-${tap}.json`;
        assertEquals(JSON.parse(readFileSync(record, "utf8")).tap, tap, "the record of changes is on disk");
        await luna.stop("SIGKILL");
        removeEalFiles(prefixes[0]);

        // What a crash leaves: the kernel removed the tap (and the address with it); the rule and sysctls stay.
        const crashed = lab.snapshot();
        assertEquals(crashed.links, ["lo", lab.nic]);
        assertEquals(crashed.addrs, ["lo: 127.0.0.1/8 ::1/128", `${lab.nic}: `]);
        assert(String(crashed.raw).includes(`-i ${lab.nic}`));

        luna = new LunaInNamespace(lab, { prefix: prefixes[1], device: `af_packet:${lab.nic}` });
        const ready = await luna.line("READY");
        assert(ready.kernel.recovered.length > 1, JSON.stringify(ready.kernel.recovered));
        assertEquals(
          ready.iface.split(" ")[0],
          `${lab.lunaIp}/24`,
          "the address the crash took away is found again",
        );
        const body = must(
          await lab.run(lab.b, "curl", ["-s", "-m", "3", `http://${lab.lunaIp}:8080/`]),
          "curl",
        );
        assertEquals(body.trim(), `luna ${lab.lunaIp}`);
        assertEquals(await luna.stop("clean"), 0, luna.explain());
        assertEquals((await luna.line("RESULT")).error, undefined);
        assertEquals(lab.snapshot(), before);
        assert(!lab.exec(lab.a, "ls", ["/run/luna-ts"]).includes(`${netns}-`), "no record left");
      } finally {
        if (luna !== undefined && luna.process.exitCode === null) await luna.stop("SIGKILL").catch(() => {});
        lab.close();
        for (const p of prefixes) removeEalFiles(p);
      }
    },
    { timeoutMs: 180_000 },
  );
});
