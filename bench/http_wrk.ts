/**
 * The httpwrk workload of `bun run bench` (opt-in: `--workloads httpwrk`):
 * wrk, the HTTP load generator, against HTTP servers in a namespace lab, the
 * kernel's TCP on the client side, over one veth pair whose offloads are off
 * on both ends (as net_af_packet needs them):
 *
 *   bun-kernel-veth          Bun.serve on the kernel's TCP of the server's
 *                            namespace (the veth gets the server's address for
 *                            the run): the baseline
 *   luna-serve-afpacket      serve() (src/web/serve.ts) on a luna-ts stack on
 *                            net_af_packet over the same veth (bench/http_server.ts)
 *   luna-app-afpacket        `luna serve http` (the luna command's HTTP app,
 *                            src/apps/http.ts) on the same veth
 *
 * Each at 1, 32 and 256 connections, with keep-alive and with
 * `Connection: close` (the configuration's name ends in `-close`: a
 * connection per request, the server closing first), GET /bytes/13 (13 bytes:
 * "Hello, World!" from the fetch servers, the pattern from the app).
 * `wrk -t1 --latency` on CPU 0, the server started on CPU 1 (taskset); each
 * round runs every configuration once, in an order that alternates between
 * rounds; figures are medians of the rounds, ratios against Bun.serve's in
 * the same run (bench/_report.ts). For the luna-ts servers the notes also hold
 * the segments the server took in and sent (its TCP counters, read over its
 * control socket around the measured run): per connection with
 * `Connection: close`, per request with keep-alive (segsInPer, segsOutPer).
 * For every server the notes hold what the measured run cost it: its CPU
 * time per request, all threads, user and system (`cpuUsPerReq`, from
 * /proc/PID/stat), and the share of the run its main thread ran and waited
 * for a CPU (`runPct`, `runqWaitPct`, from /proc/PID/schedstat). On a loaded
 * machine requests/s swing with the neighbours; these say whether a server
 * was short of work or short of CPU.
 *
 * `LUNA_WRK_APP_ARGS` adds options to the `luna serve http` command line
 * (split at spaces), to compare settings in one run: `--tx-flush 4` (early
 * transmit, off by default on af_packet), `--lcores 0@1`.
 *
 * The luna-ts servers run with the EAL's default lcore mapping, as `luna
 * serve` does: lcore 0 free to run on the CPUs the process was given, here
 * CPU 1 alone (taskset). Before the EAL kept to that set, its default moved
 * the server onto CPU 0, beside wrk: measured then at 32 connections with
 * keep-alive 35k req/s against 133k on CPU 1 (p50 25 µs at 1 connection
 * either way).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { offloadsOffArgs } from "../src/lab/netns.ts";
import { sh } from "./_net.ts";
import { onCleanup, Proc, removeEalFiles } from "./_proc.ts";
import { type BenchRecord, recordOf } from "./_report.ts";
import {
  bunBin,
  clientCpu,
  type Failure,
  type Mode,
  nsExec,
  quit,
  type Sample,
  serverCpu,
  startLuna,
} from "./tcp.ts";

/** Options of {@link httpWrkBench}. */
export interface HttpWrkOptions {
  rounds: number;
  warmupS: number;
  measureS: number;
  conns: number[];
  mode: Mode;
  onSample: (s: Sample) => void;
  onFailure: (f: Failure) => void;
  onProgress: (msg: string) => void;
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const serverScript = here("./http_server.ts");
const lunaCli = here("../src/cli/main.ts");
const serverAddr = "198.18.3.1";
const clientAddr = "198.18.3.2";
const path = "/bytes/13";
const kernelPort = 8000;

/** wrk's figures: requests/s and latency percentiles (µs), and the errors it counted. */
export interface WrkResult {
  req_per_s: number;
  p50_us: number;
  p99_us: number;
  requests: number;
  socketErrors: number;
  non2xx: number;
}

const unitUs: Record<string, number> = { us: 1, ms: 1000, s: 1e6 };

/** Reads `wrk --latency`'s report; throws when it holds no figures. */
export function parseWrk(text: string): WrkResult {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    if (m === null) throw new Error(`wrk: no ${re} in its report:\n${text.slice(-1500)}`);
    return Number(m[1]);
  };
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(text);
    if (m === null) throw new Error(`wrk: no ${p}% latency in its report:\n${text.slice(-1500)}`);
    return Number(m[1]) * unitUs[m[2]];
  };
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    req_per_s: num(/^Requests\/sec:\s+([\d.]+)/m),
    p50_us: pct("50"),
    p99_us: pct("99"),
    requests: num(/^\s+(\d+) requests in /m),
    socketErrors: errs === null ? 0 : errs.slice(1).reduce((a, b) => a + Number(b), 0),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
  };
}

