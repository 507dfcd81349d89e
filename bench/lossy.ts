/**
 * Workload "lossy" (issue 14): goodput of one transfer through random loss,
 * luna-ts against the kernel's TCP over the same path, in the same run.
 *
 *   <id>x (client)  <->  <id>r (router)  <->  <id>y (server)
 *   198.18.40.2           .40.1 | .41.1         198.18.41.2
 *
 * - luna-ts: `luna serve http` (download) and `luna serve discard` (upload),
 *   src/cli, on the server's veth (no kernel address there), default gateway
 *   the router, twice: with CUBIC, the default (luna-packet-MODE,
 *   luna-afpacket-MODE), and with BBR (`--congestion bbr`: luna-packet-bbr-MODE,
 *   luna-afpacket-bbr-MODE), each its own figure against the same kernel
 *   baseline (LUNA_LOSSY_CC: "cubic,bbr", the default, or one of them); on
 *   one of two devices, each in a network of its own:
 *   - `af_packet:` (luna-afpacket-MODE): DPDK's net_af_packet, one frame per
 *     descriptor, every veth's offloads off (see below);
 *   - `packet:` (luna-packet-MODE): luna's own AF_PACKET socket with
 *     PACKET_VNET_HDR (c-shims/packet_port.c): 64 KB segments cross into the
 *     kernel and back as GSO packets, every veth's offloads on, as the
 *     kernel sets them.
 * - kernel: bench/kernel_http.mjs under node (node:http serving the same
 *   `GET /bytes/N` body, and a node:net discard sink), with 198.18.41.2 put
 *   on the same veth for the time it runs: node-kernel-routed in the network
 *   of af_packet (offloads off: the kernel sends without TSO/GSO), and
 *   node-kernel-routed-offloads in that of packet: (offloads on: the kernel
 *   at its own settings, TSO and GRO, the fairest comparison for a device
 *   that uses them too). Each luna-ts configuration is compared with the
 *   kernel in its own network.
 * The two cannot hold the address at once: in each round one runs its
 * transfers, then the other, the order alternating across rounds.
 * LUNA_LOSSY_DEVICES ("af_packet,packet", the default, or one of them)
 * picks the networks.
 *
 * Download: `curl -s -o /dev/null -m T -w '%{size_download} %{time_total}'
 * http://198.18.41.2/bytes/N` in the client's namespace. Upload (luna-ts
 * receiving; http.ts has no route that only counts and discards, POST /sha256
 * hashes): `head -c N /dev/zero | nc -N 198.18.41.2 9` against `luna serve
 * discard` and against the node:net sink, timed in the shell from the start to
 * nc's exit (the receiver closed after the last byte). Before each direction's
 * measured transfers, untimed ones of a tenth of the size, through each loss
 * rate in turn, for LUNA_LOSSY_WARM_S seconds (default 2): a fresh luna-ts's
 * JIT compiles its paths (recovery's too) meanwhile. luna-ts's polling thread
 * is pinned to the server's CPU, its other threads (JIT, GC) to the others;
 * the kernel server runs on the server's CPU whole. Each transfer records the
 * server's main thread's time on its CPU and waiting for it (serverSched):
 * luna-ts sends only while its loop runs, the kernel's TCP from softirq.
 *
 * Loss: iptables `-m statistic --mode random --probability P -j DROP` in the
 * router's FORWARD chain, both directions (data and ACKs), at each of the loss
 * rates, removed after each transfer. Not INPUT/OUTPUT in the client's
 * namespace: a segment that the kernel's own OUTPUT chain (or qdisc) drops is
 * not lost to the sending TCP (the transmit fails and the segment is sent
 * again later), so the client's uploads would see no data loss; and
 * net_af_packet on the server's side takes frames before netfilter and sends
 * past the qdisc (DPDK's qdisc_bypass), so nothing in the server's namespace
 * touches luna-ts's packets. In the router both stacks lose the same way.
 * Rate: with and without a `tc tbf` of 200 Mbit/s on the router's veths
 * (both directions: the bottleneck link), for the same reason placed there
 * rather than on the server's own veth. In the network of af_packet every
 * veth has its checksum and segmentation offloads off (net_af_packet needs
 * them off on its veth and its peer; the rest so that the router forwards
 * and drops wire-sized segments, not GRO aggregates): the kernel server
 * sends without TSO/GSO. In the network of packet: they are all on: the
 * router forwards (and its loss rule drops) GSO packets as the senders
 * made them, up to 64 KB each, for luna-ts and the kernel alike: a loss
 * rate there is a rate of packets, of one to 45 segments each.
 *
 * Where the kernel's TCP sends (the kernel server's downloads, and every
 * upload: the client's nc), each transfer records the sender's congestion
 * control (the host's default: the bench does not set it; BBR here, which
 * a namespace cannot change to CUBIC, so luna-ts's CUBIC is compared with
 * the kernel's BBR) and its loss-recovery counters in the transfer (nstat
 * in its namespace: timeouts, those in recovery, loss probes,
 * retransmissions), beside luna-ts's own counters (notes.serve).
 *
 * A transfer that does not finish within its timeout is killed and recorded as
 * failed, with the bytes it had moved (curl's size_download; the sender's
 * bytes_acked from `ss -ti` for uploads), never hanging the bench.
 *
 * Figures (one sample per stack and round; metrics per direction, rate limit
 * and loss): `down_mbit_per_s_loss1` (1% loss), `down_tbf_mbit_per_s_loss1`
 * (with the 200 Mbit/s limit), `up_...` likewise; the ratio luna-ts / kernel
 * per metric from the medians of the rounds (bench/_report.ts).
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { offloadsOffArgs } from "../src/lab/netns.ts";
import { sh } from "./_net.ts";
import { onCleanup, Proc, removeEalFiles, sleep } from "./_proc.ts";
import {
  ask,
  type Body,
  bunBin,
  clientCpu,
  type Ctx,
  measure,
  type Mode,
  nodeBin,
  type Sample,
  serverCpu,
  type Workload,
} from "./tcp.ts";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const lunaCli = here("../src/cli/main.ts");
const kernelHttp = here("./kernel_http.mjs");

/** The loss rates of the workload (fractions). */
export const lossRates = [0, 0.001, 0.01, 0.02, 0.03];
/**
 * A subset of the workload, to look at one case (not for the recorded
 * figures): LUNA_LOSSY_RATES (loss rates in percent, e.g. "1,3"),
 * LUNA_LOSSY_TBF ("off", "on" or "off,on"), LUNA_LOSSY_DIRS ("down", "up").
 */
