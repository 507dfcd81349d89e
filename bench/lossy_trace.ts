/**
 * A look inside one lossy transfer (not a figure of the bench): `luna serve
 * http` over af_packet (or `packet:`, its network's offloads on, as
 * bench/lossy.ts builds it) in the lab of bench/lossy.ts, curl downloading through
 * the router's random loss, and the connection as `luna conns` shows it
 * sampled every few milliseconds through the control socket: cwnd, ssthresh, bytes in
 * flight, the send queue, the peer's window, SRTT and, with BBR, the state,
 * pacing rate and bandwidth estimate. After each transfer, what the server's
 * poller and the kernel's softirq thread of its CPU (ksoftirqd, which carries
 * the path's packets when the kernel defers them) spent on and waiting for
 * that CPU (schedstat); at the end, the server's loss-recovery counters.
 *
 *   bun bench/lossy_trace.ts [--congestion cubic|bbr] [--loss 0,0.1,3] [--mb 50]
 *                            [--reps 2] [--sample-ms 20] [--device af_packet|packet]
 *
 * Loss rates are in percent. Which way to read it: `inflight` equal to
 * `sendq` for long stretches means nothing is queued behind what is in
 * flight (the send buffer is the limit); `inflight` near `cwnd` with
 * `sendq` above it, the window; a long run of one unchanged `inflight`
 * at the end, a tail waiting for a timer.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { request } from "../src/control/client.ts";
import type { ConnRow } from "../src/control/conns.ts";
import { sh } from "./_net.ts";
import { onCleanup, Proc, removeEalFiles, sleep } from "./_proc.ts";
import { buildNet, serverAddr, shape } from "./lossy.ts";
import { bunBin, clientCpu, serverCpu } from "./tcp.ts";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const congestion = arg("--congestion", "cubic");
if (congestion !== "cubic" && congestion !== "bbr") {
  throw new Error(`--congestion: cubic or bbr, got ${congestion}`);
}
const device = arg("--device", "af_packet");
if (device !== "af_packet" && device !== "packet") {
  throw new Error(`--device: af_packet or packet, got ${device}`);
}
const losses = arg("--loss", "0,0.1,3").split(",").map(Number);
if (losses.some((l) => !(l >= 0 && l < 100))) throw new Error("--loss: percents 0..99");
const bytes = Math.round(Number(arg("--mb", "50")) * 1e6);
const reps = Math.min(20, Math.max(1, Number(arg("--reps", "2")) | 0));
const sampleMs = Math.min(1000, Math.max(5, Number(arg("--sample-ms", "20"))));
if (!(bytes >= 1e5 && bytes <= 1e9)) throw new Error("--mb: 0.1..1000");
const timeoutS = 60;

/** schedstat of a task: [ns on the CPU, ns waiting for it, slices]. */
function schedstat(path: string): number[] {
  try {
    return readFileSync(path, "utf8").trim().split(" ").map(Number);
  } catch {
    return [0, 0, 0];
  }
}

/** The pid of ksoftirqd/CPU. */
function ksoftirqd(cpu: string): number | undefined {
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/comm`, "utf8").trim() === `ksoftirqd/${cpu}`) return Number(p);
    } catch {
      // gone
    }
  }
  return undefined;
}

function curl(client: string, n: number): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn("ip", [
      ...["netns", "exec", client, "taskset", "-c", clientCpu, "curl", "-s", "-o", "/dev/null"],
      ...["-m", String(timeoutS), "-w", "%{size_download} %{time_total}", `http://${serverAddr}/bytes/${n}`],
    ]);
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.on("close", () => {
      const [got, s] = out.trim().split(" ").map(Number);
      resolve(
        got === n ? `${((got * 8) / s / 1e6).toFixed(0)} Mbit/s in ${s.toFixed(3)} s` : `failed: ${out}`,
      );
    });
  });
}

