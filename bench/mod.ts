/**
 * `bun run bench`: luna-ts's figures beside their baselines, measured in the
 * same run. Prints progress and tables, writes bench/results/<timestamp>.json
 * (one record per figure: `{ workload, config, conns, metric, value,
 * baseline, baseline_value, ratio, ... }`) and an SVG chart beside it.
 *
 * Workloads (see bench/tcp.ts and bench/forward.ts):
 * - forward64: 64-byte frames forwarded over net_memif, luna-ts (Bun, Deno)
 *   against dpdk-testpmd.
 * - echo: 64-byte echo RPC, closed loop, 1/16/256 connections: requests/s,
 *   p50/p99/p999 latency.
 * - bulk: one connection moving data one way: Gbit/s.
 * - connrate: connect, one 64-byte exchange, close: connections/s.
 * - scale: luna-ts to luna-ts over memif with 1 and 2 per-core workers a
 *   side (src/workers/), the echo loop with 16/256 connections:
 *   requests/s, and the ratio 2 workers / 1 worker.
 * - forward1500: dpdk-testpmd alone at 1500-byte frames: the link's limit.
 * - concurrency: as many established idle connections as the machine takes
 *   (aim: 1,000,000; quick: 20,000), luna-ts to luna-ts over memif, against a
 *   Bun.listen (and node:net) server on loopback holding those the C client
 *   opens (at most what RLIMIT_NOFILE lets one process hold): bytes per
 *   connection on the server side (luna-ts: JS heap after full collections,
 *   and RSS; kernel: the server's RSS plus half the kernel's Slab on loopback),
 *   and the 64-byte echo loop over 1 and 16 active connections with them open
 *   and, in the same processes, before they were opened (bench/concurrency.ts).
 *   Then TIME-WAIT: the server closes first on them (--conc-tw-conns) and
 *   holds as many TIME-WAIT connections: bytes per TIME-WAIT connection
 *   (luna-ts, goal <= 128 B of heap: tw_heap_bytes_per_conn, tw_rss_bytes_per_conn
 *   against the memory before any idle connection, tw_record_bytes_per_conn,
 *   the records' own `stats().timeWait.bytes / count`, and tw_tables_bytes_per_conn,
 *   all of the TCP layer's tables, `tcp.footprint()`; its server's TIME-WAIT
 *   raised to 600 s to measure within it; kernel: `tw_sock_TCP` objsize from
 *   /proc/slabinfo x sockstat's tw count, per connection).
 *   In the first --conc-rounds rounds only.
 * - storage4k, storage64k: storage-shaped RPC, a 64-byte request answered by
 *   4 KiB / 64 KiB, 16 and 256 connections (quick: 16): operations/s, Gbit/s,
 *   p50/p99/p999 latency.
 * - luna-memif-jumbo-*: bulk and storage over memif at MTU 9000 (jumbo
 *   frames, MSS 8960), beside the 1500-byte figures.
 * - luna-memif-mtu64k-*: the same at a loopback-class MTU, 65521 (MSS
 *   65481; the kernel's loopback runs at 65536), which a same-host memif
 *   user can choose: segments of up to 64 KiB go whole, as chains of 9 KiB
 *   buffers. Its bulk figure is compared with Bun over loopback, the like
 *   MTU, not over a veth.
 * - httpget: HTTP GET of a 13-byte body with keep-alive, 16 and 256
 *   connections: serve() (the fetch-handler server) and node:http over
 *   luna-ts/net on luna-ts over memif against Bun.serve on the kernel's
 *   loopback (bench/http_get.ts): requests/s, p50/p99 latency.
 * - luna-memif-csum-*: bulk and storage64k over memif with `checksums:
 *   "always"` (computed and verified as on a link that needs them), in the
 *   first of --modes, against bun-kernel-veth: what the checksum-free
 *   default buys.
 * - luna-memif-zc-*: bulk, storage4k and storage64k over memif in the
 *   first of --modes with the server (the end that sends the storage
 *   answers and receives the bulk) as memif's zero-copy client on hugepages
 *   (the bench reserves 512 MiB of them for the while, as root): one copy
 *   fewer per byte the server sends or receives.
 * - httpwrk (opt-in: --workloads httpwrk): wrk -t1 against Bun.serve on the
 *   kernel, serve() and `luna serve http` on net_af_packet, over one veth, at
 *   1, 32 and 256 connections, keep-alive and `Connection: close`
 *   (bench/http_wrk.ts); about a minute a round.
 * - ecn: DCTCP against CUBIC through a marking queue (the fault injector on
 *   the sender's transmit side: 1 Gbit/s, K 30 KB, 400 KB), luna-ts to luna-ts
 *   over memif: two bulk connections and a 64-byte ping-pong, configurations
 *   dctcp, cubic (no ECN) and cubic-ecn: goodput, the ping's RTT p50/p99/p999
 *   and the queue's occupancy, ratios against cubic (bench/ecn.ts); about 12 s
 *   a round.
 * - lossy (opt-in: --workloads lossy): one transfer of 100 MB (--lossy-mb)
 *   through random loss of 0, 0.1, 1, 2 and 3% (iptables statistic, both
 *   directions, in a router namespace between client and server), with and
 *   without a 200 Mbit/s tc tbf: `luna serve http` on net_af_packet sending
 *   to curl (down), and nc sending to `luna serve discard` (up), against a
 *   node:http / node:net server on the kernel's TCP on the same veth and
 *   address, run one after the other in each round (order alternating):
 *   goodput Mbit/s and the ratio luna-ts / kernel per loss rate; a transfer
 *   past its timeout is recorded as failed with its partial bytes
 *   (bench/lossy.ts). 40 transfers a round, about 5 minutes at 100 MB on
 *   two cores: three rounds would take the full run past 20 minutes.
 * - lossyrpc (opt-in: --workloads lossyrpc): storage RPC (16 connections,
 *   64-byte requests, 64 KiB answers, the C client) through the same router
 *   and loss rates, luna-ts (bench/luna_server.ts on net_af_packet) against
 *   the C epoll server on the kernel on the same veth and address: ops/s and
 *   request completion p50/p99/p999 per loss rate (bench/lossy_rpc.ts);
 *   about 4 minutes a round.
 * Each over luna-ts (memif between two processes; net_af_packet on a veth)
 * and the kernel (Bun, Deno and node:net servers on loopback and on a veth,
 * and the kernel at its best: a C epoll server, plain and busy-polling, the
 * second baseline of every ratio), in private network namespaces that are
 * removed afterwards.
 *
 * Options:
 *   --quick              one short round of everything (3.7 minutes measured on a busy 2-core machine)
 *   --rounds N           rounds of each configuration (default 3; quick 1): 437 measurements, of
 *                        which the C servers take 108 (--runtimes bun,deno,node leaves them out)
 *   --seconds S          measured seconds per figure (default 2; quick 0.5)
 *   --warmup S           warm-up seconds before each (default 0.5; quick 0.2)
 *   --start-warm S       seconds a fresh server/client pair runs its first workload unmeasured
 *                        (default 2; quick 0): a new process compiles its hot path first
 *   --bulk-mb N          bytes of the bulk transfer, MiB (default 1024; quick 256)
 *   --bulk-warm-mb N     bytes of an untimed transfer just before it, on the same processes, MiB
 *                        (default 256, or --bulk-mb if less; 0: none): a cold process spends its
 *                        first seconds compiling the byte path
 *   --bulk-warm-s S      luna-ts repeats that transfer until S seconds have passed (default 2;
 *                        quick 1)
 *   --bulk-rounds N      bulk in the first N rounds only (default 3)
 *   --only LIST          groups: forward,kernel,memif,afpacket,scale (default all)
 *   --workloads LIST     echo,bulk,connrate,storage4k,storage64k,concurrency,httpget,ecn,lossy,lossyrpc,
 *                        httpwrk (default all but lossy, lossyrpc and httpwrk, which are opt-in: they would take the
 *                        full run past 20 minutes)
 *   --lossy-mb N         lossy: bytes of each transfer, MB of 10^6 (default 100; quick 10)
 *   --conc-conns N       idle connections luna-ts holds (default 1000000; quick 20000)
 *   --conc-kernel-conns N   idle connections a kernel server holds (default min(N, 100000); quick
 *                        20000), at most the descriptor limit of one process less 1000
 *   --conc-rounds N      concurrency in the first N rounds only (default 1)
 *   --conc-runtimes LIST kernel servers of the concurrency baseline (default bun,node; quick bun)
 *   --conc-tw-conns N    concurrency, TIME-WAIT phase: connections the server closes first
 *                        (default: all it holds idle, so the luna-ts and kernel counts; 0: none)
 *   --runtimes LIST      kernel servers: bun,deno,node,c,c-busy (default all; c: the C epoll server
 *                        of bench/c/epoll_server.c, c-busy: the same busy-polling)
 *   --modes LIST         luna-ts loops: batch,inline (default both)
 *   --forwarders LIST    forward64: bun,deno (testpmd always runs; default both)
 *   --from FILE.json     print the tables of an earlier run and redraw its chart
 *
 * Environment: LUNA_BENCH_GSO=off runs luna-ts without large segments
 * (tcp.segmentationOffload false), for comparison with the default;
 * LUNA_BENCH_GRO=off without receive coalescing (receiveOffload false).
 * LUNA_BENCH_LOSS=rfc6675 runs luna-ts with the RFC 6675 scoreboard alone
 * (tcp.lossDetection; default rack, RACK-TLP), to compare the two.
 * LUNA_LOSSY_RATES (percents, e.g. 1,2,3), LUNA_LOSSY_TBF (off,on) and
 * LUNA_LOSSY_DIRS (down,up) run a part of the lossy workload, to look at one
 * case (bench/lossy.ts); the rates and LUNA_LOSSY_TBF apply to lossyrpc too.
 * LUNA_ECN_RATE_MBIT, LUNA_ECN_K and LUNA_ECN_QUEUE change the ecn workload's
 * marking queue (bench/ecn.ts).
 *
 * Where the time of a bulk transfer goes (ns per segment in JavaScript and
 * in the shim, sender and receiver): bench/profile_bulk.ts.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { cleanupAll } from "./_proc.ts";
import { type BenchRecord, cdfs, forwardTable, records, resultsChart, tables } from "./_report.ts";
import { spread } from "./_stats.ts";
import { payloadTouches, touchesLines } from "./_touches.ts";
import { forwardBench, type ForwardResult } from "./forward.ts";
import { httpGetBench, httpGetTable } from "./http_get.ts";
import { httpWrkBench, httpWrkTable } from "./http_wrk.ts";
import {
  countSteps,
  type Failure,
  type Group,
  type Mode,
  type Runtime,
  type Sample,
  tcpBench,
  type TcpOptions,
  type Workload,
} from "./tcp.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function list<T extends string>(name: string, all: readonly T[]): T[] {
  const v = arg(name);
  if (v === undefined) return [...all];
  const xs = v.split(",").filter((x) => x.length > 0);
  const bad = xs.filter((x) => !all.includes(x as T));
  if (bad.length > 0) usage(`${name}: unknown ${bad.join(", ")} (known: ${all.join(", ")})`);
  return xs as T[];
}

function usage(why: string): never {
  console.error(`bench: ${why}`);
  console.error(
    "usage: bench [--quick] [--rounds 1..20] [--seconds 0.2..60] [--warmup 0..10] [--start-warm 0..30] [--bulk-mb 1..8192]\n" +
      "             [--bulk-warm-mb 0..8192] [--bulk-warm-s 0..60] [--bulk-rounds N]\n" +
      "             [--only forward,kernel,memif,afpacket,scale]\n" +
      "             [--workloads echo,bulk,connrate,storage4k,storage64k,concurrency,httpget,ecn,lossy,lossyrpc,httpwrk] [--lossy-mb N]\n" +
      "             [--runtimes bun,deno,node,c,c-busy] [--modes batch,inline] [--forwarders bun,deno]\n" +
      "             [--conc-conns N] [--conc-kernel-conns N] [--conc-rounds N] [--conc-runtimes bun,deno,node]\n" +
      "             [--conc-tw-conns N]",
  );
  process.exit(2);
}

const quick = process.argv.includes("--quick");
const rounds = Number(arg("--rounds") ?? (quick ? 1 : 3));
const measureS = Number(arg("--seconds") ?? (quick ? 0.5 : 2));
const warmupS = Number(arg("--warmup") ?? (quick ? 0.2 : 0.5));
const startWarmS = Number(arg("--start-warm") ?? (quick ? 0 : 2));
const bulkMb = Number(arg("--bulk-mb") ?? (quick ? 256 : 1024));
const bulkWarmMb = Number(arg("--bulk-warm-mb") ?? Math.min(bulkMb, 256));
const bulkRounds = Math.min(rounds, Number(arg("--bulk-rounds") ?? 3));
if (!(rounds >= 1 && rounds <= 20 && Number.isInteger(rounds))) usage("--rounds: 1..20");
if (!(measureS >= 0.2 && measureS <= 60)) usage("--seconds: 0.2..60");
if (!(warmupS >= 0 && warmupS <= 10)) usage("--warmup: 0..10");
if (!(startWarmS >= 0 && startWarmS <= 30)) usage("--start-warm: 0..30");
if (!(bulkMb >= 1 && bulkMb <= 8192)) usage("--bulk-mb: 1..8192");
if (!(bulkWarmMb >= 0 && bulkWarmMb <= 8192)) usage("--bulk-warm-mb: 0..8192");
const bulkWarmS = Number(arg("--bulk-warm-s") ?? (quick ? 1 : 2));
if (!(bulkWarmS >= 0 && bulkWarmS <= 60)) usage("--bulk-warm-s: 0..60");
if (!(bulkRounds >= 1 && Number.isInteger(bulkRounds))) usage("--bulk-rounds: 1..rounds");
const groups = list("--only", ["forward", "kernel", "memif", "afpacket", "scale"] as const);
// lossy is opt-in: its three rounds of 40 transfers of 100 MB would take the full run past 20 minutes.
const workloads = list<Workload>("--workloads", [
  "echo",
  "bulk",
  "connrate",
  "storage4k",
  "storage64k",
  "concurrency",
  "lossy",
  "lossyrpc",
  "httpget",
  "httpwrk",
  "ecn",
]).filter((w) => arg("--workloads") !== undefined || (w !== "lossy" && w !== "lossyrpc" && w !== "httpwrk"));
const lossyMb = Number(arg("--lossy-mb") ?? (quick ? 10 : 100));
if (!(lossyMb >= 1 && lossyMb <= 8192)) usage("--lossy-mb: 1..8192");
const runtimes = list<Runtime>("--runtimes", ["bun", "deno", "node", "c", "c-busy"]);
const concConns = Number(arg("--conc-conns") ?? (quick ? 20_000 : 1_000_000));
const concKernelConns = Number(arg("--conc-kernel-conns") ?? Math.min(concConns, quick ? 20_000 : 100_000));
const concRounds = Math.min(rounds, Number(arg("--conc-rounds") ?? 1));
// TIME-WAIT phase of the concurrency workload: the server closes first on this many (default: all idle ones).
const concTwArg = arg("--conc-tw-conns");
const concTwConns = concTwArg === undefined ? undefined : Number(concTwArg);
if (concTwConns !== undefined && !(concTwConns >= 0 && Number.isInteger(concTwConns))) {
  usage("--conc-tw-conns: 0 (no TIME-WAIT phase) or more");
}
// Kernel servers of the concurrency baseline (each holds its own set of idle connections): Bun and
// node:net; Deno where asked (its server as written reads into 64 KiB per connection and accepts slowly).
const concRuntimes = (arg("--conc-runtimes") === undefined
  ? (quick ? ["bun"] : ["bun", "node"]) as Runtime[]
  : list<Runtime>("--conc-runtimes", [
  "bun",
  "deno",
  "node",
])).filter((r) => runtimes.includes(r));
if (!(concConns >= 1 && concConns <= 4_000_000 && Number.isInteger(concConns))) usage("--conc-conns: 1..4000000");
if (!(concKernelConns >= 1 && concKernelConns <= 1_000_000 && Number.isInteger(concKernelConns))) {
  usage("--conc-kernel-conns: 1..1000000");
}
if (!(concRounds >= 1 && Number.isInteger(concRounds))) usage("--conc-rounds: 1..rounds");
const modes = list<Mode>("--modes", ["batch", "inline"]);
const forwarders = list("--forwarders", ["bun", "deno"] as const);

// --from FILE.json: print the tables of an earlier run and redraw its chart.
const from = arg("--from");
if (from !== undefined) {
  const r = JSON.parse(readFileSync(from, "utf8")) as {
    records: BenchRecord[];
    cdfs: Parameters<typeof resultsChart>[1];
    bulkBytes: number;
  };
  console.log(forwardTable(r.records));
  console.log(tables(r.records.filter((x) => !x.workload.startsWith("forward"))));
  console.log(touchesLines(r.records.map((x) => x.config)).join("\n"));
  const out = from.replace(/\.json$/, "") + ".svg";
  writeFileSync(out, resultsChart(r.records, r.cdfs ?? [], r.bulkBytes ?? 0));
  console.log(`\nwrote ${out}`);
  process.exit(0);
}

// ^C or a kill: stop the children (they share our process group and get the
// signal too), then remove namespaces, sockets and EAL directories.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, cleaning up`);
    cleanupAll();
    process.exit(130);
  });
}

/** CPU time counters of the whole machine, for the steal and load seen during the run. */
function cpuTimes(): number[] {
  try {
    return readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return [];
  }
}
const version = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim().split("\n")[0] : "unknown";
};