export const lossyPick = pickFromEnv();

function pickFromEnv(): { rates: number[]; tbf: boolean[]; dirs: ("down" | "up")[] } {
  const env = process.env;
  const rates = env.LUNA_LOSSY_RATES?.split(",").map((p) => Number(p) / 100) ?? lossRates;
  if (rates.some((r) => !(r >= 0 && r < 1))) {
    throw new Error(`LUNA_LOSSY_RATES: percents 0..99, got ${env.LUNA_LOSSY_RATES}`);
  }
  const tbfs = env.LUNA_LOSSY_TBF?.split(",") ?? ["off", "on"];
  if (tbfs.some((t) => t !== "off" && t !== "on")) {
    throw new Error(`LUNA_LOSSY_TBF: off,on, got ${env.LUNA_LOSSY_TBF}`);
  }
  const dirs = env.LUNA_LOSSY_DIRS?.split(",") ?? ["down", "up"];
  if (dirs.some((d) => d !== "down" && d !== "up")) {
    throw new Error(`LUNA_LOSSY_DIRS: down,up, got ${env.LUNA_LOSSY_DIRS}`);
  }
  return { rates, tbf: tbfs.map((t) => t === "on"), dirs: dirs as ("down" | "up")[] };
}

/** The devices of the workload, each in a network of its own: LUNA_LOSSY_DEVICES, default both. */
export const lossyDevices: ("af_packet" | "packet")[] = (() => {
  const v = process.env.LUNA_LOSSY_DEVICES?.split(",") ?? ["af_packet", "packet"];
  if (v.length === 0 || v.some((d) => d !== "af_packet" && d !== "packet")) {
    throw new Error(`LUNA_LOSSY_DEVICES: af_packet,packet, got ${process.env.LUNA_LOSSY_DEVICES}`);
  }
  return v as ("af_packet" | "packet")[];
})();

/** The controllers luna-ts sends with in the lossy workload: LUNA_LOSSY_CC, default both. */
export const lossyControllers: ("cubic" | "bbr")[] = (() => {
  const v = process.env.LUNA_LOSSY_CC?.split(",") ?? ["cubic", "bbr"];
  if (v.length === 0 || v.some((c) => c !== "cubic" && c !== "bbr")) {
    throw new Error(`LUNA_LOSSY_CC: cubic,bbr, got ${process.env.LUNA_LOSSY_CC}`);
  }
  return v as ("cubic" | "bbr")[];
})();

