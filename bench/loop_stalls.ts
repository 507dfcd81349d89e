/**
 * Where a run-to-completion loop stalls: luna-ts to luna-ts over memif (the
 * bench's server and client, each pinned to a core of its own), the server's
 * and the client's loop modes chosen apart, rounds alternating between the
 * configurations. For each workload it prints requests/s and latency, and
 * the stalls of each side's loop over the measured stretch (see LoopStalls
 * in src/loop/loop.ts: gaps of over 100 µs between polls while frames
 * waited, and the server loop's own yields and naps), so that time lost to
 * the loop itself can be told from time lost to the machine.
 *
 * ```sh
 * node_modules/.bin/bun bench/loop_stalls.ts --configs batch/batch,inline/inline,inline/batch --rounds 3
 * ```
 *
 * Options: `--configs LIST` of SERVER/CLIENT modes (default
 * batch/batch,inline/inline), `--workloads LIST` of echo, storage4k,
 * storage64k and connrate (default echo,storage4k,connrate), `--conns LIST`
 * (default 1,16,256; connrate uses 16), `--seconds S` measured (default 1),
 * `--rounds N` (default 3), `--counters`: also the server's TCP, port and
 * loop counters that moved over the phase, per request (segments each way,
 * large segments, retransmissions and probes, transmit bursts and mbufs the
 * ring refused), and what the client lost in the measured stretch:
 *
 * ```sh
 * node_modules/.bin/bun bench/loop_stalls.ts --configs batch/batch --workloads storage64k --conns 16,256 --rounds 1 --seconds 2 --counters
 * ```
 *
 * @module
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import process from "node:process";
import { clientLossKeys, flagValue as arg } from "./_control.ts";
import { onCleanup, type Proc, removeEalFiles } from "./_proc.ts";
import {
  ask,
  clientCpu,
  lunaClient,
  lunaServer,
  memifEnd,
  type Mode,
  quit,
  serverCpu,
  startLuna,
} from "./tcp.ts";

const configs = arg("configs", "batch/batch,inline/inline").split(",").map((c) =>
  c.split("/") as [Mode, Mode]
);
const workloads = arg("workloads", "echo,storage4k,connrate").split(",");
const connsList = arg("conns", "1,16,256").split(",").map(Number);
const seconds = Number(arg("seconds", "1"));
const rounds = Number(arg("rounds", "3"));
// `--warm S`: before the measured phases, each workload once for S seconds, not shown (the
// runtime's compiler threads share the server's core with the loop while it compiles).
const warmS = Number(arg("warm", "0"));
// `--trace N`: the client's timeline of connection 0's first N measured requests (LUNA_BENCH_TRACE).
const traceN = Number(arg("trace", "0"));
// `--counters`: the server's TCP, port and loop counters that moved, per request, and the client's losses.
const counters = process.argv.includes("--counters");
const traceEnv = traceN > 0
  ? { ...process.env, LUNA_BENCH_TRACE: String(traceN) } as Record<string, string>
  : undefined;

type Stalls = Record<string, number>;
/** The answer's bytes of a storage workload: storage4k, storage64k. */
const storageResp = (w: string) => w === "storage64k" ? 65536 : 4096;
const stallKeys = ["over100us", "over1ms", "over10ms", "ms", "yields", "yieldMs", "naps", "napMs"];

// deno-lint-ignore no-explicit-any
type AnyStats = any;
let lastServerStats: AnyStats;
async function serverStalls(server: Proc): Promise<Stalls> {
  const m = await ask(server, "stats", /^STATS (.*)$/m, 10_000);
  lastServerStats = JSON.parse(m[1]);
  return lastServerStats.loop.stalls as Stalls;
}

/** The numeric counters of `group` (tcp, port, loop, ip.link) that moved between two stats, per request. */
function movedPerReq(a: AnyStats, b: AnyStats, group: string, done: number): string {
  const out: string[] = [];
  const at = (s: AnyStats) => group.split(".").reduce((o, k) => o?.[k], s);
  for (const [k, v] of Object.entries(at(b) ?? {})) {
    const v0 = at(a)?.[k];
    if (typeof v !== "number" || typeof v0 !== "number" || v === v0 || done === 0) continue;
    const d = (v - v0) / done;
    out.push(`${k} ${Math.abs(d) >= 100 ? d.toFixed(0) : d.toPrecision(3)}`);
  }
  return out.join(", ");
}

function delta(a: Stalls, b: Stalls): Stalls {
  return Object.fromEntries(stallKeys.map((k) => [k, Math.round((b[k] - a[k]) * 10) / 10]));
}

/**
 * The threads of process `pid`: CPU ms (user + system) and involuntary context switches (the
 * thread was runnable and another took its core), the main thread apart from the runtime's
 * helpers (JIT compilers, collector), which share the process's one core with it.
 */
function threads(
  pid: number,
): { mainMs: number; mainPreempted: number; helpersMs: number; byName: Map<string, number> } {
  let mainMs = 0, mainPreempted = 0, helpersMs = 0;
  const byName = new Map<string, number>();
  const tick = 1000 / 100; // USER_HZ
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string, status: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    } catch {
      continue; // the thread ended meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ms = (Number(f[11]) + Number(f[12])) * tick; // utime, stime
    if (Number(tid) === pid) {
      mainMs = ms;
      mainPreempted = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } else {
      helpersMs += ms;
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      byName.set(name, (byName.get(name) ?? 0) + ms);
    }
  }
  return { mainMs, mainPreempted, helpersMs, byName };
}

