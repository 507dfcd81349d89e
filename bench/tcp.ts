/**
 * TCP benchmarks: echo RPC, bulk transfer and connection rate, with luna-ts
 * and with the kernel's TCP, in the same run.
 *
 * - kernel: servers in Bun (`Bun.listen`), Deno (`Deno.listen`) and node:net
 *   (bench/kernel_server.mjs), and the kernel at its best: a C epoll server
 *   (bench/c/epoll_server.c), plain (`c`) and busy-polling (`c-busy`), on
 *   loopback in a namespace of their own and across a veth pair between two
 *   namespaces, driven by the C epoll client (bench/c/echo_client.c).
 * - memif: luna-ts to luna-ts over net_memif between two processes
 *   (bench/luna_server.ts, bench/luna_client.ts), no kernel on the path.
 * - afpacket: luna-ts serving through net_af_packet on a veth, the C epoll
 *   client in the peer namespace: the same client and wire as the kernel's
 *   veth figures.
 *
 * The concurrency workload (idle connections held open) is in
 * bench/concurrency.ts; it reuses the processes and helpers of this file.
 *
 * Servers run on one core and clients on the other (taskset; luna-ts's EAL
 * lcore is pinned to the same core). Each round runs every configuration
 * once, so that slow drifts of a noisy machine spread over all of them.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { gcActivity, gcLogEnv, type HeapMarks } from "./_control.ts";
import { Lab, type Path } from "./_net.ts";
import { onCleanup, Proc, removeEalFiles } from "./_proc.ts";
import { hugepagesFree, reserveHugepages } from "../src/lab/hugepages.ts";
import { describeConcurrency, kernelConcurrency, memifConcurrency } from "./concurrency.ts";
import { describeEcn, ecnRound, ecnSteps } from "./ecn.ts";
import { describeLossy, lossyDevices, lossyRound } from "./lossy.ts";
import { describeLossyRpc, lossyRpcRound } from "./lossy_rpc.ts";

export type Workload =
  | "echo"
  | "bulk"
  | "connrate"
  | "storage4k"
  | "storage64k"
  | "scale"
  | "concurrency"
  | "lossy"
  | "lossyrpc"
  | "httpget"
  | "httpwrk"
  | "ecn";

/** Storage-shaped RPC: a 64-byte request answered by this many bytes. */
export const storageResp = { storage4k: 4096, storage64k: 65536 } as const;
const isStorage = (w: Workload): w is "storage4k" | "storage64k" => w in storageResp;
export type Group = "kernel" | "memif" | "afpacket" | "scale";
/** Kernel servers: JS runtimes (bench/kernel_server.mjs), and the C epoll server plain and busy-polling. */
export type Runtime = "bun" | "deno" | "node" | "c" | "c-busy";
export type Mode = "batch" | "inline";

/** One measurement: one configuration, one workload, one round. */
export interface Sample {
  workload: Workload;
  config: string;
  conns: number;
  round: number;
  /**
   * req_per_s, p50_us, p99_us, p999_us (echo); gbit_per_s (bulk); conn_per_s (connrate);
   * ops_per_s, gbit_per_s, p50_us, p99_us, p999_us (storage4k, storage64k).
   */
  metrics: Record<string, number>;
  /** Latency CDF (echo): [µs, fraction at or below]. */
  cdf?: [number, number][];
  /** luna-ts processes' JavaScript heap around the measurement, bytes. */
  heap?: { server?: HeapMarks; client?: HeapMarks };
  /** Anything else the run said: errors, retransmissions. */
  notes?: Record<string, unknown>;
}

/** A measurement that did not happen, and why. */
export interface Failure {
  workload: string;
  config: string;
  conns: number;
  round: number;
  error: string;
}

