/**
 * How long a new connection takes under a SYN flood (issue 16: a client
 * whose first SYN the flood crowds out waits for its retransmission, 1 s):
 * counts, not rates, so that a loaded machine blurs them less.
 *
 * A lab of two namespaces, as bench/synflood.ts builds it. Each round serves
 * from the first namespace, in turn, each side (`luna serve http` on
 * net_af_packet, with the serve flags of its variant; the kernel through
 * bench/kernel_http.mjs), starts a flood (src/lab/syn_flood.c, SYNs from
 * random ports of the peer's address, their SYN-ACKs dropped there, so the
 * backlog stays full and cookies answer the rest), keeps one download running
 * (an established connection: the cookie rate binds only while one exists,
 * src/tcp/syn_budget.ts), and makes `--connects` connections one after
 * another, each timed by curl (`time_connect`). Prints, per side, how many
 * connected within 500 ms and within 100 ms, the median and the slowest, the
 * SYNs the clients sent again (TcpExt TCPSynRetrans in the peer's namespace),
 * and for luna-ts sides the cookies sent, the SYNs shed, the frames dropped on
 * the full ring and the shed SYNs that went ahead when sent again
 * (`synRetriesAhead`: a client's retransmission, or a flood SYN the shed
 * memory took for one, src/tcp/syn_retry.ts); writes
 * bench/results/synflood-connect-<timestamp>.json.
 *
 * `--variants NAME=FLAGS;...` adds luna-ts sides run with other serve flags,
 * e.g. `--variants "linux=--syn-budget off --syn-rate off"`; a variant that
 * names `--device` replaces the default one (`{iface}` stands for the lab's
 * interface), e.g. a larger af_packet ring (a raw `eal:` device gets none of
 * af_packet's defaults, so they are given):
 * `"ring16k=--device eal:net_af_packet0,iface={iface},qpairs=1,framecnt=16384 --tx-flush 0 --syn-rate 5000"`.
 * `--baseline DIR` runs another checkout's `luna serve` as side `baseline`.
 *
 * Usage: bun bench/synflood_connect.ts [--rounds 2] [--connects 16] [--rate 0] [--baseline DIR] [--variants ...]
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
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
const rounds = opt("--rounds", 2);
const connects = opt("--connects", 16);
const rate = opt("--rate", 0);
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const lunaCli = here("../src/cli/main.ts");
const baselineCli = parseBaseline(args);
const variants = parseVariants(args);

/** The clients' SYN retransmissions so far (TcpExt TCPSynRetrans in the peer's namespace). */
function synRetrans(): number {
  const lines = lab.exec("kernel", "cat", ["/proc/net/netstat"]).split("\n").filter((l) =>
    l.startsWith("TcpExt:")
  );
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf("TCPSynRetrans")]);
}

