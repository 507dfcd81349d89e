/**
 * Goodput under a SYN flood, as a ratio against the same download without
 * one, measured in the same run (issue 16: a flood at the link's rate should
 * leave established connections >= 90% of their goodput).
 *
 * `luna serve http` on net_af_packet in a lab of two namespaces; from the
 * kernel's side curl downloads `--mb` MB, alternately without and with a SYN
 * flood running (src/lab/syn_flood.py: SYNs from 10,000 ports of the kernel's
 * address, whose SYN-ACKs iptables drops there, so that the listener's backlog
 * stays full and cookies answer the rest), `--rounds` rounds. Prints the
 * medians, the ratio flood / no flood, the SYNs per second the generator
 * reached, and writes bench/results/synflood-<timestamp>.json.
 *
 * Usage: bun bench/synflood.ts [--rounds 5] [--mb 50]
 *
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLab } from "../src/lab/netns.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const rounds = opt("--rounds", 5);
const mb = opt("--mb", 50);
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const lunaCli = here("../src/cli/main.ts");
const flooder = here("../src/lab/syn_flood.py");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Waits until `p` prints a line matching `re` (at most `ms`). */
function lineFrom(p: ChildProcess, re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} in ${ms} ms: ${out}`)), ms);
    p.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => re.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
}

const lab = createLab({ prefix: "luna-bench-synflood", subnet: 60 });
const prefix = `luna-bench-synflood-${process.pid}`;
const dir = join(tmpdir(), `luna-synflood-${process.pid}`);
mkdirSync(dir, { recursive: true });
let luna: ChildProcess | undefined;
try {
  lab.exec("kernel", "iptables", [
    "-A",
    "INPUT",
    "-p",
    "tcp",
    "--sport",
    "80",
    "--dport",
    "20000:29999",
    "-j",
    "DROP",
  ]);
  luna = spawn("ip", [
    "netns",
    "exec",
    lab.luna.ns,
    process.execPath,
    lunaCli,
    "serve",
    "http",
    "--device",
    `af_packet:${lab.luna.iface}`,
    "--address",
    lab.luna.cidr,
    "--no-coexist",
    "--prefix",
    prefix,
  ], { stdio: ["ignore", "pipe", "inherit"] });
  await lineFrom(luna, /^luna: serving /, 30_000);
  const mac = lab.exec("luna", "cat", [`/sys/class/net/${lab.luna.iface}/address`]).trim();
  const bytes = mb * 1_000_000;
  const download = () => {
    const out = lab.exec("kernel", "curl", [
      "-sS",
      "--fail",
      "-m",
      "120",
      "-o",
      "/dev/null",
      "-w",
      "%{size_download} %{time_total}",
      `http://${lab.luna.ip}/bytes/${bytes}`,
    ], { timeoutMs: 130_000 });
    const [size, secs] = out.trim().split(" ").map(Number);
    if (size !== bytes) throw new Error(`downloaded ${size} of ${bytes} bytes`);
    return (size * 8) / secs / 1e6;
  };
  const base: number[] = [];
  const flood: number[] = [];
  const synRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    base.push(download());
    const stop = join(dir, `stop-${r}`);
    const [w, ...rest] = lab.wrap("kernel");
    const f = spawn(w, [
      ...rest,
      "/usr/bin/python3",
      flooder,
      lab.kernel.iface,
      mac,
      lab.kernel.ip,
      lab.luna.ip,
      "80",
      "100000000",
      "120",
      stop,
    ], { stdio: ["ignore", "pipe", "inherit"] });
    const done = new Promise<string>((res) => {
      let out = "";
      f.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      f.on("close", () => res(out));
    });
    await lineFrom(f, /^FLOODING$/, 30_000);
    const t0 = performance.now();
    flood.push(download());
    writeFileSync(stop, "");
    const sent = Number((await done).trim().split("\n").pop());
    synRates.push(sent / ((performance.now() - t0) / 1000));
    console.log(
      `round ${r + 1}: ${base[r].toFixed(0)} Mbit/s without, ${flood[r].toFixed(0)} with ` +
        `${(synRates[r] / 1000).toFixed(0)}k SYN/s`,
    );
  }
  const result = {
    workload: "synflood",
    mb,
    rounds,
    goodput_mbit_per_s: median(base),
    goodput_under_flood_mbit_per_s: median(flood),
    ratio: median(flood) / median(base),
    syn_per_s: median(synRates),
  };
  console.log(JSON.stringify(result));
  const results = here("./results");
  mkdirSync(results, { recursive: true });
  writeFileSync(
    join(results, `synflood-${new Date().toISOString().replace(/[:.]/g, "-")}.json`),
    JSON.stringify(result),
  );
} finally {
  if (luna !== undefined && luna.exitCode === null) {
    const l = luna;
    const exited = new Promise((r) => l.on("close", r));
    l.kill("SIGINT");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (l.exitCode === null) l.kill("SIGKILL");
  }
  lab.close();
  for (const d of ["/var/run/dpdk", "/run/dpdk"]) {
    if (existsSync(join(d, prefix))) rmSync(join(d, prefix), { recursive: true });
  }
  rmSync(dir, { recursive: true, force: true });
}
