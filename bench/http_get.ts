/**
 * The httpget workload of `bun run bench`: HTTP GET of a 13-byte body with
 * keep-alive, closed loop, 16 and 256 connections, requests/s and latency.
 *
 *   bun-kernel-lo            Bun.serve on the kernel's loopback (in a private
 *                            namespace), driven by the C client (bench/c,
 *                            --mode http): the baseline
 *   luna-serve-memif-MODE    serve() (src/web/serve.ts) on a luna-ts stack,
 *                            driven by a luna-ts client over memif
 *                            (bench/http_client.ts), MODE batch or inline
 *   luna-nodehttp-memif-MODE node:http on luna-ts/net sockets (listenNode), same
 *                            processes, port 8080
 *   luna-app-memif-MODE      the app of `luna serve http` (src/apps/http.ts), same
 *                            processes, port 81, GET /bytes/13 (13 bytes too)
 *
 * Servers on CPU 1, clients on CPU 0, as in the other workloads; each round
 * runs every configuration once, in an order that alternates between rounds
 * (the three luna-ts servers, after an unmeasured run of each, in an order
 * that turns), and each figure is the median of its rounds (ratios against
 * the baseline of the same run, in bench/_report.ts).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { onCleanup, Proc, removeEalFiles } from "./_proc.ts";
import { type BenchRecord, recordOf } from "./_report.ts";
import {
  ask,
  buildClient,
  bunBin,
  cClient,
  clientCpu,
  type Failure,
  memifEnd,
  type Mode,
  nsExec,
  quit,
  type Sample,
  serverCpu,
  startLuna,
} from "./tcp.ts";

export interface HttpGetOptions {
  rounds: number;
  warmupS: number;
  measureS: number;
  conns: number[];
  modes: Mode[];
  onSample: (s: Sample) => void;
  onFailure: (f: Failure) => void;
  onProgress: (msg: string) => void;
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const serverScript = here("./http_server.ts");
const clientScript = here("./http_client.ts");
const kernelPort = 8000;

function metrics(r: Record<string, unknown>): Record<string, number> {
  if (Number(r.errors) > 0) throw new Error(`${r.errors} answers with a wrong length or last byte`);
  if (!(Number(r.requests) > 0)) throw new Error("no request answered in the measured stretch");
  return {
    req_per_s: Number(r.req_per_s),
    p50_us: Number(r.p50_ns) / 1000,
    p99_us: Number(r.p99_ns) / 1000,
    p999_us: Number(r.p999_ns) / 1000,
  };
}

/** Runs the workload; samples and failures go to the callbacks. */
export async function httpGetBench(o: HttpGetOptions): Promise<void> {
  buildClient();
  const ns = `luna-bench-http-${process.pid}`;
  const removeNs = () => {
    try {
      execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    } catch {
      // not there
    }
  };
  removeNs();
  execFileSync("ip", ["netns", "add", ns]);
  const clean = onCleanup(removeNs);
  try {
    execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
    for (let round = 0; round < o.rounds; round++) {
      const configs: (() => Promise<void>)[] = [
        () => kernel(o, ns, round),
        ...o.modes.map((m) => () => luna(o, m, round)),
      ];
      if (round % 2 === 1) configs.reverse();
      for (const c of configs) await c();
    }
  } finally {
    clean();
  }
}

async function record(
  o: HttpGetOptions,
  config: string,
  conns: number,
  round: number,
  fn: () => Promise<Record<string, unknown>>,
): Promise<void> {
  const what = `httpget ${config} conns=${conns} round ${round + 1}/${o.rounds}`;
  try {
    const r = await fn();
    const m = metrics(r);
    o.onSample({ workload: "httpget", config, conns, round, metrics: m, notes: { resp: r.resp } });
    o.onProgress(
      `${what}: ${(m.req_per_s / 1000).toFixed(1)}k req/s, p50 ${m.p50_us.toFixed(1)} µs, p99 ${
        m.p99_us.toFixed(0)
      } µs`,
    );
  } catch (e) {
    const error = String((e as Error)?.message ?? e).slice(0, 2000);
    o.onFailure({ workload: "httpget", config, conns, round, error });
    o.onProgress(`${what}: FAILED ${error.split("\n")[0]}`);
  }
}

async function kernel(o: HttpGetOptions, ns: string, round: number): Promise<void> {
  const server = new Proc(
    "ip",
    nsExec(ns, serverCpu, [bunBin, serverScript, "kernel", "127.0.0.1", String(kernelPort)]),
    { stdin: true },
  );
  try {
    await server.waitFor(/READY/);
    for (const conns of o.conns) {
      await record(o, "bun-kernel-lo", conns, round, () =>
        cClient(ns, [
          "--mode",
          "http",
          "--addr",
          "127.0.0.1",
          "--port",
          String(kernelPort),
          "--conns",
          String(conns),
          "--warmup",
          String(o.warmupS),
          "--duration",
          String(o.measureS),
        ], o.warmupS + o.measureS + 30));
    }
  } catch (e) {
    o.onFailure({ workload: "httpget", config: "bun-kernel-lo", conns: 0, round, error: String(e) });
    o.onProgress(`httpget bun-kernel-lo: FAILED to start: ${String(e).split("\n")[0]}`);
  } finally {
    await quit(server);
  }
}