/** The sides of a lossy network's round: luna-ts with CUBIC, with BBR, and the kernel. */
export type LossySide = "luna" | "luna-bbr" | "kernel";

/**
 * The configurations of a device's network: luna-ts's (with CUBIC, and with
 * BBR as `lunaBbr` when `bbr`) and its kernel baseline's.
 */
export function lossyConfigs(
  device: "af_packet" | "packet",
  mode: Mode,
  bbr = false,
): { luna: string; kernel: string; lunaBbr?: string } {
  const d = device === "packet" ? "packet" : "afpacket";
  return {
    luna: `luna-${d}-${mode}`,
    kernel: device === "packet" ? "node-kernel-routed-offloads" : "node-kernel-routed",
    ...(bbr ? { lunaBbr: `luna-${d}-bbr-${mode}` } : {}),
  };
}

/** The configuration name of `side` in `configs`. */
export function sideConfig(
  configs: { luna: string; kernel: string; lunaBbr?: string },
  side: LossySide,
): string {
  return side === "kernel" ? configs.kernel : side === "luna-bbr" ? configs.lunaBbr! : configs.luna;
}

/** The rate limit of the "tbf" figures, Mbit/s. */
export const tbfMbit = 200;
/** The server's address in the lab (luna-ts's, or the kernel's while its server runs). */
export const serverAddr = "198.18.41.2";
const httpPort = 80;
const sinkPort = 9;

/** `0.001` as `0.1` (percent, as the metric names write it). */
export const pctName = (p: number) => String(Number((p * 100).toFixed(3)));
/** The metric of one direction, rate limit and loss rate. */
export const lossyMetric = (dir: "down" | "up", tbf: boolean, loss: number) =>
  `${dir}${tbf ? "_tbf" : ""}_mbit_per_s_loss${pctName(loss)}`;

/** Seconds of untimed warm-up transfers before each direction's measured ones (LUNA_LOSSY_WARM_S, 0..60). */
export const lossyWarmS: number = (() => {
  const v = Number(process.env.LUNA_LOSSY_WARM_S ?? 2);
  return Number.isFinite(v) && v >= 0 && v <= 60 ? v : 2;
})();
/** The most warm-up transfers, however short they are. */
const lossyWarmMax = 50;
/** Seconds allowed for one transfer of `bytes` (as if at 15 Mbit/s, 20 s at least). */
export const lossyTimeoutS = (bytes: number) => Math.max(20, Math.ceil((bytes * 8) / 15e6));

/** The three namespaces of the lossy lab (client, router, server); see the module documentation. */
export interface Net {
  client: string;
  router: string;
  server: string;
  /** The server's veth (luna-ts's device; the kernel server's address goes on it). */
  serverIface: string;
  /** The router's veths: toward the client, toward the server. */
  routerIfaces: [string, string];
  down(): void;
}

/** Builds the three namespaces, every veth's offloads on or off; see the module documentation. */
export function buildNet(id: string, offloads: boolean): Net {
  const client = `${id}x`;
  const router = `${id}r`;
  const server = `${id}y`;
  const made: string[] = [];
  const down = () => {
    for (const ns of made.splice(0).reverse()) {
      for (let i = 0; i < 20; i++) {
        const r = spawnSync("ip", ["netns", "del", ns], { encoding: "utf8" });
        if (r.status === 0 || /No such file|does not exist/.test(r.stderr)) break;
        spawnSync("sleep", ["0.1"]);
      }
    }
  };
  const net: Net = {
    client,
    router,
    server,
    serverIface: `${id}y0`,
    routerIfaces: [`${id}r0`, `${id}r1`],
    down,
  };
  try {
    for (const ns of [client, router, server]) {
      spawnSync("ip", ["netns", "del", ns]); // left by a run that died
      sh("ip", ["netns", "add", ns]);
      made.push(ns);
      sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
      for (const kv of ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]) {
        sh("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", kv]);
      }
    }
    sh("ip", ["netns", "exec", router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    const [r0, r1] = net.routerIfaces;
    const c0 = `${id}x0`;
    const y0 = net.serverIface;
    const q = ["numrxqueues", "1", "numtxqueues", "1"];
    sh("ip", [
      "link",
      "add",
      c0,
      "netns",
      client,
      ...q,
      "type",
      "veth",
      "peer",
      "name",
      r0,
      "netns",
      router,
      ...q,
    ]);
    sh("ip", [
      "link",
      "add",
      y0,
      "netns",
      server,
      ...q,
      "type",
      "veth",
      "peer",
      "name",
      r1,
      "netns",
      router,
      ...q,
    ]);
    for (const [ns, dev] of [[client, c0], [router, r0], [router, r1], [server, y0]]) {
      if (!offloads) sh("ip", offloadsOffArgs(ns, dev));
      sh("ip", ["-n", ns, "link", "set", dev, "up"]);
    }
    sh("ip", ["-n", client, "addr", "add", "198.18.40.2/24", "dev", c0]);
    sh("ip", ["-n", client, "route", "add", "default", "via", "198.18.40.1"]);
    sh("ip", ["-n", router, "addr", "add", "198.18.40.1/24", "dev", r0]);
    sh("ip", ["-n", router, "addr", "add", "198.18.41.1/24", "dev", r1]);
  } catch (e) {
    down();
    throw e;
  }
  return net;
}