/** Runs the workload; samples and failures go to the callbacks. */
export async function httpWrkBench(o: HttpWrkOptions): Promise<void> {
  const wrk = spawnSync("wrk", ["--version"], { encoding: "utf8" });
  if (wrk.error !== undefined) {
    throw new Error("httpwrk needs wrk (Debian package wrk: scripts/setup.sh installs it)");
  }
  const id = `lw${process.pid % 100000}`;
  const sNs = `${id}s`;
  const cNs = `${id}c`;
  const sIf = `${id}s0`;
  const cIf = `${id}c0`;
  const down = () => {
    for (const ns of [sNs, cNs]) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  };
  down();
  const clean = onCleanup(down);
  try {
    sh("ip", ["netns", "add", sNs]);
    sh("ip", ["netns", "add", cNs]);
    sh("ip", ["link", "add", sIf, "netns", sNs, "type", "veth", "peer", "name", cIf, "netns", cNs]);
    for (const [ns, dev] of [[sNs, sIf], [cNs, cIf]]) {
      sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
      sh("ip", ["-n", ns, "link", "set", dev, "up"]);
      sh("ip", offloadsOffArgs(ns, dev));
    }
    sh("ip", ["-n", cNs, "addr", "add", `${clientAddr}/24`, "dev", cIf]);
    const lab = { sNs, cNs, sIf };
    for (let round = 0; round < o.rounds; round++) {
      const configs = [
        () => kernel(o, lab, round),
        () => lunaServe(o, lab, round),
        () => lunaApp(o, lab, round),
      ];
      if (round % 2 === 1) configs.reverse();
      for (const c of configs) await c();
    }
  } finally {
    clean();
  }
}

interface WrkLab {
  sNs: string;
  cNs: string;
  sIf: string;
}

/** A process's CPU time (all threads, user and system) and its main thread's time on and waiting for a CPU, s. */
interface CpuSample {
  at: number;
  cpuS: number;
  runS: number;
  waitS: number;
}

/** Reads {@link CpuSample} of `pid`; undefined when /proc does not have it. */
function cpuSample(pid: number | undefined): CpuSample | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the command's name: utime and stime are fields 14 and 15 (proc(5)), in USER_HZ (100).
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(f[11]) + Number(f[12]);
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, "utf8").trim().split(" ").map(Number);
    return { at: performance.now(), cpuS: ticks / 100, runS: run / 1e9, waitS: wait / 1e9 };
  } catch {
    return undefined;
  }
}

/** What the measured run cost the server (see the module documentation), or undefined. */
function cpuCost(a: CpuSample | undefined, b: CpuSample | undefined, requests: number) {
  if (a === undefined || b === undefined || !(requests > 0)) return undefined;
  const wallS = (b.at - a.at) / 1000;
  const round1 = (x: number) => Math.round(x * 10) / 10;
  return {
    cpuUsPerReq: round1(((b.cpuS - a.cpuS) * 1e6) / requests),
    runPct: round1((100 * (b.runS - a.runS)) / wallS),
    runqWaitPct: round1((100 * (b.waitS - a.waitS)) / wallS),
  };
}

/** A luna server's TCP counters, read over its control socket (`luna stats NAME --json`). */
interface SegCounts {
  passiveOpens: number;
  inSegs: number;
  outSegs: number;
}

/** Reads the TCP counters of the `luna serve` named `name`. */
async function segCounts(name: string): Promise<SegCounts> {
  const p = new Proc(bunBin, [lunaCli, "stats", name, "--json"]);
  const code = await p.closed;
  const line = p.stdout.trim().split("\n").pop() ?? "";
  const tcp = code === 0 ? (JSON.parse(line) as { stats?: { tcp?: SegCounts } }).stats?.tcp : undefined;
  if (tcp === undefined) throw new Error(`luna stats ${name}: exit ${code}: ${p.tail(500)}`);
  return { passiveOpens: tcp.passiveOpens, inSegs: tcp.inSegs, outSegs: tcp.outSegs };
}

/**
 * One wrk run from the client's namespace. With `counted` (a luna server's
 * control socket name) it also returns the segments the server took in and
 * sent per connection it accepted and per request, over the measured run
 * alone (the warm-up, with keep-alive, is left out). With `pid` (the
 * server's), what the run cost it ({@link cpuCost}).
 */
