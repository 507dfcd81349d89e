/**
 * Goodput under a SYN flood, as a ratio against the same download without
 * one, for luna-ts and for the kernel's TCP on the same veth under the same
 * flood, measured in the same run (issue 16: a flood at the link's rate should
 * leave established connections >= 90% of their goodput).
 *
 * A lab of two namespaces. Each round serves from the first namespace, in
 * turn, `luna serve http` on net_af_packet and the kernel (bench/kernel_http.mjs
 * under node, with the address put on the same veth); from the other side curl
 * downloads `--mb` MB without and then with a SYN flood running
 * (src/lab/syn_flood.c: SYNs from random ports 20000..29999 of the kernel's
 * address at `--rate` SYN/s, 0 = as fast as it goes; iptables drops their
 * SYN-ACKs there, so the listener's backlog stays full and cookies answer the
 * rest). Prints per-round figures, the medians, each side's ratio flood / no
 * flood and the SYNs per second reached, and writes
 * bench/results/synflood-<timestamp>.json.
 *
 * `--budgets 8,2,off` runs luna-ts once per value of `luna serve
 * --syn-budget` each round, as sides `luna-budget-8`, ... (default: one
 * side, `luna`, with the default budget), to show what shedding buys. Each
 * luna-ts side also reports, from its final stats, the frames its receive
 * ring dropped, the cookies sent, the SYNs shed and the retransmissions.
 *
 * Each download is reported twice: the established connection's goodput
 * (bytes over the time from curl's connect to the last byte: what the flood
 * takes from a connection that exists) and the whole download's (with the
 * handshake: a SYN the flood crowded out costs the client its initial RTO,
 * 1 s), with the connect time under the flood beside it.
 *
 * `--rates 20000,off` runs luna-ts once per value of `luna serve --syn-rate`
 * (cookie SYN-ACKs a second at most) each round, as sides `luna-rate-20000`,
 * ... (with the default budget).
 *
 * `--variants NAME=FLAGS;...` adds luna-ts sides run with other serve flags,
 * as sides `luna-NAME`, e.g. `--variants "linux=--syn-budget off --syn-rate off"`
 * (every SYN answered with a cookie, as Linux does).
 *
 * `--baseline DIR`: another checkout of luna-ts (its shim built) whose
 * `luna serve` runs beside this one's in each round, as sides `baseline`
 * or `baseline-budget-N`: an A/B comparison in the same time window.
 *
 * `--warm MB` (default 50): each server, once started, first serves a download
 * of MB MB under the flood, unmeasured, so that the runtime has compiled the
 * flood's paths and the transfer's before either download is timed (a fresh
 * luna-ts process otherwise spends a third of its CPU time in the flood's
 * download on its JIT compiler's thread: perf, `bench/synflood_where.ts
 * --perf-download`). `--warm 0` measures fresh servers, as before. A
 * luna-ts side's counters (ring drops, cookies, SYNs shed) include the
 * warm-up's flood.
 *
 * `SYNFLOOD_PROFILE_DIR=DIR` (run under Bun): each luna-ts side runs with
 * `--cpu-prof` and writes its CPU profile there.
 *
 * Usage: bun bench/synflood.ts [--rounds 5] [--mb 50] [--rate 0] [--budgets 8,off] [--rates 20000,off] [--variants ...] [--baseline DIR] [--warm 50]
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLab } from "../src/lab/netns.ts";
import { dropFloodAnswersArgs, parseSynFloodResult } from "../src/lab/syn_flood.ts";
import { lineFrom, stopChild as stop } from "./_proc.ts";
import { median } from "./_stats.ts";
import {
  baselineCli as parseBaseline,
  floodHttp,
  parseVariants,
  startKernelHttp,
  startLunaHttp,
} from "./_synflood_lab.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const rounds = opt("--rounds", 5);
const mb = opt("--mb", 50);
const rate = opt("--rate", 0);
const warmMb = opt("--warm", 50);
const budgetsAt = args.indexOf("--budgets");
const budgets = budgetsAt >= 0 ? args[budgetsAt + 1].split(",") : [];
const ratesAt = args.indexOf("--rates");
const rates = ratesAt >= 0 ? args[ratesAt + 1].split(",") : [];
const variants = parseVariants(args);
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const lunaCli = here("../src/cli/main.ts");
const baselineCli = parseBaseline(args);

const lab = createLab({ prefix: "luna-bench-synflood", subnet: 60 });
const prefix = `luna-bench-synflood-${process.pid}`;
const dir = join(tmpdir(), `luna-synflood-${process.pid}`);
mkdirSync(dir, { recursive: true });
let server: ChildProcess | undefined;
const lunaStats: Record<string, number>[] = [];
try {
  lab.exec("kernel", "iptables", dropFloodAnswersArgs(80));
  const mac = lab.exec("luna", "cat", [`/sys/class/net/${lab.luna.iface}/address`]).trim();
  const bytes = mb * 1_000_000;
  /**
   * One download: the goodput of the established connection (bytes over the
   * time from connect to the last byte), the whole download's goodput (the
   * handshake included: a SYN the flood crowded out costs the client its
   * initial RTO), and the time curl's connect took, in ms.
   */
  const download = (size = bytes) => {
    const out = lab.exec("kernel", "curl", [
      "-sS",
      "--fail",
      "-m",
      "120",
      "-o",
      "/dev/null",
      "-w",
      "%{size_download} %{time_total} %{time_connect}",
      `http://${lab.luna.ip}/bytes/${size}`,
    ], { timeoutMs: 130_000 });
    const [got, secs, connect] = out.trim().split(" ").map(Number);
    if (got !== size) throw new Error(`downloaded ${got} of ${size} bytes`);
    return {
      mbit: (got * 8) / (secs - connect) / 1e6,
      wholeMbit: (got * 8) / secs / 1e6,
      connectMs: connect * 1000,
    };
  };
  const startLuna = (budget: string[], cli = lunaCli) =>
    startLunaHttp(lab, {
      cli,
      prefix,
      flags: budget,
      profileDir: process.env.SYNFLOOD_PROFILE_DIR,
      statKeys: ["rxRingDropped", "synsShed", "synCookiesSent", "retransSegs"],
      stats: lunaStats,
      started: (p) => void (server = p),
    });
  const startKernel = () => startKernelHttp(lab, (p) => void (server = p));
  /** One download under a flood; returns its goodput and the SYNs per second the flood reached. */
  let floods = 0;
  const underFlood = async (size = bytes) => {
    const stopFile = join(dir, `stop-${floods++}`);
    const { process: f, output: done } = floodHttp(lab, mac, rate, stopFile);
    await lineFrom(f, /^FLOODING$/, 30_000);
    // Let the flood fill the backlog before the download starts.
    await new Promise((r) => setTimeout(r, 200));
    const d = download(size);
    writeFileSync(stopFile, "");
    const { sent, seconds } = parseSynFloodResult(await done);
    return { ...d, synPerS: sent / seconds };
  };
  const sides: Record<string, () => Promise<() => Promise<void>>> = {};
  if (budgets.length === 0 && rates.length === 0) sides.luna = () => startLuna([]);
  for (const b of budgets) sides[`luna-budget-${b}`] = () => startLuna(["--syn-budget", b]);
  for (const r of rates) sides[`luna-rate-${r}`] = () => startLuna(["--syn-rate", r]);
  for (const v of variants) sides[`luna-${v.name}`] = () => startLuna(v.flags);
  if (baselineCli !== undefined) {
    if (budgets.length === 0) sides.baseline = () => startLuna([], baselineCli);
    for (const b of budgets) {
      sides[`baseline-budget-${b}`] = () => startLuna(["--syn-budget", b], baselineCli);
    }
  }
  sides.kernel = startKernel;
  const names = Object.keys(sides);
  const runs: Record<
    string,
    {
      base: number[];
      flood: number[];
      wholeBase: number[];
      wholeFlood: number[];
      connectMs: number[];
      synPerS: number[];
      stats: Record<string, number>[];
    }
  > = {};
  for (const n of names) {
    runs[n] = {
      base: [],
      flood: [],
      wholeBase: [],
      wholeFlood: [],
      connectMs: [],
      synPerS: [],
      stats: [],
    };
  }
  for (let r = 0; r < rounds; r++) {
    // The order turns each round, so that a busy neighbour weighs on every side alike.
    for (let k = 0; k < names.length; k++) {
      const side = names[(r + k) % names.length];
      const close = await sides[side]();
      try {
        const out = runs[side];
        if (warmMb > 0) await underFlood(warmMb * 1_000_000);
        const b = download();
        out.base.push(b.mbit);
        out.wholeBase.push(b.wholeMbit);
        const f = await underFlood();
        out.flood.push(f.mbit);
        out.wholeFlood.push(f.wholeMbit);
        out.connectMs.push(f.connectMs);
        out.synPerS.push(f.synPerS);
        console.log(
          `round ${r + 1} ${side}: ${b.mbit.toFixed(0)} Mbit/s without, ${f.mbit.toFixed(0)} with ` +
            `${(f.synPerS / 1000).toFixed(0)}k SYN/s (ratio ${(f.mbit / b.mbit).toFixed(2)}); ` +
            `connect under the flood ${f.connectMs.toFixed(1)} ms, whole download ratio ` +
            `${(f.wholeMbit / b.wholeMbit).toFixed(2)}`,
        );
      } finally {
        await close();
        server = undefined;
      }
      const st = lunaStats.pop();
      if (st !== undefined) {
        console.log(
          `  ${side}: ${st.rxRingDropped} frames dropped on a full ring, ${st.synCookiesSent} cookies sent, ` +
            `${st.synsShed} SYNs shed, ${st.retransSegs} segments retransmitted`,
        );
        runs[side].stats.push(st);
      }
    }
  }
  const summary = (side: string) => {
    const o = runs[side];
    return {
      goodput_mbit_per_s: median(o.base),
      goodput_under_flood_mbit_per_s: median(o.flood),
      ratio: median(o.flood) / median(o.base),
      // Each round's own ratio, then their median: a round the neighbours slowed throughout counts as one.
      round_ratio_median: median(o.flood.map((f, i) => f / o.base[i])),
      whole_download_ratio: median(o.wholeFlood) / median(o.wholeBase),
      connect_under_flood_ms_median: median(o.connectMs),
      connect_under_flood_ms_max: Math.max(...o.connectMs),
      syn_per_s: median(o.synPerS),
      ...(o.stats.length === 0 ? {} : {
        ring_dropped: median(o.stats.map((x) => x.rxRingDropped)),
        syns_shed: median(o.stats.map((x) => x.synsShed)),
        cookies_sent: median(o.stats.map((x) => x.synCookiesSent)),
        retransmitted: median(o.stats.map((x) => x.retransSegs)),
      }),
    };
  };
  const result = {
    workload: "synflood",
    mb,
    rounds,
    rate,
    budgets: budgets.length === 0 ? ["default"] : budgets,
    ...Object.fromEntries(names.map((n) => [n, summary(n)])),
    runs,
  };
  console.log(JSON.stringify({ ...result, runs: undefined }));
  const results = here("./results");
  mkdirSync(results, { recursive: true });
  writeFileSync(
    join(results, `synflood-${new Date().toISOString().replace(/[:.]/g, "-")}.json`),
    JSON.stringify(result),
  );
} finally {
  if (server !== undefined) await stop(server, "SIGKILL");
  lab.close();
  for (const d of ["/var/run/dpdk", "/run/dpdk"]) {
    if (existsSync(join(d, prefix))) rmSync(join(d, prefix), { recursive: true });
  }
  rmSync(dir, { recursive: true, force: true });
}
