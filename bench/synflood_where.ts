/**
 * Where the time goes when `luna serve http` serves a download under a SYN
 * flood (bench/synflood.ts's lab and flood): for a download without and then
 * with the flood, each CPU's user, system, softirq and idle time (/proc/stat),
 * the CPU time of the server, the flooder and curl (and on which CPUs each
 * ran, sampled every 10 ms), and the server's own counters over the download
 * (from `luna stats`): connections established at the start, frames its
 * receive ring dropped, loop iterations and frames a burst, segments in and
 * out, retransmissions and RTOs, cookies sent, SYNs shed, and the transfer's
 * own retransmissions and RTOs (from `luna conns`, sampled).
 *
 * `--budget N` and `--syn-rate N` pass `luna serve --syn-budget` and
 * `--syn-rate`; `--kernel` serves from the kernel's TCP instead
 * (bench/kernel_http.mjs), for the CPU figures; `--cli DIR` serves from
 * another checkout. `--hog` adds a download beside a process that only burns
 * a CPU (what the flooder's CPU alone costs); `--perf FILE` records the
 * server with perf for 2 s of flood alone and prints the share of its time
 * in sendto(2); `--connects N` makes N connections one after another under
 * the flood once the download is done; `--fresh-connects N` makes N
 * connections, each 200 ms into a flood just begun (as bench/synflood.ts's
 * download), before the downloads (after the first with `--fresh-after`).
 * `--warm MB` first serves a download of MB MB under the flood, unmeasured (as
 * bench/synflood.ts's `--warm`). `--perf-download FILE` records the server
 * with perf over each download, to FILE-noflood and FILE-flood (`perf report
 * -i`), for what the flood adds to the transfer's own cost.
 *
 * Usage: bun bench/synflood_where.ts [--mb 20] [--rate 0] [--budget 8] [--syn-rate N] [--kernel] [--hog]
 *   [--perf FILE] [--connects N] [--fresh-connects N] [--fresh-after] [--cli DIR]
 *   [--warm MB] [--perf-download FILE]
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLab } from "../src/lab/netns.ts";
import { dropFloodAnswersArgs, parseSynFloodResult } from "../src/lab/syn_flood.ts";
import { nodeBin } from "./tcp.ts";
import { lineFrom, stopChild as stop } from "./_proc.ts";
import { floodHttp } from "./_synflood_lab.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const mb = Number(opt("--mb", "20"));
const rate = Number(opt("--rate", "0"));
const budget = opt("--budget", "");
const synRate = opt("--syn-rate", "");
const kernel = args.includes("--kernel");
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const cliDir = opt("--cli", "");
const lunaCli = cliDir === "" ? here("../src/cli/main.ts") : join(cliDir, "src", "cli", "main.ts");
const clk = 100; // USER_HZ

/** Per CPU: [user+nice, system, softirq+irq, idle+iowait, steal] in ticks. */
function cpuTimes(): number[][] {
  const out: number[][] = [];
  for (const l of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^cpu(\d+) (.*)$/.exec(l);
    if (m === null) continue;
    const v = m[2].trim().split(/\s+/).map(Number);
    out.push([v[0] + v[1], v[2], v[5] + v[6], v[3] + v[4], v[7]]);
  }
  return out;
}

/** [utime, stime, cpu last run on] of a process and all its threads, or undefined once gone. */
function procTimes(pid: number): { user: number; sys: number; cpus: number[] } | undefined {
  try {
    let user = 0, sys = 0;
    const cpus: number[] = [];
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      // Fields from the state (3) on: utime 14, stime 15, processor 39.
      const u = Number(f[11]), st = Number(f[12]);
      user += u;
      sys += st;
      if (f[0] === "R") cpus.push(Number(f[36]));
    }
    return { user, sys, cpus };
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter((x) => x)
      .map(Number);
  } catch {
    return [];
  }
}