const id = `lt${process.pid % 10000}`;
const net = buildNet(id, device === "packet");
const removeNet = onCleanup(() => net.down());
const prefix = `luna-trace-${process.pid}`;
const name = `lossy-trace-${process.pid}`;
removeEalFiles(prefix);
const server = new Proc("ip", [
  ...["netns", "exec", net.server, bunBin, fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))],
  ...["serve", "http", "--device", `${device}:${net.serverIface}`, "--address", `${serverAddr}/24`],
  ...["--gateway", "198.18.41.1", "--port", "80", "--prefix", prefix, "--name", name, "--json"],
  ...["--congestion", congestion],
]);
try {
  await server.waitFor(/^luna: serving /m, 0, 30_000, "stdout");
  const pid = server.child.pid!;
  // As bench/lossy.ts pins them: the poller on the server's CPU, its other threads elsewhere.
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      sh("taskset", ["-p", "-c", tid === String(pid) ? serverCpu : clientCpu, tid]);
    } catch {
      // a thread that ended since the listing
    }
  }
  const softirq = ksoftirqd(serverCpu);
  for (let i = 0; i < 4; i++) {
    shape(net, losses[i % losses.length] / 100, false);
    await curl(net.client, Math.round(bytes / 10)); // warm-up: ARP, and the server's code compiled
  }
  for (const loss of losses) {
    for (let r = 0; r < reps; r++) {
      shape(net, loss / 100, false);
      const rows: (ConnRow & { t: number })[] = [];
      let done = false;
      const t0 = performance.now();
      const sampler = (async () => {
        while (!done) {
          try {
            await request(name, { op: "conns", port: 80 }, (f) => {
              if (f.kind !== "json") return;
              for (const c of (f.value.conns as ConnRow[] | undefined) ?? []) {
                if (c.state === "ESTABLISHED") rows.push({ t: Math.round(performance.now() - t0), ...c });
              }
            }, { timeoutMs: 1000 });
          } catch {
            // the answer came too late: the next sample
          }
          await sleep(sampleMs);
        }
      })();
      const poll0 = schedstat(`/proc/${pid}/schedstat`);
      const soft0 = softirq === undefined ? [0, 0, 0] : schedstat(`/proc/${softirq}/schedstat`);
      const outcome = await curl(net.client, bytes);
      const poll1 = schedstat(`/proc/${pid}/schedstat`);
      const soft1 = softirq === undefined ? [0, 0, 0] : schedstat(`/proc/${softirq}/schedstat`);
      done = true;
      await sampler;
      const ms = (a: number[], b: number[], i: number) => ((b[i] - a[i]) / 1e6).toFixed(0);
      console.log(
        `${congestion} loss ${loss}%: ${outcome}; poller ran ${ms(poll0, poll1, 0)} ms, waited ` +
          `${ms(poll0, poll1, 1)} ms; ksoftirqd/${serverCpu} ran ${ms(soft0, soft1, 0)} ms, waited ${
            ms(soft0, soft1, 1)
          } ms`,
      );
      const kb = (k: keyof ConnRow) => rows.map((x) => Math.round((x[k] as number) / 1024)).join(" ");
      console.log(`  t ms      ${rows.map((x) => x.t).join(" ")}`);
      console.log(`  cwnd KB   ${kb("cwnd")}`);
      console.log(`  ssthr KB  ${kb("ssthresh")}`);
      console.log(`  flight KB ${kb("inFlight")}`);
      console.log(`  sendq KB  ${kb("sendQueue")}`);
      console.log(`  wnd KB    ${kb("sndWnd")}`);
      console.log(`  srtt ms   ${rows.map((x) => x.rttMs.toFixed(2)).join(" ")}`);
      if (rows.some((x) => x.bbr !== undefined)) {
        const bbr = rows.map((x) =>
          x.bbr === undefined
            ? "-"
            : `${x.bbr.state}:${(x.bbr.pacingRateBitsPerSecond / 1e6).toFixed(0)}/${
              (x.bbr.bwBitsPerSecond / 1e6).toFixed(0)
            }`
        );
        console.log(`  bbr state:pacing/bw Mbit/s ${bbr.join(" ")}`);
      }
    }
  }
} finally {
  shape(net, 0, false);
  await server.stop("SIGINT", 10_000);
  removeEalFiles(prefix);
  const line = server.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  if (line !== undefined) {
    const t = (JSON.parse(line) as { stack?: { tcp?: Record<string, number> } }).stack?.tcp ?? {};
    const keys = [
      "retransSegs",
      "retransTimeouts",
      "tlpProbes",
      "tlpRecoveries",
      "rackLosses",
      "spuriousRtos",
    ];
    console.log(`server, warm-up included: ${keys.map((k) => `${k} ${t[k]}`).join(", ")}`);
  }
  removeNet();
}