export interface TcpOptions {
  rounds: number;
  warmupS: number;
  /**
   * Seconds a fresh server and client pair runs its first workload, unmeasured, before that
   * workload's first figure (not bulk, which has {@link bulkWarmBytes}): a new process compiles
   * its hot path in its first one or two seconds, its JIT threads on the pinned poller's core
   * (350-460 ms of compiler CPU in the first 1.6 s of echo, p999 5-6 ms), and the 0.5 s warm-up
   * of a phase measured the first figure of each pair inside that compile. Kernel baselines get
   * the same. 0: none.
   */
  startWarmS: number;
  measureS: number;
  bulkBytes: number;
  /**
   * Bytes of a bulk transfer run just before the measured one, on the same
   * processes, not counted: the first hundreds of MiB of a cold process run
   * while its JIT compiles the byte path (200-300 ms of compiler threads per
   * side, taking CPU from the polling ones on two cores), and a transfer of
   * a fraction of a second measured that compile or not, run to run.
   * luna-ts repeats it until {@link bulkWarmS} have passed (the C client
   * compiles nothing and sends it once).
   */
  bulkWarmBytes: number;
  bulkWarmS: number;
  echoConns: number[];
  /** Scaling (group "scale"): the echo loop with these many connections, over 1 and 2 workers a side. */
  scaleConns: number[];
  scaleWorkers: number[];
  /** Storage-shaped RPC (storage4k, storage64k) with these many connections. */
  storageConns: number[];
  connrateConns: number;
  /** Concurrency: idle connections luna-ts holds (memif), and the kernel baseline holds. */
  concConns: number;
  concKernelConns: number;
  /** Concurrency: the echo loop with these many active connections, with and without the idle ones. */
  concActive: number[];
  /** Concurrency: in the first this many rounds only. */
  concRounds: number;
  /** Concurrency: kernel servers (a subset of `runtimes`). */
  concRuntimes: Runtime[];
  /**
   * Concurrency, TIME-WAIT phase: connections the server closes first after the idle figures
   * (undefined: all the idle ones; 0: no TIME-WAIT phase).
   */
  concTwConns?: number;
  /** Lossy: bytes of each transfer (bench/lossy.ts). */
  lossyBytes: number;
  groups: Group[];
  workloads: Workload[];
  runtimes: Runtime[];
  modes: Mode[];
  /** Bulk with luna-ts in these modes only (it is the slowest measurement). */
  bulkModes: Mode[];
  /** Bulk in the first this many rounds only. */
  bulkRounds: number;
  onSample: (s: Sample) => void;
  onFailure: (f: Failure) => void;
  onProgress: (msg: string) => void;
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
export const bunBin = here("../node_modules/.bin/bun");
export const denoBin = here("../node_modules/.bin/deno");
export const nodeBin = "/usr/bin/node";
const clientSrc = here("./c/echo_client.c");
export const clientBin = here("./c/build/echo_client");
const cServerSrc = here("./c/epoll_server.c");
const cServerBin = here("./c/build/epoll_server");
export const kernelServer = here("./kernel_server.mjs");
export const lunaServer = here("./luna_server.ts");
export const lunaClient = here("./luna_client.ts");
const lunaWorkers = here("./luna_workers.ts");
export const serverCpu = "1";
export const clientCpu = "0";
export const echoPort = 7;
const sinkPort = 9;
/** The storage service: port 11 in luna_server.ts, PORT+4 in kernel_server.mjs. */
const storagePort = 11;
export const requestBytes = 64;

/** Compiles `src` to `bin` (bench/c/build, not committed) when missing or older than its source (gcc -O2). */
function buildC(src: string, bin: string): string {
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(here("./c/build"), { recursive: true });
    const r = spawnSync("gcc", ["-O2", "-Wall", "-Wextra", "-o", bin, src], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`gcc ${src}: ${r.stderr}`);
  }
  return bin;
}

/** Compiles the C epoll server when it is missing or stale. */
export function buildEpollServer(): string {
  return buildC(cServerSrc, cServerBin);
}

/** Compiles the C client when it is missing or stale. */
export function buildClient(): string {
  return buildC(clientSrc, clientBin);
}

export const nsExec = (
  ns: string,
  cpu: string,
  argv: string[],
) => ["netns", "exec", ns, "taskset", "-c", cpu, ...argv];

/** Sends a command line and waits for the line answering it. */
export async function ask(p: Proc, line: string, answer: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const from = p.stdout.length;
  p.send(line);
  return await p.waitFor(answer, from, timeoutMs, "stdout");
}