// The shim must match the sources (it refuses to load otherwise): build it
// if it is missing or stale, as `make bench` does.
if (groups.some((g) => g !== "kernel")) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const r = spawnSync("make", ["-s", "-C", root, "shim"], { encoding: "utf8" });
  if (r.status !== 0) {
    console.error(`bench: make shim failed:\n${r.stdout}${r.stderr}`);
    process.exit(1);
  }
}

const started = new Date();
const cpu0 = cpuTimes();
const load0 = loadavg();
const tcpOptions: TcpOptions = {
  rounds,
  warmupS,
  startWarmS,
  measureS,
  bulkBytes: Math.round(bulkMb * (1 << 20)),
  bulkWarmBytes: Math.round(bulkWarmMb * (1 << 20)),
  bulkWarmS,
  echoConns: [1, 16, 256],
  scaleConns: [16, 256],
  scaleWorkers: [1, 2],
  storageConns: quick ? [16] : [16, 256],
  connrateConns: 16,
  concConns,
  concKernelConns,
  concActive: [1, 16],
  concRounds,
  concRuntimes,
  concTwConns,
  lossyBytes: Math.round(lossyMb * 1e6),
  groups: groups.filter((g): g is Group => g !== "forward"),
  workloads,
  runtimes,
  modes,
  bulkModes: modes,
  bulkRounds,
  onSample: (s) => samples.push(s),
  onFailure: (f) => failures.push(f),
  onProgress: (m) => console.log(`  ${m}`),
};
const samples: Sample[] = [];
const failures: Failure[] = [];
console.log(
  `luna-ts bench: ${rounds} round(s), ${measureS} s measured after ${warmupS} s warm-up ` +
    `(a fresh process pair: ${startWarmS} s more), bulk ${bulkMb} MiB` +
    `${quick ? " (quick)" : ""}; ${countSteps(tcpOptions)} TCP measurements` +
    `${groups.includes("forward") ? ` + ${(2 + forwarders.length) * rounds} forwarding` : ""}`,
);