async function runWrk(
  o: HttpWrkOptions,
  lab: WrkLab,
  port: number,
  conns: number,
  close: boolean,
  counted?: string,
  pid?: number,
) {
  const url = `http://${serverAddr}:${port}${path}`;
  const args = [
    "-t1",
    `-c${conns}`,
    `-d${o.measureS}s`,
    "--latency",
    ...(close ? ["-H", "Connection: close"] : []),
  ];
  if (o.warmupS > 0) {
    const w = new Proc(
      "ip",
      nsExec(lab.cNs, clientCpu, ["wrk", "-t1", `-c${conns}`, `-d${o.warmupS}s`, url]),
    );
    await w.closed;
  }
  const before = counted !== undefined ? await segCounts(counted) : undefined;
  const cpu0 = cpuSample(pid);
  const p = new Proc("ip", nsExec(lab.cNs, clientCpu, ["wrk", ...args, url]));
  const t = setTimeout(() => p.child.kill("SIGKILL"), (o.measureS + 30) * 1000);
  const code = await p.closed;
  clearTimeout(t);
  const cpu1 = cpuSample(pid);
  if (code !== 0) throw new Error(`wrk exit ${code}: ${p.tail(1500)}`);
  const r0 = parseWrk(p.out);
  const r = { ...r0, ...cpuCost(cpu0, cpu1, r0.requests) };
  if (before === undefined) return { ...r, segs: undefined };
  const after = await segCounts(counted!);
  const opens = after.passiveOpens - before.passiveOpens;
  const inSegs = after.inSegs - before.inSegs;
  const outSegs = after.outSegs - before.outSegs;
  // Per connection with Connection: close (a connection per request), per request with keep-alive.
  const per = close ? opens : r.requests;
  const round2 = (x: number) => Math.round(x * 100) / 100;
  return {
    ...r,
    segs: per > 0 ? { segsInPer: round2(inSegs / per), segsOutPer: round2(outSegs / per) } : undefined,
  };
}

/**
 * Every connection count, keep-alive and close, against the server on `port`;
 * `counted`: a luna server's control socket name, for its segments per connection.
 */
async function measureAll(
  o: HttpWrkOptions,
  lab: WrkLab,
  base: string,
  port: number,
  round: number,
  counted?: string,
  pid?: number,
) {
  for (const close of [false, true]) {
    const config = close ? `${base}-close` : base;
    for (const conns of o.conns) {
      const what = `httpwrk ${config} conns=${conns} round ${round + 1}/${o.rounds}`;
      try {
        const r = await runWrk(o, lab, port, conns, close, counted, pid);
        if (r.non2xx > 0) throw new Error(`${r.non2xx} answers not 2xx`);
        if (!(r.requests > 0)) throw new Error("no request answered");
        const { req_per_s, p50_us, p99_us, segs, ...rest } = r;
        const notes = segs === undefined ? rest : { ...rest, ...segs };
        o.onSample({
          workload: "httpwrk",
          config,
          conns,
          round,
          metrics: { req_per_s, p50_us, p99_us },
          notes,
        });
        o.onProgress(
          `${what}: ${(req_per_s / 1000).toFixed(1)}k req/s, p50 ${p50_us.toFixed(0)} µs, p99 ${
            p99_us.toFixed(0)
          } µs${
            r.cpuUsPerReq === undefined
              ? ""
              : `, ${r.cpuUsPerReq} CPU µs/req, ran ${r.runPct}%, waited ${r.runqWaitPct}%`
          }${r.socketErrors > 0 ? `, ${r.socketErrors} socket errors` : ""}${
            segs === undefined
              ? ""
              : `, segments in/out per ${
                close ? "connection" : "request"
              } ${segs.segsInPer}/${segs.segsOutPer}`
          }`,
        );
      } catch (e) {
        const error = String((e as Error)?.message ?? e).slice(0, 2000);
        o.onFailure({ workload: "httpwrk", config, conns, round, error });
        o.onProgress(`${what}: FAILED ${error.split("\n")[0]}`);
      }
    }
  }
}

/** Bun.serve on the kernel, the veth holding the server's address for the run. */
async function kernel(o: HttpWrkOptions, lab: WrkLab, round: number): Promise<void> {
  const config = "bun-kernel-veth";
  let server: Proc | undefined;
  sh("ip", ["-n", lab.sNs, "addr", "add", `${serverAddr}/24`, "dev", lab.sIf]);
  try {
    server = new Proc(
      "ip",
      nsExec(lab.sNs, serverCpu, [bunBin, serverScript, "kernel", serverAddr, String(kernelPort)]),
      { stdin: true },
    );
    await server.waitFor(/READY/);
    await measureAll(o, lab, config, kernelPort, round, undefined, server.child.pid);
  } catch (e) {
    o.onFailure({ workload: "httpwrk", config, conns: 0, round, error: String(e) });
    o.onProgress(`httpwrk ${config}: FAILED to start: ${String(e).split("\n")[0]}`);
  } finally {
    await quit(server);
    sh("ip", ["-n", lab.sNs, "addr", "flush", "dev", lab.sIf]);
  }
}

