/**
 * A narrow look at the "up" half of the lossy workload (not a figure of the
 * bench): luna-ts receiving (`luna serve discard`) against the kernel
 * receiver (bench/kernel_http.mjs's node:net sink) in the lab of
 * bench/lossy.ts, nc on the kernel sending, at a few loss rates, several
 * transfers each, in blocks that alternate luna-ts and the kernel. Prints
 * each transfer and, per receiver and loss rate, the median. While a
 * transfer runs, the sender's `ss -tin` is sampled: the last sample before
 * the end shows its cwnd, retransmissions, SACKed and lost segments, RTT, and
 * the time it spent limited by the receive window (rwnd_limited); its nstat
 * counters that moved (timeouts, loss probes, D-SACKs received, ...); and
 * for luna-ts, the ms its poller ran and waited, runnable, for its CPU.
 *
 *   bun bench/lossy_up.ts [--device packet|af_packet] [--loss 2,3] [--reps 5]
 *                         [--blocks 2] [--mb 30] [--only luna|kernel]
 *                         [--pcap FILE] [--perf FILE]
 *
 * `--pcap`: a capture (headers) of the first measured transfer on the
 * sender's veth; `--perf`: `perf record -g` of luna-ts's poller over its
 * first block's measured transfers. LOSSUP_DUMP=1 prints luna-ts's stats.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sh } from "./_net.ts";
import { onCleanup, Proc, sleep } from "./_proc.ts";
import {
  buildNet,
  inNs,
  type Net,
  serverAddr,
  shape,
  startLunaServe,
  stopLunaServe,
  upload,
} from "./lossy.ts";
import { nodeBin, serverCpu } from "./tcp.ts";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const device = arg("--device", "packet");
if (device !== "af_packet" && device !== "packet") throw new Error(`--device: af_packet or packet`);
const losses = arg("--loss", "2,3").split(",").map((p) => Number(p) / 100);
if (losses.some((l) => !(l >= 0 && l < 1))) throw new Error("--loss: percents 0..99");
const reps = Math.min(20, Math.max(1, Number(arg("--reps", "5")) | 0));
const blocks = Math.min(10, Math.max(1, Number(arg("--blocks", "2")) | 0));
const bytes = Math.round(Number(arg("--mb", "30")) * 1e6);
if (!(bytes >= 1e5 && bytes <= 1e9)) throw new Error("--mb: 0.1..1000");
const only = arg("--only", "");
/** Where to write a capture (headers only) of the first measured transfer, on the sender's veth. */
const pcap = arg("--pcap", "");
let captured = false;
/** Where to write `perf record` of luna-ts's poller over its first block's measured transfers. */
const perfOut = arg("--perf", "");
const timeoutS = 30;
const kernelHttp = fileURLToPath(new URL("./kernel_http.mjs", import.meta.url));

/** The sender's connection as `ss -tin` shows it (the one toward the sink), or "". */
function ssLine(net: Net): string {
  const r = spawnSync("ip", [
    ...["netns", "exec", net.client, "ss", "-tinH", "dst", serverAddr, "dport", "=", ":9"],
  ], { encoding: "utf8" });
  return (r.stdout ?? "").replace(/\s+/g, " ").trim();
}

/** The fields of an `ss -ti` line worth reading here. */
function ssFields(line: string): string {
  const keys = [
    "cwnd",
    "ssthresh",
    "rtt",
    "retrans",
    "lost",
    "sacked",
    "reordering",
    "rwnd_limited",
    "snd_wnd",
  ];
  const out: string[] = [];
  for (const k of keys) {
    const m = line.match(new RegExp(`\\b${k}:(\\S+)`));
    if (m) out.push(`${k}:${m[1]}`);
  }
  return out.join(" ");
}

/** Every Tcp and TcpExt counter of the sender's namespace (nstat -as). */
function nstat(net: Net): Map<string, number> {
  const r = spawnSync("ip", ["netns", "exec", net.client, "nstat", "-asz"], { encoding: "utf8" });
  const m = new Map<string, number>();
  for (const l of (r.stdout ?? "").split("\n")) {
    const f = l.trim().split(/\s+/);
    if (f.length >= 2 && /^Tcp/.test(f[0])) m.set(f[0], Number(f[1]));
  }
  return m;
}