/** Sets the loss rate and the rate limit of the router (0 and false: none). */
export function shape(net: Net, loss: number, tbf: boolean): void {
  const ipt = (args: string[]) => sh("ip", ["netns", "exec", net.router, "iptables", ...args]);
  ipt(["-F", "FORWARD"]);
  ipt(["-Z", "FORWARD"]);
  if (loss > 0) {
    ipt([
      "-A",
      "FORWARD",
      "-m",
      "statistic",
      "--mode",
      "random",
      "--probability",
      String(loss),
      "-j",
      "DROP",
    ]);
  }
  for (const dev of net.routerIfaces) {
    spawnSync("ip", ["netns", "exec", net.router, "tc", "qdisc", "del", "dev", dev, "root"]);
    if (tbf) {
      sh("ip", [
        ...["netns", "exec", net.router, "tc", "qdisc", "add", "dev", dev, "root", "tbf"],
        ...["rate", `${tbfMbit}mbit`, "burst", "128kb", "latency", "20ms"],
      ]);
    }
  }
}

/** Packets the router forwarded and dropped since the shaping was set (iptables' counters). */
function forwarded(net: Net): { forwarded?: number; dropped?: number } {
  const r = spawnSync("ip", ["netns", "exec", net.router, "iptables", "-L", "FORWARD", "-v", "-x", "-n"], {
    encoding: "utf8",
  });
  const policy = r.stdout?.match(/^Chain FORWARD \(policy \w+ (\d+) packets/m);
  const drop = r.stdout?.match(/^\s*(\d+)\s+\d+\s+DROP\b/m);
  const dropped = Number(drop?.[1] ?? 0);
  return policy ? { forwarded: Number(policy[1]), dropped } : {};
}

/** One transfer's outcome. */
interface Transfer {
  dir: "down" | "up";
  tbf: boolean;
  loss: number;
  ok: boolean;
  /** Packets the router dropped and let through in the transfer (iptables' counters). */
  dropped?: number;
  forwarded?: number;
  bytes: number;
  seconds: number;
  mbit_per_s: number;
  error?: string;
  /**
   * When the sender is the kernel's TCP (the kernel server's downloads, every upload): its
   * congestion control and what its loss recovery did in the transfer (nstat's counters in its
   * namespace), to read beside luna-ts's own counters (notes.serve).
   */
  kernelSender?: { congestion: string } & Record<string, number | string>;
  /**
   * The server's main thread in the transfer (/proc/PID/task/TID/schedstat): ms it ran and ms it
   * waited, runnable, for a CPU, and the ms its other threads ran. luna-ts sends only while its
   * loop runs; the kernel's TCP sends from softirq on whichever CPU an ACK arrives, so a loop that
   * waits for its core is luna-ts's loss alone.
   */
  serverSched?: { runMs: number; waitMs: number; otherThreadsMs: number };
}

/**
 * The server's main thread's time on a CPU and waiting for one, and its other threads' time on a
 * CPU (a runtime's JIT and GC helpers), ns (/proc/PID/task/TID/schedstat); undefined when unreadable.
 */
function schedstat(pid: number | undefined): [number, number, number] | undefined {
  if (pid === undefined) return undefined;
  try {
    const r: [number, number, number] = [0, 0, 0];
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const f = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ");
      if (tid === String(pid)) {
        r[0] = Number(f[0]);
        r[1] = Number(f[1]);
      } else r[2] += Number(f[0]);
    }
    return r;
  } catch {
    return undefined;
  }
}