/** serve() on net_af_packet (bench/http_server.ts). */
async function lunaServe(o: HttpWrkOptions, lab: WrkLab, round: number): Promise<void> {
  const config = "luna-serve-afpacket";
  const prefix = `luna-bench-${process.pid}-wrk-serve${round}`;
  const name = `bench-wrk-serve-${process.pid}-${round}`; // its control socket: segments per connection
  const clean = onCleanup(() => removeEalFiles(prefix));
  let server: Proc | undefined;
  try {
    removeEalFiles(prefix);
    server = await startLuna(serverScript, ["ip", ...nsExec(lab.sNs, serverCpu, [])], {
      device: `af_packet:${lab.sIf}`,
      address: `${serverAddr}/24`,
      mode: o.mode,
      prefix,
      name,
      lifetimeS: 120 + 2 * o.conns.length * (o.warmupS + o.measureS + 5),
    }, {});
    await measureAll(o, lab, config, 80, round, name, server.child.pid);
  } catch (e) {
    o.onFailure({ workload: "httpwrk", config, conns: 0, round, error: String(e) });
    o.onProgress(`httpwrk ${config}: FAILED to start: ${String(e).split("\n")[0]}`);
  } finally {
    await quit(server);
    clean();
  }
}

/** `luna serve http` on net_af_packet, as its users start it. */
async function lunaApp(o: HttpWrkOptions, lab: WrkLab, round: number): Promise<void> {
  const config = "luna-app-afpacket";
  const prefix = `luna-bench-${process.pid}-wrk-app${round}`;
  const name = `bench-wrk-${process.pid}-${round}`; // its control socket: segments per connection
  const clean = onCleanup(() => removeEalFiles(prefix));
  let server: Proc | undefined;
  try {
    removeEalFiles(prefix);
    server = new Proc(
      "ip",
      nsExec(lab.sNs, serverCpu, [
        bunBin,
        lunaCli,
        "serve",
        "http",
        "--device",
        `af_packet:${lab.sIf}`,
        "--address",
        `${serverAddr}/24`,
        "--no-coexist",
        "--name",
        name,
        "--mode",
        o.mode,
        "--prefix",
        prefix,
        ...(process.env.LUNA_WRK_APP_ARGS ?? "").split(" ").filter((a) => a !== ""),
      ]),
    );
    await server.waitFor(/^luna: serving http/m, 0, 30_000, "stdout");
    await measureAll(o, lab, config, 80, round, name, server.child.pid);
  } catch (e) {
    o.onFailure({ workload: "httpwrk", config, conns: 0, round, error: String(e) });
    o.onProgress(`httpwrk ${config}: FAILED to start: ${String(e).split("\n")[0]}`);
  } finally {
    await server?.stop("SIGINT", 10_000);
    clean();
  }
}

/** The table of the workload's figures (medians; ratios to Bun.serve with the same connections and framing). */
export function httpWrkTable(recs: BenchRecord[]): string {
  const rs = recs.filter((r) => r.workload === "httpwrk" && r.metric === "req_per_s");
  if (rs.length === 0) return "";
  const find = (config: string, conns: number | null, metric: string) =>
    recordOf(recs, "httpwrk", config, conns, metric);
  const ratio = (x: number | null | undefined) => (x == null ? "-" : x.toFixed(2));
  const lines = [
    "",
    "httpwrk: wrk -t1 against GET /bytes/13 over a veth (median of rounds; ratio to Bun.serve on the kernel, same framing)",
    "conns".padStart(5) + "  " + "config".padEnd(26) + "req/s".padStart(9) + "  ratio" + "  p50 µs" +
    "  p99 µs" +
    "  ratio",
  ];
  const sorted = [...rs].sort((a, b) =>
    Number(a.config.endsWith("-close")) - Number(b.config.endsWith("-close")) ||
    (a.conns ?? 0) - (b.conns ?? 0)
  );
  for (const r of sorted) {
    const p50 = find(r.config, r.conns, "p50_us");
    const p99 = find(r.config, r.conns, "p99_us");
    lines.push(
      String(r.conns).padStart(5) + "  " + r.config.padEnd(26) + r.value.toFixed(0).padStart(9) +
        ratio(r.ratio).padStart(7) + (p50?.value.toFixed(0) ?? "-").padStart(8) +
        (p99?.value.toFixed(0) ?? "-").padStart(8) + ratio(p99?.ratio).padStart(7),
    );
  }
  return lines.join("\n");
}