const lab = createLab({ prefix: "luna-bench-where", subnet: 61 });
const prefix = `luna-bench-where-${process.pid}`;
const name = `where-${process.pid}`;
const dir = join(tmpdir(), `luna-where-${process.pid}`);
mkdirSync(dir, { recursive: true });
let server: ChildProcess | undefined;
try {
  lab.exec("kernel", "iptables", dropFloodAnswersArgs(80));
  const mac = lab.exec("luna", "cat", [`/sys/class/net/${lab.luna.iface}/address`]).trim();
  if (kernel) {
    lab.exec("luna", "ip", ["addr", "add", lab.luna.cidr, "dev", lab.luna.iface]);
    server = spawn("ip", [
      "netns",
      "exec",
      lab.luna.ns,
      nodeBin,
      here("./kernel_http.mjs"),
      lab.luna.ip,
      "80",
      "9",
    ], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    await lineFrom(server, /^READY/, 20_000);
  } else {
    server = spawn("ip", [
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
      "--name",
      name,
      ...(budget === "" ? [] : ["--syn-budget", budget]),
      ...(synRate === "" ? [] : ["--syn-rate", synRate]),
    ], { stdio: ["ignore", "pipe", "inherit"] });
    await lineFrom(server, /^luna: serving /, 30_000);
  }
  const stats = (): Record<string, number> => {
    if (kernel) return {};
    const r = spawnSync(process.execPath, [lunaCli, "stats", name, "--json"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`luna stats: ${r.stderr}`);
    const s = JSON.parse(r.stdout.trim().split("\n").pop()!);
    const flat: Record<string, number> = {};
    const walk = (o: unknown, path: string) => {
      if (typeof o === "number") flat[path] = o;
      else if (typeof o === "object" && o !== null) {
        for (const [k, v] of Object.entries(o)) walk(v, path === "" ? k : `${path}.${k}`);
      }
    };
    walk(s, "");
    return flat;
  };
  const pick = (d: Record<string, number>, key: string) => {
    const k = Object.keys(d).find((x) => x === key || x.endsWith(`.${key}`));
    return k === undefined ? NaN : d[k];
  };

  /** One download while sampling; returns its figures. */
  const measured = async (label: string, flooder: ChildProcess | undefined) => {
    const s0 = stats();
    const c0 = cpuTimes();
    const sv0 = procTimes(server!.pid!)!;
    const f0 = flooder === undefined ? undefined : procTimes(flooder.pid!);
    const perfDownload = opt("--perf-download", "");
    const recorder = perfDownload === "" || kernel ? undefined : spawn("perf", [
      ...["record", "-q", "-g", "-o", `${perfDownload}-${flooder === undefined ? "noflood" : "flood"}`],
      ...["-p", String(server!.pid)],
    ], { stdio: "ignore" });
    const t0 = performance.now();
    const curl = spawn("ip", [
      "netns",
      "exec",
      lab.kernel.ns,
      "/usr/bin/time",
      "-f",
      "TIME %U %S",
      "curl",
      "-sS",
      "--fail",
      "-m",
      "120",
      "-o",
      "/dev/null",
      "-w",
      "CURL %{size_download} %{time_total} %{time_connect}\n",
      `http://${lab.luna.ip}/bytes/${mb * 1_000_000}`,
    ], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    curl.stdout!.on("data", (d: Buffer) => (out += d));
    curl.stderr!.on("data", (d: Buffer) => (err += d));
    const done = new Promise((r) => curl.on("close", r));
    // Where each ran: per process, how often it was seen running on each CPU.
    const seen: Record<string, Record<number, number>> = { server: {}, flooder: {}, curl: {} };
    let finished = false;
    done.then(() => (finished = true));
    // The transfer's own retransmissions, from `luna conns` (one query at a time, a second apart:
    // each is a runtime started on the same two cores, about 50 ms of CPU; five a second took
    // 15% of a CPU from the download they watch).
    const conn = { retransSegs: 0, retransTimeouts: 0, rtoMs: 0 };
    let querying = false;
    let lastQuery = 0;
    while (!finished) {
      if (!kernel && !querying && performance.now() - lastQuery > 1000) {
        querying = true;
        lastQuery = performance.now();
        const q = spawn(process.execPath, [lunaCli, "conns", name, "--state", "established", "--json"], {
          stdio: ["ignore", "pipe", "ignore"],
        });
        let qo = "";
        q.stdout!.on("data", (d: Buffer) => (qo += d));
        q.on("close", () => {
          querying = false;
          for (const l of qo.split("\n").filter((x) => x.startsWith("{"))) {
            const r = JSON.parse(l);
            if (r.bytesAcked < 100_000) continue;
            conn.retransSegs = Math.max(conn.retransSegs, r.retransSegs);
            conn.retransTimeouts = Math.max(conn.retransTimeouts, r.retransTimeouts);
            conn.rtoMs = Math.max(conn.rtoMs, r.rtoMs);
          }
        });
      }
      const note = (who: string, pid: number | undefined) => {
        if (pid === undefined) return;
        for (const c of procTimes(pid)?.cpus ?? []) seen[who][c] = (seen[who][c] ?? 0) + 1;
      };
      note("server", server!.pid);
      note("flooder", flooder?.pid);
      const time = childrenOf(curl.pid!)[0];
      note("curl", time === undefined ? undefined : childrenOf(time)[0]);
      await new Promise((r) => setTimeout(r, 10));
    }
    const secs = (performance.now() - t0) / 1000;
    const c1 = cpuTimes();
    const sv1 = procTimes(server!.pid!)!;
    const f1 = flooder === undefined ? undefined : procTimes(flooder.pid!);
    const s1 = stats();
    if (recorder !== undefined) {
      const recorded = new Promise((r) => recorder.on("close", r));
      recorder.kill("SIGINT");
      await recorded;
    }
    const cm = /CURL (\d+) ([\d.]+) ([\d.]+)/.exec(out);
    const tm = /TIME ([\d.]+) ([\d.]+)/.exec(err);
    if (cm === null || tm === null) throw new Error(`curl: ${out} ${err}`);
    const [size, total, connect] = [Number(cm[1]), Number(cm[2]), Number(cm[3])];
    const pct = (ticks: number) => `${((ticks / clk / secs) * 100).toFixed(0)}%`;
    console.log(
      `${label}: ${((size * 8) / (total - connect) / 1e6).toFixed(0)} Mbit/s established, connect ` +
        `${(connect * 1000).toFixed(1)} ms, ${secs.toFixed(2)} s`,
    );
    c1.forEach((v, i) => {
      const d = v.map((x, j) => x - c0[i][j]);
      console.log(
        `  cpu${i}: user ${pct(d[0])} sys ${pct(d[1])} softirq ${pct(d[2])} idle ${pct(d[3])} steal ${
          pct(d[4])
        }`,
      );
    });
    console.log(
      `  server: user ${pct(sv1.user - sv0.user)} sys ${pct(sv1.sys - sv0.sys)}, ran on ${
        JSON.stringify(seen.server)
      }`,
    );
    if (f0 !== undefined && f1 !== undefined) {
      console.log(
        `  flooder/hog: user ${pct(f1.user - f0.user)} sys ${pct(f1.sys - f0.sys)}, ran on ${
          JSON.stringify(seen.flooder)
        }`,
      );
    }
    console.log(
      `  curl: user ${pct(Number(tm[1]) * clk)} sys ${pct(Number(tm[2]) * clk)}, ran on ${
        JSON.stringify(seen.curl)
      }`,
    );
    if (!kernel) {
      const d = (k: string) => pick(s1, k) - pick(s0, k);
      const it = d("iterations"), fr = d("framesIn");
      console.log(
        `  luna: ${pick(s0, "currEstab")} connections established at the start, ${it} polls, ` +
          `${(fr / it).toFixed(1)} frames a poll, ${d("idleSleeps")} idle sleeps, ${
            d("rxRingDropped")
          } ring drops, ` +
          `${d("inSegs")} segs in, ${d("outSegs")} out, ${d("retransSegs")} retransmitted, ` +
          `${d("retransTimeouts")} RTOs, ${d("synCookiesSent")} cookies, ${
            d("synsShed")
          } shed; the transfer ` +
          `(seen last) ${conn.retransSegs} retransmitted, ${conn.retransTimeouts} RTOs, RTO up to ${conn.rtoMs} ms`,
      );
    }
  };

  /** One curl from the kernel's side: its connect time, ms. */
  const connectMs = () => {
    const out = lab.exec("kernel", "curl", [
      ...["-sS", "--fail", "-m", "20", "-o", "/dev/null", "-w", "%{time_connect}"],
      `http://${lab.luna.ip}/bytes/1`,
    ], { timeoutMs: 30_000 });
    return Number(out.trim()) * 1000;
  };

  const warmMb = Number(opt("--warm", "0"));
  if (warmMb > 0 && !kernel) {
    // As bench/synflood.ts's --warm: a download under the flood, unmeasured, so that the figures
    // below are of a server whose runtime has compiled both paths.
    const stopFile = join(dir, "stop-warm");
    const fl = floodHttp(lab, mac, rate, stopFile);
    await lineFrom(fl.process, /^FLOODING$/, 30_000);
    lab.exec("kernel", "curl", [
      ...["-sS", "--fail", "-m", "120", "-o", "/dev/null"],
      `http://${lab.luna.ip}/bytes/${warmMb * 1_000_000}`,
    ], { timeoutMs: 130_000 });
    writeFileSync(stopFile, "");
    await fl.output;
  }
  const fresh = Number(opt("--fresh-connects", "0"));
  if (args.includes("--fresh-after")) await measured("no flood", undefined);
  if (fresh > 0) {
    // A connection 200 ms into a flood that has just begun (as bench/synflood.ts's download), N times.
    const ms: number[] = [];
    for (let i = 0; i < fresh; i++) {
      const stopFile = join(dir, `stop-fresh-${i}`);
      const fl = floodHttp(lab, mac, rate, stopFile, 30);
      await lineFrom(fl.process, /^FLOODING$/, 30_000);
      await new Promise((r) => setTimeout(r, 200));
      ms.push(connectMs());
      writeFileSync(stopFile, "");
      await fl.output;
      await new Promise((r) => setTimeout(r, 300));
    }
    console.log(`fresh connects: ${ms.map((x) => x.toFixed(0)).join(" ")}`);
    console.log(`fresh connects: ${ms.filter((x) => x < 500).length} of ${fresh} within 500 ms`);
  }
  if (!args.includes("--fresh-after")) await measured("no flood", undefined);
  if (args.includes("--hog")) {
    // A process that only burns a CPU, in place of the flooder: what the CPU it takes costs alone.
    const hog = spawn("ip", [
      "netns",
      "exec",
      lab.kernel.ns,
      "timeout",
      "120",
      "sh",
      "-c",
      "while :; do :; done",
    ], {
      stdio: "ignore",
    });
    await new Promise((r) => setTimeout(r, 200));
    const burner = childrenOf(hog.pid!)[0];
    await measured("cpu hog", burner === undefined ? hog : ({ pid: burner } as ChildProcess));
    hog.kill("SIGTERM"); // timeout(1) passes it on to the loop
  }
  const stopFile = join(dir, "stop");
  const { process: f, output } = floodHttp(lab, mac, rate, stopFile);
  await lineFrom(f, /^FLOODING$/, 30_000);
  await new Promise((r) => setTimeout(r, 200));
  const perfOut = opt("--perf", "");
  if (perfOut !== "" && !kernel) {
    // Where the server's own time goes under the flood alone, kernel included (perf report -i FILE).
    const p0 = stats();
    const w0 = performance.now();
    const r = spawnSync("perf", [
      "record",
      "-q",
      "-g",
      "-o",
      perfOut,
      "-p",
      String(server.pid),
      "--",
      "sleep",
      "2",
    ], {
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`perf record: ${r.stderr}`);
    const p1 = stats();
    const window = (performance.now() - w0) / 1000; // the counters' window: from one answer to the next
    const rep = spawnSync("perf", ["report", "-i", perfOut, "--children", "--sort", "sym", "--stdio"], {
      encoding: "utf8",
      maxBuffer: 1 << 28,
    });
    const share = (sym: string) => {
      const m = new RegExp(`^\\s+([\\d.]+)%\\s+[\\d.]+%\\s+\\[.\\] ${sym}$`, "m").exec(rep.stdout);
      return m === null ? "0%" : `${m[1]}%`;
    };
    const d = (k: string) => pick(p1, k) - pick(p0, k);
    console.log(
      `perf, 2 s of flood alone: of the server's samples ${share("__sys_sendto")} in sendto(2) (of them ` +
        `${share("handle_softirqs")} in softirqs), ${share("luna_rx_burst")} in luna_rx_burst; ` +
        `${(d("synCookiesSent") / window).toFixed(0)} cookies/s, ${
          (d("synsShed") / window).toFixed(0)
        } shed/s ` +
        `(${(d("synsShedByRate") / window).toFixed(0)} by the rate), ${
          (d("iterations") / window).toFixed(0)
        } polls/s`,
    );
  }
  await measured("flood", f);
  const connects = Number(opt("--connects", "0"));
  if (connects > 0) {
    // New connections under the flood (no transfer running): curl's connect times, one after another.
    const ms: number[] = [];
    for (let i = 0; i < connects; i++) {
      ms.push(connectMs());
    }
    ms.sort((a, b) => a - b);
    console.log(
      `connects under the flood: ${ms.filter((x) => x < 500).length} of ${connects} within 500 ms, median ` +
        `${ms[connects >> 1].toFixed(1)} ms, max ${ms[connects - 1].toFixed(1)} ms`,
    );
  }
  writeFileSync(stopFile, "");
  const { sent, seconds } = parseSynFloodResult(await output);
  console.log(`flood: ${(sent / seconds / 1000).toFixed(0)}k SYN/s`);
} finally {
  if (server !== undefined) await stop(server, "SIGINT");
  lab.close();
  for (const d of ["/var/run/dpdk", "/run/dpdk"]) {
    if (existsSync(join(d, prefix))) rmSync(join(d, prefix), { recursive: true });
  }
  rmSync(dir, { recursive: true, force: true });
}