/** nstat's names of the kernel's loss-recovery counters, and the names luna-ts's stats give them. */
const kernelCounterNames = [
  ["TcpOutSegs", "outSegs"],
  ["TcpRetransSegs", "retransSegs"],
  ["TcpExtTCPTimeouts", "retransTimeouts"],
  ["TcpExtTCPSackRecoveryFail", "timeoutsInRecovery"],
  ["TcpExtTCPLossProbes", "tlpProbes"],
  ["TcpExtTCPLossProbeRecovery", "tlpRecoveries"],
  ["TcpExtTCPSpuriousRTOs", "spuriousRtos"],
] as const;

/** The kernel's loss-recovery counters in `ns`, absolute (nstat -as: its history file left alone). */
export function kernelCounters(ns: string): Record<string, number> {
  const r = spawnSync("ip", ["netns", "exec", ns, "nstat", "-asz"], { encoding: "utf8" });
  const out: Record<string, number> = {};
  for (const [name, key] of kernelCounterNames) {
    const m = r.stdout?.match(new RegExp(`^${name}\\s+(\\d+)`, "m"));
    if (m) out[key] = Number(m[1]);
  }
  return out;
}

/** The congestion control new connections in `ns` use (the bench does not set it: the host's default). */
function kernelCongestion(ns: string): string {
  const r = spawnSync("ip", ["netns", "exec", ns, "sysctl", "-n", "net.ipv4.tcp_congestion_control"], {
    encoding: "utf8",
  });
  return r.stdout?.trim() || `unknown (${r.stderr?.trim()})`;
}

/** Runs `argv` (in its own process group) to its end or `timeoutS`; on timeout `beforeKill` runs first. */
function runBounded(
  argv: string[],
  timeoutS: number,
  beforeKill?: () => void,
): Promise<{ code: number | null; out: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    let timedOut = false;
    p.stdout!.setEncoding("utf8");
    p.stderr!.setEncoding("utf8");
    p.stdout!.on("data", (d: string) => (out += d));
    p.stderr!.on("data", (d: string) => (out += d));
    const kill = () => {
      try {
        process.kill(-p.pid!, "SIGKILL");
      } catch {
        // gone
      }
    };
    const done = onCleanup(kill);
    const t = setTimeout(() => {
      timedOut = true;
      try {
        beforeKill?.();
      } finally {
        kill();
      }
    }, timeoutS * 1000);
    p.on("close", (code) => {
      clearTimeout(t);
      done();
      resolve({ code, out, timedOut });
    });
  });
}

export const inNs = (
  ns: string,
  cpu: string,
  argv: string[],
) => ["ip", "netns", "exec", ns, "taskset", "-c", cpu, ...argv];

async function download(
  net: Net,
  bytes: number,
  timeoutS: number,
): Promise<Omit<Transfer, "dir" | "tbf" | "loss">> {
  const r = await runBounded(
    inNs(net.client, clientCpu, [
      ...[
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-m",
        String(timeoutS),
        "-w",
        "%{size_download} %{time_total} %{http_code}",
      ],
      `http://${serverAddr}:${httpPort}/bytes/${bytes}`,
    ]),
    timeoutS + 10,
  );
  const m = r.out.trim().match(/^(\d+) ([\d.]+) (\d+)$/m);
  const got = m ? Number(m[1]) : 0;
  const seconds = m ? Number(m[2]) : timeoutS;
  const ok = !r.timedOut && r.code === 0 && got === bytes && m?.[3] === "200";
  return {
    ok,
    bytes: got,
    seconds,
    mbit_per_s: seconds > 0 ? (got * 8) / seconds / 1e6 : 0,
    ...(ok ? {} : {
      error: r.code === 28 || r.timedOut
        ? `timed out after ${timeoutS} s`
        : `curl exit ${r.code}: ${r.out.trim().slice(0, 200)}`,
    }),
  };
}