/** Asks a child to quit on stdin; kills it if it has not within `graceMs`. */
export async function quit(p: Proc | undefined, graceMs = 4000): Promise<void> {
  if (p === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return;
  try {
    p.send("quit");
    p.child.stdin?.end();
  } catch {
    // stdin already closed
  }
  const t = setTimeout(() => p.child.kill("SIGKILL"), graceMs);
  await p.closed;
  clearTimeout(t);
}

/** Runs the C client in `ns` to its end; returns its RESULT object. */
export async function cClient(ns: string, args: string[], timeoutS: number): Promise<Record<string, unknown>> {
  const p = new Proc("ip", nsExec(ns, clientCpu, [clientBin, ...args]));
  const t = setTimeout(() => p.child.kill("SIGKILL"), timeoutS * 1000);
  const code = await p.closed;
  clearTimeout(t);
  const m = p.out.match(/^RESULT (.*)$/m);
  if (!m) throw new Error(`echo_client ${args.join(" ")}: exit ${code}: ${p.tail(1500).trim()}`);
  return JSON.parse(m[1]);
}

const us = (ns: unknown) => Number(ns) / 1000;
const cdfUs = (cdf: unknown) =>
  (cdf as [number, number][]).map(([ns, f]) => [ns / 1000, f] as [number, number]);

/** Turns a client's result into a sample's metrics; throws when the run went wrong. */
function metricsOf(w: Workload, r: Record<string, unknown>): Pick<Sample, "metrics" | "cdf"> {
  if (w === "echo") {
    if (Number(r.errors) > 0) throw new Error(`echo: ${r.errors} answers with wrong bytes or lengths`);
    if (!(Number(r.requests) > 0)) throw new Error("echo: no request answered in the measured stretch");
    return {
      metrics: {
        req_per_s: Number(r.req_per_s),
        p50_us: us(r.p50_ns),
        p99_us: us(r.p99_ns),
        p999_us: us(r.p999_ns),
      },
      cdf: cdfUs(r.cdf),
    };
  }
  if (isStorage(w)) {
    if (Number(r.errors) > 0) throw new Error(`${w}: ${r.errors} answers with wrong bytes or lengths`);
    if (!(Number(r.requests) > 0)) throw new Error(`${w}: no request answered in the measured stretch`);
    if (Number(r.resp) !== storageResp[w]) throw new Error(`${w}: answers of ${r.resp} bytes`);
    return {
      metrics: {
        ops_per_s: Number(r.req_per_s),
        gbit_per_s: Number(r.gbit_per_s),
        p50_us: us(r.p50_ns),
        p99_us: us(r.p99_ns),
        p999_us: us(r.p999_ns),
      },
      cdf: cdfUs(r.cdf),
    };
  }
  if (w === "bulk") {
    if (r.finished !== true) throw new Error(`bulk: did not finish (${JSON.stringify(r)})`);
    return { metrics: { gbit_per_s: Number(r.gbit_per_s) } };
  }
  if (!(Number(r.connections) > 0)) {
    throw new Error(`connrate: no connection completed (${JSON.stringify(r)})`);
  }
  return { metrics: { conn_per_s: Number(r.conn_per_s) } };
}

const notesOf = (r: Record<string, unknown>) => {
  const { cdf: _cdf, heap: _heap, ...rest } = r;
  return rest;
};

/** The workloads one server instance runs, in order, with what the C client needs for each. */
function plan(o: TcpOptions, round: number, luna: { mode?: Mode } = {}): { w: Workload; conns: number }[] {
  const out: { w: Workload; conns: number }[] = [];
  if (o.workloads.includes("echo")) { for (const c of o.echoConns) out.push({ w: "echo", conns: c }); }
  if (
    o.workloads.includes("bulk") && round < o.bulkRounds &&
    (luna.mode === undefined || o.bulkModes.includes(luna.mode))
  ) {
    out.push({ w: "bulk", conns: 1 });
  }
  if (o.workloads.includes("connrate")) out.push({ w: "connrate", conns: o.connrateConns });
  for (const w of ["storage4k", "storage64k"] as const) {
    if (o.workloads.includes(w)) { for (const c of o.storageConns) out.push({ w, conns: c }); }
  }
  return out;
}

/** `{ mode: "echo" }` as `["--mode", "echo"]`. */
const flags = (f: Record<string, string | number>) =>
  Object.entries(f).flatMap(([k, v]) => [`--${k}`, String(v)]);

function cArgs(o: TcpOptions, w: Workload | "bulkwarm", conns: number, path: Path): string[] {
  const addr = path.serverAddr;
  const timing = { warmup: o.warmupS, duration: o.measureS };
  if (w === "echo") {
    return flags({ mode: "echo", addr, port: echoPort, size: requestBytes, conns, ...timing });
  }
  if (w === "bulk") return flags({ mode: "bulk", addr, port: sinkPort, bytes: o.bulkBytes });
  if (w === "bulkwarm") return flags({ mode: "bulk", addr, port: sinkPort, bytes: o.bulkWarmBytes });
  if (isStorage(w)) {
    const resp = storageResp[w];
    return flags({ mode: "storage", addr, port: storagePort, size: requestBytes, resp, conns, ...timing });
  }
  const src = path.clientSources.join(",");
  return flags({ mode: "connrate", addr, port: echoPort, size: requestBytes, conns, ...timing, src });
}

function cTimeoutS(o: TcpOptions, w: Workload): number {
  return w === "bulk" ? 30 + o.bulkBytes / 1e8 : o.warmupS + o.measureS + 20;
}

/** The MTU of the memif-jumbo configurations, and the workloads they run (where segment size matters). */
export const jumboMtu = 9000;
/**
 * The MTU of the memif-mtu64k configurations ("loopback MTU"): a frame of
 * 65535 bytes, memif's longest, as the kernel's loopback runs at 65536. TCP
 * sends segments of up to 65469 bytes whole (no GSO cut, no GRO merge): a
 * 64 KiB answer is two frames, each a chain of the zone's 9 KiB buffers.
 * Same workloads as the jumbo ones.
 */
export const loopbackMtu = 65521;
const jumboWorkloads: readonly Workload[] = ["bulk", "storage4k", "storage64k"];
const jumboPlan = (o: TcpOptions, round: number, mode: Mode) =>
  plan(o, round, { mode }).filter((s) => jumboWorkloads.includes(s.w));
/**
 * The memif-csum configuration (`checksums: "always"`: computed and verified
 * on memif too, as a link that needs them would): bulk and storage 64 KiB,
 * in the first of the modes, so that readers see what the checksum-free
 * default buys.
 */
const csumWorkloads: readonly Workload[] = ["bulk", "storage64k"];
const csumPlan = (o: TcpOptions, round: number, mode: Mode) =>
  mode === o.modes[0] ? plan(o, round, { mode }).filter((s) => csumWorkloads.includes(s.w)) : [];

/**
 * The workloads of the zero-copy memif configurations (luna-memif-zc-*), in
 * the first mode only: those that move large answers or bulk, where the copy
 * it saves shows, beside the copy-mode figures of the same round.
 */
const zcWorkloads: readonly Workload[] = ["bulk", "storage4k", "storage64k"];
const zcPlan = (o: TcpOptions, round: number, mode: Mode) =>
  mode === o.modes[0] ? plan(o, round, { mode }).filter((s) => zcWorkloads.includes(s.w)) : [];

/** Whether the lossy workload runs: asked for, with luna-ts on af_packet or the kernel among the groups. */
const lossyOn = (o: TcpOptions) =>
  o.workloads.includes("lossy") && (o.groups.includes("afpacket") || o.groups.includes("kernel"));

/** Whether the lossyrpc workload runs: asked for, with luna-ts on af_packet or the kernel among the groups. */
const lossyRpcOn = (o: TcpOptions) =>
  o.workloads.includes("lossyrpc") && (o.groups.includes("afpacket") || o.groups.includes("kernel"));

/** Whether the ecn workload runs: asked for, with the memif group (luna-ts to luna-ts over memif). */
const ecnOn = (o: TcpOptions) => o.workloads.includes("ecn") && o.groups.includes("memif");

/** How many measurements {@link tcpBench} will make (for progress). */
export function countSteps(o: TcpOptions): number {
  let n = 0;
  for (let round = 0; round < o.rounds; round++) {
    if (o.groups.includes("kernel")) n += 2 * o.runtimes.length * plan(o, round).length;
    for (const g of ["memif", "afpacket"] as const) {
      if (o.groups.includes(g)) { for (const mode of o.modes) n += plan(o, round, { mode }).length; }
    }
    if (o.groups.includes("memif")) {
      for (const mode of o.modes) n += 2 * jumboPlan(o, round, mode).length + csumPlan(o, round, mode).length;
      for (const mode of o.modes) n += zcPlan(o, round, mode).length;
    }
    if (o.groups.includes("scale")) n += o.scaleWorkers.length * o.scaleConns.length;
    if (o.workloads.includes("concurrency") && round < o.concRounds) {
      // Two figures a configuration: without the idle connections, and with them.
      if (o.groups.includes("kernel")) n += 2 * o.concRuntimes.length;
      if (o.groups.includes("memif")) n += 2 * o.modes.length;
    }
    if (lossyOn(o)) n += 2 * lossyDevices.length; // luna-ts and the kernel, per device
    if (lossyRpcOn(o)) n += 2 * lossyDevices.length;
    if (ecnOn(o)) n += ecnSteps;
  }
  return n;
}

/** Runs every configuration `rounds` times, round by round. */
export async function tcpBench(o: TcpOptions): Promise<void> {
  buildClient();
  if (o.runtimes.some((rt) => rt === "c" || rt === "c-busy")) buildC(cServerSrc, cServerBin);
  const id = `lb${process.pid % 100000}`;
  const lab = new Lab(id);
  const needsLab = o.groups.includes("kernel") || o.groups.includes("afpacket");
  const labDown = onCleanup(() => lab.down());
  if (needsLab) lab.up();
  let step = 0;
  const t0 = performance.now();
  const total = countSteps(o);
  const progress = (msg: string) => {
    step++;
    const el = (performance.now() - t0) / 1000;
    const eta = step > 1 ? ` eta ${Math.round((el / step) * (total - step))} s` : "";
    o.onProgress(`[${step}/${total}${eta}] ${msg}`);
  };
  try {
    for (let round = 0; round < o.rounds; round++) {
      const ctx: Ctx = { o, lab, round, progress };
      if (o.groups.includes("kernel")) {
        for (const [net, path] of [["lo", lab.lo], ["veth", lab.veth]] as const) {
          for (const rt of o.runtimes) await kernelConfig(ctx, rt, net, path);
        }
      }
      if (o.groups.includes("memif")) {
        for (const mode of o.modes) await memifConfig(ctx, mode);
        for (const mode of o.modes) await memifConfig(ctx, mode, "jumbo");
        for (const mode of o.modes) await memifConfig(ctx, mode, "mtu64k");
        for (const mode of o.modes) await memifConfig(ctx, mode, "csum");
        for (const mode of o.modes) await memifConfig(ctx, mode, "zc");
      }
      if (o.groups.includes("afpacket")) { for (const mode of o.modes) await afPacketConfig(ctx, mode); }
      if (o.groups.includes("scale")) { for (const w of o.scaleWorkers) await scaleConfig(ctx, w); }
      if (o.workloads.includes("concurrency") && round < o.concRounds) {
        if (o.groups.includes("kernel")) { for (const rt of o.concRuntimes) await kernelConcurrency(ctx, rt); }
        if (o.groups.includes("memif")) { for (const mode of o.modes) await memifConcurrency(ctx, mode); }
      }
      if (lossyOn(o)) await lossyRound(ctx, id, o.lossyBytes);
      if (lossyRpcOn(o)) await lossyRpcRound(ctx, id);
      if (ecnOn(o)) await ecnRound(ctx);
    }
  } finally {
    labDown();
  }
}

export interface Ctx {
  o: TcpOptions;
  lab: Lab;
  round: number;
  progress: (msg: string) => void;
}

function describe(s: Sample): string {
  const m = s.metrics;
  if (s.workload === "concurrency") return describeConcurrency(s);
  if (s.workload === "lossy") return describeLossy(s);
  if (s.workload === "lossyrpc") return describeLossyRpc(s);
  if (s.workload === "ecn") return describeEcn(s);
  if (s.workload === "echo" || s.workload === "scale") {
    const rate = `${(m.req_per_s / 1000).toFixed(1)}k req/s`;
    return `${rate}, p50 ${m.p50_us.toFixed(1)} µs, p99 ${m.p99_us.toFixed(0)} µs`;
  }
  if (s.workload === "bulk") return `${m.gbit_per_s.toFixed(2)} Gbit/s`;
  if (isStorage(s.workload)) {
    const rate = `${(m.ops_per_s / 1000).toFixed(1)}k op/s`;
    return `${rate}, ${m.gbit_per_s.toFixed(2)} Gbit/s, p50 ${m.p50_us.toFixed(1)} µs, p99 ${m.p99_us.toFixed(0)} µs`;
  }
  return `${(m.conn_per_s / 1000).toFixed(1)}k conn/s`;
}

/** Records a sample, or the failure of `fn`; never throws. */
export async function measure(
  ctx: Ctx,
  w: Workload,
  config: string,
  conns: number,
  fn: () => Promise<Body>,
): Promise<boolean> {
  const what = `${w} ${config} conns=${conns} round ${ctx.round + 1}/${ctx.o.rounds}`;
  try {
    const s: Sample = { workload: w, config, conns, round: ctx.round, ...await fn() };
    ctx.o.onSample(s);
    ctx.progress(`${what}: ${describe(s)}`);
    return true;
  } catch (e) {
    const error = String((e as Error)?.message ?? e).slice(0, 2000);
    ctx.o.onFailure({ workload: w, config, conns, round: ctx.round, error });
    ctx.progress(`${what}: FAILED ${error.split("\n")[0]}`);
    return false;
  }
}

export type Body = Omit<Sample, "workload" | "config" | "conns" | "round">;

/**
 * Runs a configuration's steps against processes `start` makes. After a
 * failed measurement the processes are stopped and started afresh for the
 * next step, so that one hang or crash costs one figure, not the rest.
 */
async function runSteps<T>(
  ctx: Ctx,
  config: string,
  steps: { w: Workload; conns: number }[],
  start: () => Promise<T>,
  stop: (t: T) => Promise<void>,
  run: (t: T, w: Workload, conns: number) => Promise<Body>,
): Promise<void> {
  let procs: T | undefined;
  let fresh = false;
  try {
    for (const { w, conns } of steps) {
      if (procs === undefined) {
        try {
          procs = await start();
          fresh = true;
        } catch (e) {
          const error = String((e as Error)?.message ?? e).slice(0, 2000);
          ctx.o.onFailure({ workload: w, config, conns, round: ctx.round, error });
          ctx.progress(`${w} ${config} conns=${conns}: FAILED to start: ${error.split("\n")[0]}`);
          continue;
        }
      }
      const p = procs;
      if (fresh && w !== "bulk" && ctx.o.startWarmS > 0) {
        fresh = false;
        const until = Date.now() + ctx.o.startWarmS * 1000;
        try {
          // Whole phases of the first workload, counted nowhere, until the time has passed.
          for (let i = 0; i < 20 && Date.now() < until; i++) await run(p, w, conns);
        } catch (e) {
          const error = `warm-up: ${String((e as Error)?.message ?? e).slice(0, 2000)}`;
          ctx.o.onFailure({ workload: w, config, conns, round: ctx.round, error });
          ctx.progress(`${w} ${config} conns=${conns}: FAILED in ${error.split("\n")[0]}`);
          procs = undefined;
          await stop(p);
          continue;
        }
      }
      if (!await measure(ctx, w, config, conns, () => run(p, w, conns))) {
        procs = undefined;
        await stop(p);
      }
    }
  } finally {
    if (procs !== undefined) await stop(procs);
  }
}

async function kernelConfig(ctx: Ctx, rt: Runtime, net: "lo" | "veth", path: Path): Promise<void> {
  const js = rt === "bun"
    ? [bunBin, kernelServer]
    : rt === "deno"
    ? [denoBin, "run", "-A", kernelServer]
    : [nodeBin, kernelServer];
  const argv = rt === "c" || rt === "c-busy"
    ? [cServerBin, path.serverAddr, String(echoPort), ...(rt === "c-busy" ? ["--busy"] : [])]
    : [...js, rt, path.serverAddr, String(echoPort)];
  const cmd = nsExec(path.serverNs, serverCpu, argv);
  await runSteps(
    ctx,
    `${rt}-kernel-${net}`,
    plan(ctx.o, ctx.round),
    async () => {
      const server = new Proc("ip", cmd, { stdin: true });
      try {
        await server.waitFor(/READY/);
      } catch (e) {
        await quit(server);
        throw e;
      }
      return server;
    },
    (server) => quit(server),
    async (server, w, conns) => {
      if (server.child.exitCode !== null) throw new Error(`server exited: ${server.tail(1500)}`);
      if (w === "bulk" && ctx.o.bulkWarmBytes > 0) {
        await cClient(path.clientNs, cArgs(ctx.o, "bulkwarm", conns, path), cTimeoutS(ctx.o, w));
      }
      const r = await cClient(path.clientNs, cArgs(ctx.o, w, conns, path), cTimeoutS(ctx.o, w));
      return { ...metricsOf(w, r), notes: notesOf(r) };
    },
  );
}

/**
 * Starts a luna-ts bench process (`script`: {@link lunaServer} or
 * {@link lunaClient}) under `argvPrefix` (taskset, ip netns exec); resolves
 * once it says READY, and stops it if it does not.
 */
export async function startLuna(
  script: string,
  argvPrefix: string[],
  cfg: Record<string, unknown>,
  env: Record<string, string> | undefined = gcLogEnv,
): Promise<Proc> {
  const p = new Proc(argvPrefix[0], [...argvPrefix.slice(1), bunBin, script, JSON.stringify(cfg)], {
    stdin: true,
    env,
  });
  try {
    await p.waitFor(/^READY/m, 0, 30_000, "stdout");
  } catch (e) {
    await quit(p);
    throw e;
  }
  return p;
}

/** The config of a luna-ts bench process at one end of a memif link: the server at .1, the client at .2. */
export function memifEnd(
  role: "server" | "client",
  socket: string,
  mode: Mode,
  prefix: string,
  cpu: string,
  lifetimeS: number,
): Record<string, unknown> {
  const common = { mode, prefix, lcores: `0@${cpu}`, lifetimeS };
  return role === "server"
    ? { device: `memif:${socket},server`, address: "198.18.1.1/24", ...common }
    : { device: `memif:${socket},client`, address: "198.18.1.2/24", server: "198.18.1.1", ...common };
}

/** Waits briefly for stderr to catch up with stdout (the GC log of a forced collection trails its answer). */
async function settleLog(p: Proc): Promise<void> {
  const n = p.stderr.length;
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 10));
    if (p.stderr.length === n && i >= 2) return;
  }
}