const lab = createLab({ prefix: "luna-bench-synconn", subnet: 63 });
const prefix = `luna-bench-synconn-${process.pid}`;
const dir = join(tmpdir(), `luna-synconn-${process.pid}`);
mkdirSync(dir, { recursive: true });
let server: ChildProcess | undefined;
let download: ChildProcess | undefined;
const lunaStats: Record<string, number>[] = [];
try {
  lab.exec("kernel", "iptables", dropFloodAnswersArgs(80));
  const mac = lab.exec("luna", "cat", [`/sys/class/net/${lab.luna.iface}/address`]).trim();
  const startLuna = (flags: string[], cli = lunaCli) =>
    startLunaHttp(lab, {
      cli,
      prefix,
      flags: flags,
      statKeys: ["rxRingDropped", "synsShed", "synCookiesSent", "synCookiesAccepted", "synRetriesAhead"],
      stats: lunaStats,
      started: (p) => void (server = p),
    });
  const startKernel = () => startKernelHttp(lab, (p) => void (server = p));
  /** The connect times (ms) of `connects` connections made one after another under a flood. */
  const underFlood = async (r: number, side: string) => {
    const stopFile = join(dir, `stop-${side}-${r}`);
    const { process: f, output: done } = floodHttp(lab, mac, rate, stopFile);
    const ms: number[] = [];
    const retrans0 = synRetrans();
    try {
      await lineFrom(f, /^FLOODING$/, 30_000);
      // An established connection for the whole round: a slow download (it ends with the round).
      const [w, ...rest] = lab.wrap("kernel");
      download = spawn(w, [
        ...rest,
        "curl",
        "-sS",
        "-m",
        "100",
        "--limit-rate",
        "20M",
        "-o",
        "/dev/null",
        `http://${lab.luna.ip}/bytes/2000000000`,
      ], { stdio: "ignore" });
      // Let the flood fill the backlog and the download connect.
      await new Promise((r) => setTimeout(r, 1500));
      for (let i = 0; i < connects; i++) {
        // Each connection is bounded: a curl that never connects counts as its limit.
        let t = 8000;
        try {
          const out = lab.exec("kernel", "curl", [
            "-sS",
            "-o",
            "/dev/null",
            "--connect-timeout",
            "8",
            "-m",
            "10",
            "-w",
            "%{time_connect}",
            `http://${lab.luna.ip}/bytes/1`,
          ], { timeoutMs: 15_000 });
          const c = Number(out.trim()) * 1000;
          if (c > 0) t = c;
        } catch {
          // not connected within the bound
        }
        ms.push(t);
      }
    } finally {
      download?.kill("SIGKILL");
      download = undefined;
      writeFileSync(stopFile, "");
    }
    const { sent, seconds } = parseSynFloodResult(await done);
    return { ms, synPerS: sent / seconds, synRetrans: synRetrans() - retrans0 };
  };
  const sides: Record<string, () => Promise<() => Promise<void>>> = { luna: () => startLuna([]) };
  for (const v of variants) sides[`luna-${v.name}`] = () => startLuna(v.flags);
  if (baselineCli !== undefined) sides.baseline = () => startLuna([], baselineCli);
  sides.kernel = startKernel;
  const names = Object.keys(sides);
  const runs: Record<
    string,
    { ms: number[]; synPerS: number[]; synRetrans: number[]; stats: Record<string, number>[] }
  > = {};
  for (const n of names) runs[n] = { ms: [], synPerS: [], synRetrans: [], stats: [] };
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const side = names[(r + k) % names.length];
      const close = await sides[side]();
      try {
        const f = await underFlood(r, side);
        runs[side].ms.push(...f.ms);
        runs[side].synPerS.push(f.synPerS);
        runs[side].synRetrans.push(f.synRetrans);
        const under = (lim: number) => f.ms.filter((m) => m < lim).length;
        console.log(
          `round ${r + 1} ${side}: ${(f.synPerS / 1000).toFixed(0)}k SYN/s; connected within 500 ms ` +
            `${under(500)} of ${f.ms.length}, within 100 ms ${under(100)}; ` +
            `median ${median(f.ms).toFixed(1)} ms, max ${Math.max(...f.ms).toFixed(0)} ms; ` +
            `the clients retransmitted ${f.synRetrans} SYNs`,
        );
      } finally {
        await close();
        server = undefined;
      }
      const st = lunaStats.pop();
      if (st !== undefined) {
        console.log(
          `  ${side}: ${st.synCookiesSent} cookies sent, ${st.synsShed} SYNs shed, ` +
            `${st.synCookiesAccepted} cookies accepted, ${st.synRetriesAhead} shed SYNs answered when sent again, ` +
            `${st.rxRingDropped} frames dropped on a full ring`,
        );
        runs[side].stats.push(st);
      }
    }
  }
  const summary = (side: string) => {
    const o = runs[side];
    return {
      connects: o.ms.length,
      within_500_ms: o.ms.filter((m) => m < 500).length,
      within_100_ms: o.ms.filter((m) => m < 100).length,
      connect_ms_median: median(o.ms),
      connect_ms_max: Math.max(...o.ms),
      syn_per_s: median(o.synPerS),
      client_syn_retransmissions: o.synRetrans.reduce((a, b) => a + b, 0),
      ...(o.stats.length === 0 ? {} : {
        cookies_sent: median(o.stats.map((x) => x.synCookiesSent)),
        syns_shed: median(o.stats.map((x) => x.synsShed)),
        ring_dropped: median(o.stats.map((x) => x.rxRingDropped)),
        shed_syns_answered_again: o.stats.reduce((a, x) => a + x.synRetriesAhead, 0),
      }),
    };
  };
  const result = {
    workload: "synflood-connect",
    rounds,
    rate,
    ...Object.fromEntries(names.map((n) => [n, summary(n)])),
    runs,
  };
  console.log(JSON.stringify({ ...result, runs: undefined }));
  const results = here("./results");
  mkdirSync(results, { recursive: true });
  writeFileSync(
    join(results, `synflood-connect-${new Date().toISOString().replace(/[:.]/g, "-")}.json`),
    JSON.stringify(result),
  );
} finally {
  download?.kill("SIGKILL");
  if (server !== undefined) await stop(server, "SIGKILL");
  lab.close();
  for (const d of ["/var/run/dpdk", "/run/dpdk"]) {
    if (existsSync(join(d, prefix))) rmSync(join(d, prefix), { recursive: true });
  }
  rmSync(dir, { recursive: true, force: true });
}