export async function upload(
  net: Net,
  bytes: number,
  timeoutS: number,
): Promise<Omit<Transfer, "dir" | "tbf" | "loss">> {
  // Timed in the shell: from before the first byte to nc's exit, which follows the receiver's close.
  const script =
    `s=$(date +%s%N); head -c ${bytes} /dev/zero | nc -N ${serverAddr} ${sinkPort} >/dev/null; ` +
    `rc=$?; e=$(date +%s%N); echo "DONE $rc $(( (e - s) / 1000 ))"`;
  let acked = 0;
  const r = await runBounded(inNs(net.client, clientCpu, ["bash", "-c", script]), timeoutS, () => {
    // The sender's view of how far it got, before it is killed.
    const ss = spawnSync("ip", [
      ...["netns", "exec", net.client, "ss", "-tinH", "dst", serverAddr, "dport", "=", `:${sinkPort}`],
    ], { encoding: "utf8" });
    acked = Number(ss.stdout?.match(/bytes_acked:(\d+)/)?.[1] ?? 0);
  });
  const m = r.out.match(/^DONE (\d+) (\d+)$/m);
  if (r.timedOut || !m) {
    return {
      ok: false,
      bytes: acked,
      seconds: timeoutS,
      mbit_per_s: (acked * 8) / timeoutS / 1e6,
      error: r.timedOut ? `timed out after ${timeoutS} s` : `nc: ${r.out.trim().slice(0, 200)}`,
    };
  }
  const seconds = Number(m[2]) / 1e6;
  const ok = m[1] === "0";
  return {
    ok,
    bytes: ok ? bytes : 0,
    seconds,
    mbit_per_s: ok ? (bytes * 8) / seconds / 1e6 : 0,
    ...(ok ? {} : { error: `nc exit ${m[1]}: ${r.out.trim().slice(0, 200)}` }),
  };
}

/**
 * Every transfer of one direction, over the rate limits and loss rates; the
 * shaping is removed afterwards. First an unrecorded one of a tenth of the
 * size without loss, so that the first figure finds ARP resolved and the
 * server's code compiled.
 */
async function transfers(
  net: Net,
  dir: "down" | "up",
  bytes: number,
  onTransfer: (t: Transfer) => void,
  kernelSenderNs: string | undefined,
  serverPid: number | undefined,
): Promise<void> {
  const timeoutS = lossyTimeoutS(bytes);
  try {
    // Untimed warm-up on the same processes, through each loss rate to be measured in turn (so that
    // recovery's code is compiled too), until lossyWarmS have passed: a fresh luna-ts's JIT compiles
    // for about that long (75-190 ms of CPU in a 30 MB transfer after a single 3 MB warm-up, then on
    // the poller's core), which the kernel's TCP does not pay.
    const warm = Math.max(1, Math.round(bytes / 10));
    const warmEnd = performance.now() + lossyWarmS * 1000;
    for (let i = 0; i < lossyWarmMax && (i === 0 || performance.now() < warmEnd); i++) {
      shape(net, lossyPick.rates[i % lossyPick.rates.length], false);
      await (dir === "down" ? download(net, warm, timeoutS) : upload(net, warm, timeoutS));
    }
    for (const tbf of lossyPick.tbf) {
      for (const loss of lossyPick.rates) {
        shape(net, loss, tbf);
        const before = kernelSenderNs === undefined ? undefined : kernelCounters(kernelSenderNs);
        const schedBefore = schedstat(serverPid);
        const r = dir === "down" ? await download(net, bytes, timeoutS) : await upload(net, bytes, timeoutS);
        let kernelSender: Transfer["kernelSender"];
        if (kernelSenderNs !== undefined && before !== undefined) {
          const after = kernelCounters(kernelSenderNs);
          kernelSender = { congestion: kernelCongestion(kernelSenderNs) };
          for (const k of Object.keys(after)) kernelSender[k] = after[k] - (before[k] ?? 0);
        }
        const schedAfter = schedstat(serverPid);
        const serverSched = schedBefore && schedAfter
          ? {
            runMs: (schedAfter[0] - schedBefore[0]) / 1e6,
            waitMs: (schedAfter[1] - schedBefore[1]) / 1e6,
            otherThreadsMs: (schedAfter[2] - schedBefore[2]) / 1e6,
          }
          : undefined;
        onTransfer({
          dir,
          tbf,
          loss,
          ...r,
          ...forwarded(net),
          ...(kernelSender ? { kernelSender } : {}),
          ...(serverSched ? { serverSched } : {}),
        });
      }
    }
  } finally {
    shape(net, 0, false);
  }
}

/** Starts `luna serve APP` on the server's veth; resolves once it serves. */
export async function startLunaServe(
  net: Net,
  device: "af_packet" | "packet",
  app: "http" | "discard",
  mode: Mode,
  prefix: string,
  congestion: "cubic" | "bbr",
): Promise<Proc> {
  removeEalFiles(prefix);
  const p = new Proc("ip", [
    ...["netns", "exec", net.server, bunBin, lunaCli, "serve", app],
    ...[
      "--device",
      `${device}:${net.serverIface}`,
      "--address",
      `${serverAddr}/24`,
      "--gateway",
      "198.18.41.1",
    ],
    ...["--port", String(app === "http" ? httpPort : sinkPort), "--mode", mode, "--prefix", prefix, "--json"],
    ...["--congestion", congestion],
  ]);
  try {
    await p.waitFor(/^luna: serving /m, 0, 30_000, "stdout");
    pinPoller(p.child.pid!);
  } catch (e) {
    await p.stop("SIGKILL", 1000);
    removeEalFiles(prefix);
    throw e;
  }
  return p;
}