let fwd: ForwardResult[] = [];
if (groups.includes("forward")) {
  try {
    fwd = await forwardBench({
      rounds,
      measureS: quick ? 1 : measureS,
      only: ["testpmd", ...forwarders],
      testpmdSizes: [1500],
      onProgress: (m) => console.log(`  ... ${m}`),
    });
  } catch (e) {
    failures.push({
      workload: "forward64",
      config: "-",
      conns: 0,
      round: -1,
      error: String((e as Error)?.message ?? e),
    });
    console.log(`  forward64 FAILED: ${String((e as Error)?.message ?? e).split("\n")[0]}`);
  }
}
if (tcpOptions.groups.length > 0 && workloads.length > 0) await tcpBench(tcpOptions);
// httpget (bench/http_get.ts): serve() and node:http on luna-ts against Bun.serve on the kernel.
if (workloads.includes("httpget") && groups.includes("memif")) {
  await httpGetBench({ ...tcpOptions, conns: [16, 256] });
}
// httpwrk (bench/http_wrk.ts, opt-in): wrk against serve(), `luna serve http` and Bun.serve over a veth.
if (workloads.includes("httpwrk")) {
  try {
    await httpWrkBench({ ...tcpOptions, conns: [1, 32, 256], mode: modes[0] });
  } catch (e) {
    const error = String((e as Error)?.message ?? e);
    failures.push({ workload: "httpwrk", config: "-", conns: 0, round: -1, error });
    console.log(`  httpwrk FAILED: ${error.split("\n")[0]}`);
  }
}