let markSeq = 0;
/** Measures the server's heap around `fn`. */
async function withServerHeap<T>(server: Proc, fn: () => Promise<T>): Promise<{ value: T; heap: HeapMarks }> {
  const tag = ++markSeq;
  const logFrom = server.stderr.length;
  const b = JSON.parse(
    (await ask(server, `mark before-${tag}`, new RegExp(`^MARK before-${tag} (.*)$`, "m"), 10_000))[1],
  );
  const value = await fn();
  const a = JSON.parse(
    (await ask(server, `mark after-${tag}`, new RegExp(`^MARK after-${tag} (.*)$`, "m"), 10_000))[1],
  );
  await settleLog(server);
  const gc = gcActivity(server.stderr.slice(logFrom));
  // What the server did in the stretch, to put the allocation per request.
  const work = {
    echoedBytes: a.echoed - b.echoed,
    sunkBytes: a.sunk - b.sunk,
    storageOps: a.storageOps - b.storageOps,
    accepted: a.accepted - b.accepted,
  };
  return { value, heap: { before: b.heap, after: a.heap, afterGc: a.heapAfterGc, gc, work } };
}

/**
 * luna-ts to luna-ts over memif; `jumbo`: jumbo frames on the workloads where
 * segment size matters; `mtu64k`: the same at the loopback-class MTU
 * ({@link loopbackMtu}); `csum`: checksums computed and verified (see {@link csumPlan});
 * `zc`: the server (the end that sends the large answers) is memif's client
 * in zero-copy, on hugepages this reserves for the while (see {@link zcPlan}).
 */