/**
 * Pins the polling thread of process `pid` (its main thread) to serverCpu, and its other threads
 * (the runtime's JIT compilers and GC, DPDK's interrupt thread) to every CPU but that one, as a
 * deployment pins a poller: under `taskset` the whole process shared the one core, and a fresh
 * process's compiler threads took 30-190 ms of it from the poller in each 30 MB transfer. The
 * kernel server stays under `taskset` whole: its TCP sends from softirq, not from its threads.
 */
function pinPoller(pid: number): void {
  const others = cpusBut(serverCpu);
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const main = tid === String(pid);
    try {
      sh("taskset", ["-p", "-c", main ? serverCpu : others, tid]);
    } catch (e) {
      if (main) throw e; // a helper thread may have ended since the listing
    }
  }
}

/** The CPUs this process may run on, but `cpu` (all of them when it is the only one), as a taskset list. */
function cpusBut(cpu: string): string {
  const n = availableParallelism();
  const rest = Array.from({ length: n }, (_, i) => String(i)).filter((c) => c !== cpu);
  return (rest.length > 0 ? rest : [cpu]).join(",");
}

/** Stops a `luna serve` (SIGINT: it closes its connections and prints its stats). */
export async function stopLunaServe(p: Proc, prefix: string): Promise<Record<string, unknown> | undefined> {
  await p.stop("SIGINT", 10_000);
  removeEalFiles(prefix);
  const line = p.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  try {
    return line ? JSON.parse(line) : undefined;
  } catch {
    return undefined;
  }
}

/** The terminal's progress line of a lossy sample. */
export function describeLossy(s: Sample): string {
  // Only what this run measures (lossyPick): a case left out is not a failure.
  const part = (dir: "down" | "up", tbf: boolean) =>
    `${dir}${tbf ? ` ${tbfMbit} Mbit/s` : ""} ` +
    lossyPick.rates.map((l) => {
      const v = s.metrics[lossyMetric(dir, tbf, l)];
      return `${pctName(l)}%: ${v === undefined ? "FAILED" : v.toFixed(0)}`;
    }).join(" ");
  const parts = lossyPick.dirs.flatMap((dir) => lossyPick.tbf.map((tbf) => part(dir, tbf)));
  return `Mbit/s by loss: ${parts.join("; ")}`;
}

/**
 * One round of the lossy workload: for each device (its own network),
 * luna-ts and the kernel, one after the other (alternating order).
 */
export async function lossyRound(ctx: Ctx, id: string, bytes: number): Promise<void> {
  for (const device of lossyDevices) await lossyDeviceRound(ctx, id, bytes, device);
}

/**
 * One round in a lossy network of its own (every veth's offloads on for
 * `packet:`, off for af_packet): `side` measured for luna-ts (with BBR too
 * when `configs.lunaBbr` names it; without `configs.luna`'s figure when
 * `lunaCubic` is false) and for the kernel, one after the other, the order
 * reversed every other round. A network that cannot be built fails every figure.
 */
export async function inLossyNet(
  ctx: Ctx,
  id: string,
  device: "af_packet" | "packet",
  workload: Workload,
  conns: number,
  configs: { luna: string; kernel: string; lunaBbr?: string },
  side: (net: Net, side: LossySide, order: readonly LossySide[]) => Promise<Body>,
  lunaCubic = true,
): Promise<void> {
  const sides: LossySide[] = [
    ...(lunaCubic ? ["luna" as const] : []),
    ...(configs.lunaBbr !== undefined ? ["luna-bbr" as const] : []),
    "kernel",
  ];
  const order = ctx.round % 2 === 0 ? sides : sides.reverse();
  let net: Net | undefined;
  const removeNet = onCleanup(() => net?.down());
  try {
    net = buildNet(id, device === "packet");
  } catch (e) {
    for (const s of order) {
      await measure(ctx, workload, sideConfig(configs, s), conns, () => Promise.reject(e));
    }
    removeNet();
    return;
  }
  const n = net;
  try {
    for (const s of order) {
      await measure(ctx, workload, sideConfig(configs, s), conns, () => side(n, s, order));
    }
  } finally {
    await sleep(0);
    removeNet();
  }
}