// ------------------------------------------------------------------ figures

const recs: BenchRecord[] = [];
const fbase = fwd.find((r) => r.runtime === "c" && r.frameBytes === 64);
for (
  const [metric, pick] of [["pps", (r: ForwardResult) => r.pps], [
    "pps_max",
    (r: ForwardResult) => r.ppsMax,
  ]] as const
) {
  for (const r of fwd.filter((x) => x.frameBytes === 64)) {
    const sp = spread(r.rounds);
    recs.push({
      workload: "forward64",
      config: r.config,
      conns: null,
      metric,
      value: Math.round(pick(r)),
      baseline: fbase?.config ?? null,
      baseline_value: fbase ? Math.round(pick(fbase)) : null,
      ratio: fbase ? Number((pick(r) / pick(fbase)).toFixed(3)) : null,
      rounds: r.rounds.map(Math.round),
      min: Math.round(sp.min),
      max: Math.round(sp.max),
      spread: Number(sp.rel.toFixed(3)),
    });
  }
}
// The link's limit at full-size frames: dpdk-testpmd alone, packets/s and the Gbit/s they carry.
for (const r of fwd.filter((x) => x.frameBytes !== 64)) {
  const sp = spread(r.rounds);
  const gbit = (pps: number) => Number(((pps * r.frameBytes * 8) / 1e9).toFixed(3));
  for (
    const [metric, value, rs, min, max] of [
      ["pps", Math.round(r.pps), r.rounds.map(Math.round), Math.round(sp.min), Math.round(sp.max)],
      ["pps_max", Math.round(r.ppsMax), r.rounds.map(Math.round), Math.round(sp.min), Math.round(sp.max)],
      ["gbit_per_s", gbit(r.pps), r.rounds.map(gbit), gbit(sp.min), gbit(sp.max)],
    ] as const
  ) {
    recs.push({
      workload: `forward${r.frameBytes}`,
      config: r.config,
      conns: null,
      metric,
      value,
      baseline: null,
      baseline_value: null,
      ratio: null,
      rounds: [...rs],
      min,
      max,
      spread: Number(sp.rel.toFixed(3)),
    });
  }
}
const tcpRecs = records(samples);
recs.push(...tcpRecs);