async function memifConfig(
  ctx: Ctx,
  mode: Mode,
  variant?: "jumbo" | "mtu64k" | "csum" | "zc",
): Promise<void> {
  const steps = variant === "jumbo" || variant === "mtu64k"
    ? jumboPlan(ctx.o, ctx.round, mode)
    : variant === "csum"
    ? csumPlan(ctx.o, ctx.round, mode)
    : variant === "zc"
    ? zcPlan(ctx.o, ctx.round, mode)
    : plan(ctx.o, ctx.round, { mode });
  if (steps.length === 0) return;
  const mtu = variant === "jumbo" ? jumboMtu : variant === "mtu64k" ? loopbackMtu : undefined;
  const checksums = variant === "csum" ? "always" : undefined;
  const tag = `${process.pid}-${mode}${variant ?? ""}${ctx.round}`;
  const socket = `/tmp/luna-bench-${tag}.sock`;
  const sp = `luna-bench-${tag}-s`;
  const cp = `luna-bench-${tag}-c`;
  const lifetimeS = 120 + steps.length * (ctx.o.warmupS + ctx.o.measureS + 10) + ctx.o.bulkBytes / 1e7;
  const removeFiles = () => {
    removeEalFiles(sp);
    removeEalFiles(cp);
    rmSync(socket, { force: true });
  };
  // Zero-copy: the server's EAL memory (benchStackConfig's memoryMb) on hugepages, reserved here.
  const pages = variant === "zc"
    ? reserveHugepages(Math.ceil((512 * 1024) / hugepagesFree().sizeKb))
    : undefined;
  const clean = onCleanup(() => {
    removeFiles();
    pages?.release();
  });
  const stop = async ({ server, client }: { server?: Proc; client?: Proc }) => {
    await quit(client);
    await quit(server);
    removeFiles();
  };
  try {
    await runSteps(
      ctx,
      `luna-memif-${variant === undefined ? "" : `${variant}-`}${mode}`,
      steps,
      async () => {
        removeFiles(); // a stale socket would be in the way
        if (variant === "zc") {
          // Roles swapped: the storage server is memif's (zero-copy) client, so the bench's client,
          // memif's server, listens on the socket first.
          const client = await startLuna(lunaClient, ["taskset", "-c", clientCpu], {
            ...memifEnd("client", socket, mode, cp, clientCpu, lifetimeS),
            device: `memif:${socket},server`,
          });
          try {
            const server = await startLuna(lunaServer, ["taskset", "-c", serverCpu], {
              ...memifEnd("server", socket, mode, sp, serverCpu, lifetimeS),
              device: `memif:${socket},client,zero-copy`,
              hugepages: true,
            });
            return { server, client };
          } catch (e) {
            await stop({ client });
            throw e;
          }
        }
        const server = await startLuna(lunaServer, ["taskset", "-c", serverCpu], {
          ...memifEnd("server", socket, mode, sp, serverCpu, lifetimeS),
          mtu,
          checksums,
        });
        try {
          const client = await startLuna(lunaClient, ["taskset", "-c", clientCpu], {
            ...memifEnd("client", socket, mode, cp, clientCpu, lifetimeS),
            mtu,
            checksums,
          });
          return { server, client };
        } catch (e) {
          await stop({ server });
          throw e;
        }
      },
      stop,
      async ({ server, client }, w, conns) => {
        const phase = w === "bulk"
          ? { workload: w, bytes: ctx.o.bulkBytes, warmBytes: ctx.o.bulkWarmBytes, warmS: ctx.o.bulkWarmS }
          : isStorage(w)
          ? {
            workload: "storage",
            resp: storageResp[w],
            conns,
            size: requestBytes,
            warmupS: ctx.o.warmupS,
            measureS: ctx.o.measureS,
          }
          : { workload: w, conns, size: requestBytes, warmupS: ctx.o.warmupS, measureS: ctx.o.measureS };
        const timeoutMs = (w === "bulk" ? 150 : ctx.o.warmupS + ctx.o.measureS + 30) * 1000;
        const logFrom = client.stderr.length;
        const { value: m, heap } = await withServerHeap(
          server,
          () => ask(client, `run ${JSON.stringify(phase)}`, /^(RESULT|FAIL) (.*)$/m, timeoutMs),
        );
        const r = JSON.parse(m[2]);
        if (m[1] === "FAIL") throw new Error(`client: ${r.error}`);
        if (r.heap) {
          // The client's stretch is its measured one; the server's covers the whole phase.
          await settleLog(client);
          r.heap.gc = gcActivity(client.stderr.slice(logFrom));
          r.heap.work = {
            requests: r.requests,
            connections: r.connections,
            bytes: r.workload === "bulk" ? r.bytes : undefined,
          };
        }
        if (w === "bulk" && r.bytes !== ctx.o.bulkBytes) {
          throw new Error(`bulk: sent ${r.bytes} of ${ctx.o.bulkBytes}`);
        }
        return { ...metricsOf(w, r), heap: { server: heap, client: r.heap }, notes: notesOf(r) };
      },
    );
  } finally {
    clean();
  }
}