async function luna(o: HttpGetOptions, mode: Mode, round: number): Promise<void> {
  const tag = `${process.pid}-http-${mode}${round}`;
  const socket = `/tmp/luna-bench-${tag}.sock`;
  const sp = `luna-bench-${tag}-s`;
  const cp = `luna-bench-${tag}-c`;
  const lifetimeS = 120 + 3 * o.conns.length * (o.warmupS + o.measureS + 10);
  const removeFiles = () => {
    removeEalFiles(sp);
    removeEalFiles(cp);
    rmSync(socket, { force: true });
  };
  const clean = onCleanup(removeFiles);
  let server: Proc | undefined;
  let client: Proc | undefined;
  try {
    removeFiles();
    server = await startLuna(serverScript, ["taskset", "-c", serverCpu], {
      ...memifEnd("server", socket, mode, sp, serverCpu, lifetimeS),
    }, {});
    client = await startLuna(clientScript, ["taskset", "-c", clientCpu], {
      ...memifEnd("client", socket, mode, cp, clientCpu, lifetimeS),
    }, {});
    const servers = [
      [`luna-serve-memif-${mode}`, 80, "/hello"],
      [`luna-nodehttp-memif-${mode}`, 8080, "/hello"],
      [`luna-app-memif-${mode}`, 81, "/bytes/13"],
    ] as const;
    // Both processes are fresh: the server measured first would pay for the JIT compiling both
    // sides' code, whose threads take this 2-core machine's CPUs from the measured ones. So every
    // server is exercised once, unmeasured, before any is measured, and the order turns each round.
    for (const [, port, path] of servers) {
      const phase = { port, conns: Math.max(...o.conns), warmupS: o.warmupS, measureS: 0.2, path };
      await ask(client, `run ${JSON.stringify(phase)}`, /^(RESULT|FAIL) (.*)$/m, (o.warmupS + 30) * 1000);
    }
    const turn = round % servers.length;
    for (const [config, port, path] of [...servers.slice(turn), ...servers.slice(0, turn)]) {
      for (const conns of o.conns) {
        const phase = { port, conns, warmupS: o.warmupS, measureS: o.measureS, path };
        await record(o, config, conns, round, async () => {
          const m = await ask(
            client!,
            `run ${JSON.stringify(phase)}`,
            /^(RESULT|FAIL) (.*)$/m,
            (o.warmupS + o.measureS + 30) * 1000,
          );
          const r = JSON.parse(m[2]);
          if (m[1] === "FAIL") throw new Error(`client: ${r.error}`);
          return r;
        });
      }
    }
  } catch (e) {
    o.onFailure({ workload: "httpget", config: `luna-memif-${mode}`, conns: 0, round, error: String(e) });
    o.onProgress(`httpget luna-memif-${mode}: FAILED to start: ${String(e).split("\n")[0]}`);
  } finally {
    await quit(client);
    await quit(server);
    clean();
  }
}

/** The table of the workload's figures (medians, ratios to bun-kernel-lo). */
export function httpGetTable(recs: BenchRecord[]): string {
  const rs = recs.filter((r) => r.workload === "httpget" && r.metric === "req_per_s");
  if (rs.length === 0) return "";
  const find = (config: string, conns: number | null, metric: string) =>
    recordOf(recs, "httpget", config, conns, metric);
  const lines = [
    "",
    "httpget: GET of a 13-byte body, keep-alive, closed loop (median of rounds; ratio to bun-kernel-lo, Bun.serve)",
    "conns".padStart(5) + "  " + "config".padEnd(26) + "req/s".padStart(9) + "  ratio" + "  p50 µs" +
    "  ratio" +
    "  p99 µs",
  ];
  for (const r of [...rs].sort((a, b) => (a.conns ?? 0) - (b.conns ?? 0))) {
    const p50 = find(r.config, r.conns, "p50_us");
    const p99 = find(r.config, r.conns, "p99_us");
    const ratio = (x: number | null | undefined) => (x == null ? "-" : x.toFixed(2));
    lines.push(
      String(r.conns).padStart(5) + "  " + r.config.padEnd(26) + r.value.toFixed(0).padStart(9) +
        ratio(r.ratio).padStart(7) + (p50?.value.toFixed(1) ?? "-").padStart(8) +
        ratio(p50?.ratio).padStart(7) +
        (p99?.value.toFixed(0) ?? "-").padStart(8),
    );
  }
  return lines.join("\n");
}