console.log(forwardTable(recs));
for (const r of recs.filter((x) => x.workload.startsWith("forward") && x.workload !== "forward64" && x.metric === "pps")) {
  const g = recs.find((x) => x.workload === r.workload && x.metric === "gbit_per_s");
  console.log(
    `${r.workload.slice(7)}-byte frames, ${r.config} (the link's limit): ${(r.value / 1e6).toFixed(2)} Mpps median, ` +
      `${g?.value.toFixed(1)} Gbit/s, rounds ${r.rounds.map((v) => (v / 1e6).toFixed(2)).join(" ")}`,
  );
}
console.log(tables(tcpRecs));
console.log(httpGetTable(tcpRecs));
console.log(httpWrkTable(tcpRecs));
const configs = [...new Set(tcpRecs.map((r) => r.config))];
console.log(touchesLines(configs).join("\n"));
if (failures.length > 0) {
  console.log(`\n${failures.length} measurement(s) failed:`);
  for (const f of failures) {
    console.log(
      `  ${f.workload} ${f.config} conns=${f.conns} round ${f.round + 1}: ${f.error.split("\n")[0]}`,
    );
  }
}

// ------------------------------------------------------------------ files

const cpu1 = cpuTimes();
const d = cpu1.map((x, i) => x - (cpu0[i] ?? 0));
const dTotal = d.reduce((a, b) => a + b, 0);
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cpus: cpus().length,
  memory_gib: Number((totalmem() / 2 ** 30).toFixed(1)),
  kernel: release(),
  runtime: typeof g.Bun !== "undefined" ? `bun ${g.Bun.version}` : `deno ${g.Deno?.version?.deno}`,
  bun: version(fileURLToPath(new URL("../node_modules/.bin/bun", import.meta.url)), ["--version"]),
  deno: version(fileURLToPath(new URL("../node_modules/.bin/deno", import.meta.url)), ["--version"]),
  node: version("/usr/bin/node", ["--version"]),
  gcc: version("gcc", ["-dumpfullversion"]),
  dpdk: version("pkg-config", ["--modversion", "libdpdk"]),
  loadavg_start: load0.map((x) => Number(x.toFixed(2))),
  loadavg_end: loadavg().map((x) => Number(x.toFixed(2))),
  // Over the whole run: time stolen by the hypervisor, and time the CPUs were busy (ours included).
  steal_pct: dTotal > 0 ? Number(((100 * (d[7] ?? 0)) / dTotal).toFixed(1)) : null,
  busy_pct: dTotal > 0 ? Number((100 - (100 * ((d[3] ?? 0) + (d[4] ?? 0))) / dTotal).toFixed(1)) : null,
  pinning: "servers on CPU 1, clients on CPU 0 (taskset; luna-ts EAL lcore likewise)",
};
const dir = fileURLToPath(new URL("./results/", import.meta.url));
mkdirSync(dir, { recursive: true });
const stamp = started.toISOString().replace(/[:.]/g, "-");
const json = `${dir}${stamp}.json`;
const cdfList = cdfs(samples);
writeFileSync(
  json,
  JSON.stringify(
    {
      started: started.toISOString(),
      finished: new Date().toISOString(),
      machine,
      quick,
      rounds,
      measureS,
      warmupS,
      startWarmS,
      bulkBytes: tcpOptions.bulkBytes,
      bulkRounds,
      lossyBytes: workloads.includes("lossy") ? tcpOptions.lossyBytes : undefined,
      baselines:
        "echo/connrate: bun-kernel-lo for loopback and memif, bun-kernel-veth for veth and af_packet; " +
        "bulk: bun-kernel-veth for memif and veth, bun-kernel-lo for loopback and memif at the loopback MTU " +
        "(luna-memif-mtu64k); forward64: testpmd-memif; " +
        "storage4k/storage64k: as echo; scale: luna-memif-w1 (the ratio is 2 workers / 1 worker); " +
        "lossy: node-kernel-routed (node:http and node:net on the kernel's TCP, same veth, address and router) " +
        "for af_packet, node-kernel-routed-offloads (the same with every veth's offloads on) for packet:; " +
        "lossyrpc: c-kernel-routed (the C epoll server on the kernel's TCP, same veth, address and router) " +
        "for af_packet, c-kernel-routed-offloads for packet:; " +
        "forward1500: none (testpmd alone, the link's limit at full-size frames); " +
        "ecn: cubic (CUBIC without ECN through the same marking queue, same round and processes); " +
        "concurrency: bun-kernel-lo, idle connections against idle connections (each side's own count, " +
        "baseline_conns), without against without (conns 0); no_idle_value: the same configuration without " +
        "them; second baseline (c_baseline, c_ratio), the kernel at its best: c-busy-kernel-lo where the " +
        "baseline is " +
        "bun-kernel-lo, c-busy-kernel-veth where it is bun-kernel-veth (the busy-polling C epoll server)",
      records: recs,
      // Per configuration, how many times each payload byte is touched per side (bench/_touches.ts).
      touches: Object.fromEntries(configs.flatMap((c) => {
        const t = payloadTouches(c);
        return t === undefined ? [] : [[c, t]];
      })),
      cdfs: cdfList,
      failures,
      samples: samples.map(({ cdf: _cdf, ...s }) => s),
    },
    null,
    2,
  ),
);

const svg = `${dir}${stamp}.svg`;
writeFileSync(svg, resultsChart(recs, cdfList, tcpOptions.bulkBytes));
console.log(`\nwrote ${json}\nwrote ${svg}`);
process.exit(failures.length > 0 ? 1 : 0);