async function lossyDeviceRound(
  ctx: Ctx,
  id: string,
  bytes: number,
  device: "af_packet" | "packet",
): Promise<void> {
  const mode: Mode = ctx.o.modes[0] ?? "batch";
  const configs = lossyConfigs(device, mode, lossyControllers.includes("bbr"));
  const lunaCubic = lossyControllers.includes("cubic");
  await inLossyNet(ctx, id, device, "lossy", 0, configs, async (n, side, order): Promise<Body> => {
    const config = sideConfig(configs, side);
    const list: Transfer[] = [];
    const stats: Record<string, unknown> = {};
    const failedOnes: string[] = [];
    const onTransfer = (t: Transfer) => {
      list.push(t);
      if (!t.ok) {
        const what = `${t.dir} loss ${pctName(t.loss)}%${t.tbf ? ` ${tbfMbit} Mbit/s` : ""}`;
        const error = `${what}: ${t.error}, ${t.bytes} of ${bytes} bytes (${t.mbit_per_s.toFixed(1)} Mbit/s)`;
        failedOnes.push(error);
        ctx.o.onFailure({ workload: "lossy", config, conns: 0, round: ctx.round, error });
      }
    };
    if (side !== "kernel") {
      const prefix = `luna-bench-${process.pid}-lossy${ctx.round}`;
      const clean = onCleanup(() => removeEalFiles(prefix));
      try {
        for (const [app, dir] of [["http", "down"], ["discard", "up"]] as const) {
          if (!lossyPick.dirs.includes(dir)) continue;
          const p = await startLunaServe(n, device, app, mode, prefix, side === "luna-bbr" ? "bbr" : "cubic");
          try {
            await transfers(n, dir, bytes, onTransfer, dir === "up" ? n.client : undefined, p.child.pid);
          } finally {
            stats[app] = await stopLunaServe(p, prefix);
          }
        }
      } finally {
        clean();
      }
    } else {
      sh("ip", ["-n", n.server, "addr", "add", `${serverAddr}/24`, "dev", n.serverIface]);
      sh("ip", ["-n", n.server, "route", "add", "default", "via", "198.18.41.1"]);
      const argv = inNs(n.server, serverCpu, [nodeBin, kernelHttp, serverAddr, String(httpPort)]);
      const p = new Proc(argv[0], argv.slice(1), { stdin: true });
      try {
        await p.waitFor(/^READY/m, 0, 20_000, "stdout");
        for (const dir of lossyPick.dirs) {
          await transfers(n, dir, bytes, onTransfer, dir === "up" ? n.client : n.server, p.child.pid);
        }
        stats.sink = JSON.parse((await ask(p, "count", /^COUNT (.*)$/m, 5000))[1]);
      } finally {
        await p.stop("SIGTERM", 5000);
        sh("ip", ["-n", n.server, "addr", "flush", "dev", n.serverIface]);
      }
    }
    const metrics: Record<string, number> = {};
    for (const t of list) if (t.ok) metrics[lossyMetric(t.dir, t.tbf, t.loss)] = t.mbit_per_s;
    // What the receiver counted against what the uploads say they delivered (plus the warm-up's).
    const sent = list.filter((t) => t.dir === "up").reduce((a, t) => a + t.bytes, 0) +
      Math.max(1, Math.round(bytes / 10));
    const sunk = side !== "kernel"
      ? (stats.discard as { appStats?: { bytesIn?: number } } | undefined)?.appStats?.bytesIn
      : (stats.sink as { sunk?: number } | undefined)?.sunk;
    if (lossyPick.dirs.includes("up") && sunk !== undefined && sunk < sent) {
      failedOnes.push(`the receiver counted ${sunk} bytes of the ${sent} the uploads delivered`);
    }
    if (Object.keys(metrics).length === 0) {
      throw new Error(`no transfer finished: ${failedOnes[0] ?? "?"}`);
    }
    return {
      metrics,
      notes: {
        bytes,
        timeoutS: lossyTimeoutS(bytes),
        order: order.join(","),
        offloads: device === "packet" ? "on" : "off",
        transfers: list,
        receivedBytes: sunk,
        ...(failedOnes.length > 0 ? { why: failedOnes.join("; ") } : {}),
        ...(side !== "kernel" ? { serve: stats } : {}),
      },
    };
  }, lunaCubic);
}