async function afPacketConfig(ctx: Ctx, mode: Mode): Promise<void> {
  const steps = plan(ctx.o, ctx.round, { mode });
  const af = ctx.lab.afPacket;
  const sp = `luna-bench-${process.pid}-af${mode}${ctx.round}`;
  const clean = onCleanup(() => removeEalFiles(sp));
  try {
    await runSteps(
      ctx,
      `luna-afpacket-${mode}`,
      steps,
      () => {
        removeEalFiles(sp);
        return startLuna(lunaServer, ["ip", ...nsExec(af.serverNs, serverCpu, [])], {
          device: `af_packet:${af.serverIface}`,
          address: af.luna,
          mode,
          prefix: sp,
          lcores: `0@${serverCpu}`,
          lifetimeS: 120 + steps.length * (ctx.o.warmupS + ctx.o.measureS + 10) + ctx.o.bulkBytes / 1e7,
        });
      },
      async (server) => {
        await quit(server);
        removeEalFiles(sp);
      },
      async (server, w, conns) => {
        if (server.child.exitCode !== null) throw new Error(`server exited: ${server.tail(1500)}`);
        if (w === "bulk" && ctx.o.bulkWarmBytes > 0) {
          await cClient(af.clientNs, cArgs(ctx.o, "bulkwarm", conns, af), cTimeoutS(ctx.o, w));
        }
        const { value: r, heap } = await withServerHeap(
          server,
          () => cClient(af.clientNs, cArgs(ctx.o, w, conns, af), cTimeoutS(ctx.o, w)),
        );
        return { ...metricsOf(w, r), heap: { server: heap }, notes: notesOf(r) };
      },
    );
  } finally {
    clean();
  }
}