const rows: string[] = [];
async function oneConfig(round: number, [serverMode, clientMode]: [Mode, Mode]): Promise<void> {
  const tag = `${process.pid}-stalls-${serverMode}-${clientMode}-${round}`;
  const socket = `/tmp/luna-bench-${tag}.sock`;
  const sp = `luna-bench-${tag}-s`;
  const cp = `luna-bench-${tag}-c`;
  const removeFiles = () => {
    removeEalFiles(sp);
    removeEalFiles(cp);
    rmSync(socket, { force: true });
  };
  const clean = onCleanup(removeFiles);
  removeFiles();
  let server: Proc | undefined;
  let client: Proc | undefined;
  try {
    server = await startLuna(lunaServer, ["taskset", "-c", serverCpu], {
      ...memifEnd("server", socket, serverMode, sp, serverCpu, 300),
    }, undefined);
    client = await startLuna(lunaClient, ["taskset", "-c", clientCpu], {
      ...memifEnd("client", socket, clientMode, cp, clientCpu, 300),
    }, traceEnv);
    for (const w of warmS > 0 ? workloads : []) {
      const phase = w.startsWith("storage")
        ? { workload: "storage", resp: storageResp(w), conns: 16, size: 64, warmupS: 0, measureS: warmS }
        : { workload: w, conns: 16, size: 64, warmupS: 0, measureS: warmS };
      const m = await ask(
        client,
        `run ${JSON.stringify(phase)}`,
        /^(RESULT|FAIL) (.*)$/m,
        (warmS + 30) * 1000,
      );
      if (m[1] === "FAIL") throw new Error(`client: ${m[2]}`);
    }
    for (const w of workloads) {
      for (const conns of w === "connrate" ? [16] : connsList) {
        // Warm processes (--warm) need no warm-up of their own: the phase is then nearly all
        // measured, and the server's CPU over the phase is nearly all spent on measured requests.
        const warmupS = warmS > 0 ? 0.05 : 0.3;
        const phase = w.startsWith("storage")
          ? { workload: "storage", resp: storageResp(w), conns, size: 64, warmupS, measureS: seconds }
          : { workload: w, conns, size: 64, warmupS, measureS: seconds };
        // The server's stalls cover the whole phase (connect, warm-up, measured stretch, close).
        const s0 = await serverStalls(server);
        const t0 = threads(server.child.pid!);
        const c0 = threads(client.child.pid!).mainMs;
        const wall0 = performance.now();
        const m = await ask(
          client,
          `run ${JSON.stringify(phase)}`,
          /^(RESULT|FAIL) (.*)$/m,
          (seconds + 30) * 1000,
        );
        const st0 = lastServerStats;
        const s1 = await serverStalls(server);
        const st1 = lastServerStats;
        const t1 = threads(server.child.pid!);
        // The share of the phase the server's main thread ran: under 1, the core went elsewhere.
        const wall = performance.now() - wall0;
        const share = (t1.mainMs - t0.mainMs) / wall;
        const clientShare = (threads(client.child.pid!).mainMs - c0) / wall;
        const t1Main = t1.mainMs;
        const r = JSON.parse(m[2]);
        if (m[1] === "FAIL") throw new Error(`client: ${r.error}`);
        const rate = r.req_per_s ?? r.conn_per_s;
        const done = r.requests ?? r.connections;
        // The server's main thread's CPU per request (or connection) measured: an upper bound, the
        // phase's connects, warm-up and closes counted in.
        const serverUs = done > 0 ? ((t1Main - t0.mainMs) * 1000) / done : 0;
        const lat = r.p50_ns !== undefined
          ? `p50 ${(r.p50_ns / 1000).toFixed(1)} p99 ${(r.p99_ns / 1000).toFixed(0)} p999 ${
            (r.p999_ns / 1000).toFixed(0)
          } µs`
          : "";
        const c = r.client?.stalls;
        rows.push(
          `${round} ${serverMode}/${clientMode} ${w} ${conns}: ${Math.round(rate)}/s ${lat}\n` +
            `    server ${JSON.stringify(delta(s0, s1))}\n` +
            `    server threads: main ${t1.mainMs - t0.mainMs} ms (${share.toFixed(2)} of the phase, ${
              serverUs.toFixed(2)
            } µs/req), preempted ${t1.mainPreempted - t0.mainPreempted} times; helpers ${
              t1.helpersMs - t0.helpersMs
            } ms (${
              [...t1.byName].map(([k, v]) => [k, v - (t0.byName.get(k) ?? 0)] as const).filter(([, v]) =>
                v > 0
              )
                .map(([k, v]) => `${k} ${v}`).join(", ")
            })\n` +
            (c !== undefined
              ? `    client ${JSON.stringify(c)} main ${clientShare.toFixed(2)} of the phase, cpu ${
                r.client.cpuUsPerReq.toFixed(2)
              } µs/req, polls ${r.client.pollsPerReq.toFixed(1)}/req`
              : ""),
        );
        if (counters) {
          rows[rows.length - 1] +=
            `\n    server per req (whole phase): tcp: ${movedPerReq(st0, st1, "tcp", done)}\n      port: ${
              movedPerReq(st0, st1, "port", done)
            }\n      loop: ${movedPerReq(st0, st1, "loop", done)}, link: ${
              movedPerReq(st0, st1, "ip.link", done)
            }` +
            `\n    client lost in the measured stretch: ${
              [...clientLossKeys, "txDropped"].map((k) => `${k} ${r[k]}`).join(", ")
            }`;
        }
        console.log(rows[rows.length - 1]);
        if (r.trace !== undefined) console.log(`    trace ${JSON.stringify(r.trace)}`);
      }
    }
  } finally {
    await quit(client);
    await quit(server);
    removeFiles();
    clean();
  }
}

for (let round = 0; round < rounds; round++) {
  for (const c of configs) await oneConfig(round, c);
}
process.exit(0);
