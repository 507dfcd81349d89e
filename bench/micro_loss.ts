/**
 * Micro-benchmark: what loss detection costs on the clean path. Two TCP
 * layers on the in-memory link (two zones, no faults, 10 µs each way, on a
 * virtual clock that jumps to the next frame or timer when both ends are idle) run a closed-loop echo
 * of 64-byte requests over 1, 16 and 256 connections, with
 * `tcp.lossDetection` "rack" (RACK-TLP, the default) and "rfc6675" (the
 * RFC 6675 scoreboard alone). The figure is the stack's own CPU time per
 * request (both ends, the link's copies included): CPU time of the
 * process (user and system) over the measured stretch / requests, in ns, and the ratio rack / rfc6675 (1.00:
 * RACK-TLP costs nothing on the clean path).
 *
 * Rounds alternate between the two, so that a busy neighbour on the machine
 * slows both alike; the figure is the median round. Runs under both runtimes:
 *
 * ```sh
 * node_modules/.bin/bun bench/micro_loss.ts
 * node_modules/.bin/deno run -A bench/micro_loss.ts
 * ```
 *
 * Options: `--rounds N` (default 9), `--requests N` per round and
 * connection count (default 200,000), `--conns LIST` (default 1,16,256),
 * `--only rack` or `--only rfc6675` (one of them alone, to profile).
 *
 * @module
 */
import { createMemoryLink, DESC_WORDS, type Device } from "../src/device/mod.ts";
import { IpInterface, IpLayer } from "../src/ip/mod.ts";
import { createHeapZone } from "../src/mem/mod.ts";
import type { LossDetection } from "../src/tcp/config.ts";
import type { Tcb } from "../src/tcp/tcb.ts";
import { TcpLayer } from "../src/tcp/tcp_layer.ts";
import { readMac } from "../src/wire/mod.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const rounds = Number(arg("--rounds", "9"));
const only = arg("--only", "rack,rfc6675").split(",") as LossDetection[];
const requests = Number(arg("--requests", "200000"));
const connsList = arg("--conns", "1,16,256").split(",").map(Number);
if (!(rounds >= 1) || !(requests >= 1) || connsList.some((n) => !(n >= 1 && n <= 4096))) {
  console.error("usage: micro_loss.ts [--rounds N] [--requests N] [--conns 1,16,256]");
  process.exit(2);
}

const addrA = 0xc6120001; // 198.18.0.1
const addrB = 0xc6120002; // 198.18.0.2
const stepMs = 0.001;

class Host {
  readonly device: Device;
  readonly ip: IpLayer;
  readonly tcp: TcpLayer;
  readonly #rx = new Uint32Array(64 * DESC_WORDS);
  constructor(device: Device, address: number, lossDetection: LossDetection) {
    this.device = device;
    this.ip = new IpLayer(
      device,
      new IpInterface({ address, prefixLen: 24, gateway: 0, mac: readMac(device.mac, 0) }),
    );
    this.tcp = new TcpLayer(this.ip, { lossDetection, noDelay: true, backlog: 4096 }, {
      key: new Uint8Array(16).fill(7),
    });
  }
  step(now: number): number {
    const n = this.device.rx(this.#rx, 64, now);
    this.ip.receive(this.#rx, n, now);
    this.tcp.poll(now);
    this.ip.poll(now);
    this.ip.flush(now);
    return n;
  }
  pollAt(now: number): number {
    return Math.min(this.device.pollAt(now), this.ip.pollAt(), this.tcp.pollAt());
  }
}

/** One round: `conns` connections echo until `total` requests are answered. Returns ns per request. */
function round(lossDetection: LossDetection, conns: number, total: number): number {
  const za = createHeapZone({ name: "a", count: 8192 });
  const zb = createHeapZone({ name: "b", count: 8192 });
  const [la, lb] = createMemoryLink({ zone: za, zoneB: zb, delayMs: 0.01, queueLimit: 4096 });
  const a = new Host(la, addrA, lossDetection);
  const b = new Host(lb, addrB, lossDetection);
  let now = 0;
  const buf = new Uint8Array(4096);
  const req = new Uint8Array(64).fill(0x61);
  b.tcp.listen(7, () => ({
    onData: (c: Tcb) => {
      for (let n; (n = b.tcp.read(c, buf, now)) > 0;) b.tcp.write(c, buf, now, 0, n);
    },
  }));
  let answered = 0;
  let open = 0;
  const pending = new Int32Array(conns);
  const clients: Tcb[] = [];
  for (let i = 0; i < conns; i++) {
    const k = i;
    clients.push(a.tcp.connect(addrB, 7, {
      onOpen: (c: Tcb) => {
        open++;
        pending[k] = 64;
        a.tcp.write(c, req, now);
      },
      onData: (c: Tcb) => {
        for (let n; (n = a.tcp.read(c, buf, now)) > 0;) {
          pending[k] -= n;
          if (pending[k] === 0) {
            answered++;
            pending[k] = 64;
            a.tcp.write(c, req, now);
          }
        }
      },
    }, now));
  }
  // Idle: the clock jumps to whatever either end waits for next.
  const step = () => {
    if (a.step(now) + b.step(now) > 0) return;
    const next = Math.min(a.pollAt(now), b.pollAt(now));
    now = next > now ? next : now + stepMs;
  };
  for (let i = 0; i < 1_000_000 && open < conns; i++) step();
  if (open < conns) throw new Error(`${lossDetection}: ${open} of ${conns} connections opened`);
  // Warm-up, then the measured stretch.
  const warm = answered + Math.min(total >>> 2, 50_000);
  for (let i = 0; i < 100_000_000 && answered < warm; i++) step();
  // CPU time of this process (user and system), not wall time: a neighbour's load slows both alike.
  const start = process.cpuUsage();
  const from = answered;
  for (let i = 0; i < 100_000_000 && answered - from < total; i++) step();
  const used = process.cpuUsage(start);
  const ns = ((used.user + used.system) * 1e3) / (answered - from);
  for (const c of clients) a.tcp.abort(c, now);
  return ns;
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return s[s.length >> 1];
}

console.log(
  `loss detection on the clean path: echo of 64 B on the in-memory link, ${rounds} rounds, ${requests} requests`,
);
console.log("conns   rack ns/req   rfc6675 ns/req   rack/rfc6675");
for (const conns of connsList) {
  const rack: number[] = [];
  const rfc: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first.
    const order: LossDetection[] = r % 2 === 0 ? ["rack", "rfc6675"] : ["rfc6675", "rack"];
    for (const m of order) {
      if (!only.includes(m)) continue;
      (m === "rack" ? rack : rfc).push(round(m, conns, requests));
    }
  }
  const mr = rack.length > 0 ? median(rack) : NaN, mf = rfc.length > 0 ? median(rfc) : NaN;
  console.log(
    `${String(conns).padStart(5)}   ${mr.toFixed(0).padStart(11)}   ${mf.toFixed(0).padStart(14)}   ${
      (mr / mf).toFixed(3).padStart(12)
    }`,
  );
}