/**
 * The CPUs of one side of the scaling figures: `workers` CPUs of its own
 * where the machine has 2 x workers of them (server on the upper half),
 * else the side's one CPU as everywhere else (then 2 workers share a core,
 * and the ratio measures their overhead, not scaling).
 */
function scaleCpus(side: "server" | "client", workers: number): string {
  const n = cpus().length;
  if (workers === 1 || n < 2 * workers) return side === "server" ? serverCpu : clientCpu;
  const from = side === "server" ? workers : 0;
  return Array.from({ length: workers }, (_, i) => String(from + i)).join(",");
}

/** Workload 7: luna-ts to luna-ts over memif with `workers` per-core workers a side, the echo loop. */
async function scaleConfig(ctx: Ctx, workers: number): Promise<void> {
  const o = ctx.o;
  const config = `luna-memif-w${workers}`;
  const tag = `${process.pid}-w${workers}r${ctx.round}`;
  const socket = `/tmp/luna-bench-${tag}.sock`;
  const sp = `luna-bench-${tag}-s`;
  const cp = `luna-bench-${tag}-c`;
  const phases = o.scaleConns.map((conns) => ({ conns, size: requestBytes, warmupS: o.warmupS, measureS: o.measureS }));
  const lifetimeS = 60 + phases.length * (o.warmupS + o.measureS + 10);
  const removeFiles = () => {
    removeEalFiles(sp);
    removeEalFiles(cp);
    rmSync(socket, { force: true });
  };
  const clean = onCleanup(removeFiles);
  const scpu = scaleCpus("server", workers);
  const ccpu = scaleCpus("client", workers);
  let server: Proc | undefined;
  let client: Proc | undefined;
  let results: Record<string, unknown>[] = [];
  let error: string | undefined;
  try {
    removeFiles();
    server = new Proc("taskset", ["-c", scpu, bunBin, lunaWorkers, JSON.stringify({
      role: "server",
      device: `memif:${socket},server`,
      address: "198.18.3.1/24",
      workers,
      prefix: sp,
      lcores: `0@${scpu.split(",")[0]}`,
      lifetimeS,
    })], { stdin: true });
    await server.waitFor(/^READY/m, 0, 30_000, "stdout");
    client = new Proc("taskset", ["-c", ccpu, bunBin, lunaWorkers, JSON.stringify({
      role: "client",
      device: `memif:${socket},client`,
      address: "198.18.3.2/24",
      server: "198.18.3.1",
      workers,
      prefix: cp,
      lcores: `0@${ccpu.split(",")[0]}`,
      lifetimeS,
      phases,
    })]);
    const t = setTimeout(() => client?.child.kill("SIGKILL"), lifetimeS * 1000);
    await client.closed;
    clearTimeout(t);
    results = [...client.stdout.matchAll(/^PHASE (.*)$/gm)].map((m) => JSON.parse(m[1]));
    if (results.length < phases.length) error = `client: ${results.length} of ${phases.length} phases: ${client.tail(1500)}`;
  } catch (e) {
    error = String((e as Error)?.message ?? e).slice(0, 2000);
  } finally {
    await quit(client);
    await quit(server);
    removeFiles();
    clean();
  }
  for (let k = 0; k < phases.length; k++) {
    const r = results[k];
    await measure(ctx, "scale", config, phases[k].conns, () => {
      if (r === undefined) return Promise.reject(new Error(error ?? "no result"));
      if (Number(r.errors) > 0) return Promise.reject(new Error(`scale: ${r.errors} answers of wrong lengths`));
      if (!(Number(r.requests) > 0)) return Promise.reject(new Error("scale: no request answered"));
      return Promise.resolve({
        metrics: {
          req_per_s: Number(r.req_per_s),
          p50_us: us(r.p50_ns),
          p99_us: us(r.p99_ns),
          p999_us: us(r.p999_ns),
        },
        notes: { workers, serverCpus: scpu, clientCpus: ccpu, perWorker: r.perWorker, seconds: r.seconds },
      });
    });
  }
}
