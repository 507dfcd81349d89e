/**
 * What a SYN flood alone costs `luna serve http` at its receive ring: the
 * share of the flood's frames its af_packet ring dropped (the loop fell
 * behind), the cookies it sent and the SYNs it shed, under the flood of
 * bench/synflood.ts (src/lab/syn_flood.c, as fast as the sender goes, its
 * SYN-ACKs dropped by iptables on the sender's side) for `--seconds` with no
 * download. Fewer drops at the same flood: a loop that keeps up.
 *
 * `--baseline DIR` runs another checkout's `luna serve` (its shim built) in
 * each round too, the order turning each round: an A/B comparison in one
 * time window, which is the only kind that means anything on a shared
 * machine. Prints each run and the medians per side.
 *
 * Usage: bun bench/synflood_ring.ts [--rounds 5] [--seconds 5] [--budget 8] [--baseline DIR]
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLab } from "../src/lab/netns.ts";
import { dropFloodAnswersArgs, parseSynFloodResult, startLabFlood } from "../src/lab/syn_flood.ts";
import { median } from "./_stats.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const rounds = Number(opt("--rounds", "5"));
const seconds = Number(opt("--seconds", "5"));
const budget = opt("--budget", "8");
const baseline = opt("--baseline", "");
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const clis: Record<string, string> = { luna: here("../src/cli/main.ts") };
if (baseline !== "") {
  clis.baseline = join(baseline, "src", "cli", "main.ts");
  if (!existsSync(clis.baseline)) throw new Error(`--baseline: ${clis.baseline} is missing`);
}

/** Resolves when `p` ends (or after `ms`, then kills it). */
function ended(p: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    const t = setTimeout(() => p.kill("SIGKILL"), ms);
    p.on("close", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

const lab = createLab({ prefix: "luna-bench-synring", subnet: 62 });
const prefix = `luna-bench-synring-${process.pid}`;
const dir = join(tmpdir(), `luna-synring-${process.pid}`);
mkdirSync(dir, { recursive: true });
const removeEal = () => {
  for (const d of ["/var/run/dpdk", "/run/dpdk"]) {
    if (existsSync(join(d, prefix))) rmSync(join(d, prefix), { recursive: true });
  }
};
let server: ChildProcess | undefined;
type Run = { synPerS: number; dropShare: number; cookiesPerS: number; shedPerS: number };
const runs: Record<string, Run[]> = Object.fromEntries(Object.keys(clis).map((k) => [k, []]));
try {
  lab.exec("kernel", "iptables", dropFloodAnswersArgs(80));
  const mac = lab.exec("luna", "cat", [`/sys/class/net/${lab.luna.iface}/address`]).trim();
  const names = Object.keys(clis);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const side = names[(r + k) % names.length];
      const p = spawn("ip", [
        "netns",
        "exec",
        lab.luna.ns,
        process.execPath,
        clis[side],
        "serve",
        "http",
        "--device",
        `af_packet:${lab.luna.iface}`,
        "--address",
        lab.luna.cidr,
        "--no-coexist",
        "--prefix",
        prefix,
        "--syn-budget",
        budget,
        "--json",
      ], { stdio: ["ignore", "pipe", "inherit"] });
      server = p;
      let out = "";
      p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      for (let i = 0; i < 300 && !/^luna: serving /m.test(out); i++) {
        await new Promise((res) => setTimeout(res, 100));
      }
      if (!/^luna: serving /m.test(out)) throw new Error(`${side}: luna serve did not start: ${out}`);
      const stopFile = join(dir, `stop-${side}-${r}`);
      const { process: f, output } = startLabFlood(lab, { dstMac: mac, dstPort: 80, rate: 0, seconds, stopFile });
      await ended(f, (seconds + 30) * 1000);
      writeFileSync(stopFile, "");
      const { sent, seconds: s } = parseSynFloodResult(await output);
      p.kill("SIGINT");
      await ended(p, 20_000);
      server = undefined;
      removeEal();
      const last = out.split("\n").filter((l) => l.startsWith("{")).pop();
      if (last === undefined) throw new Error(`${side}: no final stats: ${out}`);
      const st = JSON.parse(last).stack;
      const run: Run = {
        synPerS: sent / s,
        dropShare: st.port.rxRingDropped / sent,
        cookiesPerS: st.tcp.synCookiesSent / s,
        shedPerS: st.tcp.synsShed / s,
      };
      runs[side].push(run);
      console.log(
        `round ${r + 1} ${side}: ${(run.synPerS / 1000).toFixed(0)}k SYN/s, ring dropped ` +
          `${(run.dropShare * 100).toFixed(1)}%, ${(run.cookiesPerS / 1000).toFixed(1)}k cookies/s, ` +
          `${(run.shedPerS / 1000).toFixed(0)}k shed/s`,
      );
    }
  }
  const summary = Object.fromEntries(
    Object.entries(runs).map(([k, v]) => [k, {
      syn_per_s: median(v.map((x) => x.synPerS)),
      ring_dropped_share: median(v.map((x) => x.dropShare)),
      cookies_per_s: median(v.map((x) => x.cookiesPerS)),
      shed_per_s: median(v.map((x) => x.shedPerS)),
    }]),
  );
  console.log(JSON.stringify({ workload: "synflood_ring", rounds, seconds, budget, ...summary }));
} finally {
  if (server !== undefined) server.kill("SIGKILL");
  lab.close();
  removeEal();
  rmSync(dir, { recursive: true, force: true });
}