const nstatKeys =
  /Timeouts|LossProbe|SACKReorder|DSACK|SackRecovery$|LostRetransmit|Spurious|LossFailures|FastRetrans|SlowStartRetrans|RetransSegs|SackShifted|SackMerged|^TcpInSegs$|^TcpOutSegs$/;

/** The sender's counters that moved in a transfer, by short name. */
let lastDiff = new Map<string, number>();

function nstatDiff(a: Map<string, number>, b: Map<string, number>): string {
  const out: string[] = [];
  lastDiff = new Map();
  for (const [k, v] of b) {
    const d = v - (a.get(k) ?? 0);
    if (d !== 0 && nstatKeys.test(k)) {
      const name = k.replace(/^TcpExtTCP|^TcpExt|^Tcp/, "");
      out.push(`${name}=${d}`);
      lastDiff.set(name, d);
    }
  }
  return out.join(" ");
}

/** The pid whose main thread's schedstat each transfer records (luna-ts's poller), if any. */
let pollerPid: number | undefined;

/** The ms luna-ts's poller ran in the last measured transfer. */
let lastPollerMs = 0;

/** [ns on the CPU, ns runnable waiting for it] of `pid`'s main thread. */
function sched(pid: number | undefined): number[] {
  if (pid === undefined) return [0, 0];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ").map(Number);
  } catch {
    return [0, 0];
  }
}

async function measured(net: Net): Promise<{ mbit: number; ss: string }> {
  const s0 = sched(pollerPid);
  const before = nstat(net);
  let dump: Proc | undefined;
  if (pcap !== "" && !captured) {
    captured = true;
    dump = new Proc("ip", [
      ...["netns", "exec", net.client, "tcpdump", "-i", `${net.client}0`, "-s", "128", "-w", pcap],
      ...["-U", "tcp", "port", "9"],
    ]);
    await dump.waitFor(/listening on/m, 0, 5000, "stderr");
  }
  let last = "";
  let done = false;
  const sampler = (async () => {
    for (let i = 0; i < 100_000 && !done; i++) {
      const l = ssLine(net);
      if (l.includes("bytes_acked")) last = l;
      await sleep(25);
    }
  })();
  const r = await upload(net, bytes, timeoutS);
  done = true;
  await sampler;
  await dump?.stop("SIGINT", 5000);
  const s1 = sched(pollerPid);
  lastPollerMs = (s1[0] - s0[0]) / 1e6;
  const poller = pollerPid === undefined
    ? ""
    : ` | poller ran ${((s1[0] - s0[0]) / 1e6).toFixed(0)} ms, waited ${
      ((s1[1] - s0[1]) / 1e6).toFixed(0)
    } ms`;
  return {
    mbit: r.ok ? r.mbit_per_s : 0,
    ss: `${ssFields(last)} | ${nstatDiff(before, nstat(net))}${poller}`,
  };
}

const results = new Map<string, number[]>();
const sums = new Map<string, Map<string, number>>();
const record = (who: string, loss: number, mbit: number) => {
  const k = `${who} ${(loss * 100).toFixed(1)}%`;
  results.set(k, [...(results.get(k) ?? []), mbit]);
  const sum = sums.get(k) ?? new Map<string, number>();
  for (const [n, d] of lastDiff) sum.set(n, (sum.get(n) ?? 0) + d);
  if (who === "luna") sum.set("pollerMs", (sum.get("pollerMs") ?? 0) + lastPollerMs);
  sums.set(k, sum);
};

async function lunaBlock(net: Net, block: number): Promise<void> {
  const prefix = `lossup-${process.pid}-${block}`;
  const p = await startLunaServe(net, device as "packet", "discard", "batch", prefix, "cubic");
  pollerPid = p.child.pid;
  try {
    for (let i = 0; i < 4; i++) {
      shape(net, losses[i % losses.length], false);
      await upload(net, Math.round(bytes / 10), timeoutS); // warm-up
    }
    const perf = perfOut !== "" && block === 0
      ? new Proc("perf", ["record", "-F", "2999", "-g", "-t", String(p.child.pid), "-o", perfOut])
      : undefined;
    for (const loss of losses) {
      for (let r = 0; r < reps; r++) {
        shape(net, loss, false);
        const m = await measured(net);
        record("luna", loss, m.mbit);
        console.log(`luna   ${(loss * 100).toFixed(1)}% ${m.mbit.toFixed(0).padStart(5)} Mbit/s  ${m.ss}`);
      }
    }
    await perf?.stop("SIGINT", 10_000);
  } finally {
    shape(net, 0, false);
    const stats = await stopLunaServe(p, prefix) as { stack?: { tcp?: Record<string, number> } } | undefined;
    if (process.env.LOSSUP_DUMP) console.log(JSON.stringify(stats));
    const t = stats?.stack?.tcp ?? {};
    const interesting = Object.entries(t).filter(([k, v]) =>
      typeof v === "number" && v !== 0 && /drop|trim|ooo|reass|share|refus|dup|window|sack/i.test(k)
    );
    console.log(`luna counters: ${interesting.map(([k, v]) => `${k} ${v}`).join(", ")}`);
  }
}

async function kernelBlock(net: Net): Promise<void> {
  sh("ip", ["-n", net.server, "addr", "add", `${serverAddr}/24`, "dev", net.serverIface]);
  sh("ip", ["-n", net.server, "route", "add", "default", "via", "198.18.41.1"]);
  const argv = inNs(net.server, serverCpu, [nodeBin, kernelHttp, serverAddr, "80"]);
  const p = new Proc(argv[0], argv.slice(1), { stdin: true });
  try {
    await p.waitFor(/^READY/m, 0, 20_000, "stdout");
    for (let i = 0; i < 4; i++) {
      shape(net, losses[i % losses.length], false);
      await upload(net, Math.round(bytes / 10), timeoutS);
    }
    for (const loss of losses) {
      for (let r = 0; r < reps; r++) {
        shape(net, loss, false);
        const m = await measured(net);
        record("kernel", loss, m.mbit);
        console.log(`kernel ${(loss * 100).toFixed(1)}% ${m.mbit.toFixed(0).padStart(5)} Mbit/s  ${m.ss}`);
      }
    }
  } finally {
    shape(net, 0, false);
    await p.stop("SIGTERM", 5000);
    sh("ip", ["-n", net.server, "addr", "flush", "dev", net.serverIface]);
  }
}

const net = buildNet(`lu${process.pid % 1000}`, device === "packet");
const removeNet = onCleanup(() => net.down());
try {
  for (let b = 0; b < blocks; b++) {
    const order = b % 2 === 0 ? ["luna", "kernel"] : ["kernel", "luna"];
    for (const who of order) {
      if (only !== "" && who !== only) continue;
      if (who === "luna") await lunaBlock(net, b);
      else await kernelBlock(net);
    }
  }
} finally {
  removeNet();
}
const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 === 1 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`\n${device}, ${bytes / 1e6} MB uploads, medians (Mbit/s):`);
for (const [k, v] of [...results].sort()) {
  console.log(
    `${k.padEnd(14)} ${median(v).toFixed(0).padStart(5)}   (${v.map((x) => x.toFixed(0)).join(" ")})`,
  );
  const sum = sums.get(k) ?? new Map();
  const keys = [
    "Timeouts",
    "LossProbes",
    "LostRetransmit",
    "RetransSegs",
    "SackRecovery",
    "DSACKRecv",
    "DSACKRecvSegs",
    "SpuriousRTOs",
  ];
  console.log(
    `${"".padEnd(14)} sender, per transfer: ${
      keys.map((n) => `${n} ${((sum.get(n) ?? 0) / v.length).toFixed(1)}`).join(", ")
    }`,
  );
  // The receiver's ACKs per 100 data segments the sender sent (load-independent), and luna-ts's
  // poller CPU per MB received.
  const out = sum.get("OutSegs") ?? 0;
  const acks = out > 0 ? ((sum.get("InSegs") ?? 0) / out * 100).toFixed(1) : "?";
  const cpu = sum.has("pollerMs")
    ? `, poller ${((sum.get("pollerMs") ?? 0) / v.length / (bytes / 1e6)).toFixed(2)} ms/MB`
    : "";
  console.log(`${"".padEnd(14)} ACKs per 100 data segments ${acks}${cpu}`);
}
