/**
 * Where the time of a bulk transfer goes: luna-ts to luna-ts over memif, one
 * connection, each end in its own process. Each end times its calls into
 * the shim (`luna_rx_burst` calls that brought frames, `luna_tx_burst`: C
 * and the FFI crossing) and the JavaScript that runs after each receive
 * that brought frames (TCP, the application, the loop; empty polls are idle
 * and left out), then divides by the segments it moved: frames on the wire
 * (MSS-sized), and TCP segments (large ones the sender handed the shim;
 * coalesced ones the receiver took).
 *
 *   bun bench/profile_bulk.ts [--mtu 1500] [--mb 512] [--gro on|off] [--gso on|off] [--checksums auto|always] [--buf BYTES] [--mode batch|inline] [--warm-mb MB] [--cpu-prof DIR] [--perf DIR] [--no-timing]
 *   deno run -A bench/profile_bulk.ts ...
 *
 * Prints one table (ns per segment, each end), what tells a fast run from a
 * slow one (bursts, ACKs, drops, empty polls, each thread's CPU and
 * preemptions) and one JSON line. Needs root (DPDK's memif). Work done after
 * an empty poll (a timer, say) is not counted; in a bulk transfer nearly all
 * work follows a receive. `--warm-mb` moves that much first, uncounted (a
 * cold process compiles the byte path on its JIT's threads for seconds).
 * `--perf DIR` runs each end under `perf record` and adds a table of where
 * the CPU went over the whole run, per wire segment: JavaScript (compiled
 * code, the runtime), each C library (memif, rte_gso, rte_gro, mempool,
 * the shim, libc), the kernel, clock reads and the runtime's other threads
 * (the JIT's compiler threads). `--no-timing` leaves out the timing of the
 * first table (two clock reads per shim call), for a profile of the stack alone.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { DpdkDevice } from "../src/device/dpdk/device.ts";
import { type Connection, createStack, type Stack } from "../src/mod.ts";

interface EndConfig {
  role: "server" | "client";
  socket: string;
  mtu: number;
  bytes: number;
  /** Receive coalescing on or off; undefined: the stack's default (and a stack older than the setting). */
  gro?: boolean;
  gso: boolean;
  /** The stack's `checksums` setting; undefined: the default (none on memif). */
  checksums?: "auto" | "always";
  /** tcp.sndBufBytes and tcp.rcvBufBytes; undefined: the defaults. */
  buf?: number;
  /** The loop mode of both ends; undefined: the default (batch). */
  mode?: "batch" | "inline";
  /** Bytes moved before the measured ones (JIT warm-up): not counted. */
  warmBytes: number;
  /** Time the shim calls and the JavaScript (the first table); false leaves the port as it is. */
  timing: boolean;
  prefix: string;
}

interface EndResult {
  role: string;
  seconds: number;
  /** CPU time of the process (user + system) during the transfer: what a busy machine's waits leave out. */
  cpuMs: number;
  bytes: number;
  /** ms inside luna_rx_burst calls that brought frames, and inside luna_tx_burst (C and the FFI crossing). */
  rxMs: number;
  txMs: number;
  /** ms of JavaScript after each receive that brought frames (tx calls taken out). */
  jsMs: number;
  rxCalls: number;
  txCalls: number;
  wireFrames: number;
  tcpSegments: number;
  coalescedPackets: number;
  coalescedSegments: number;
  /** Frames this end sent and received (the receiver's sent frames are its ACKs). */
  framesOut: number;
  framesIn: number;
  /** Polls that brought no frame, and the records handed to luna_tx_burst. */
  emptyPolls: number;
  txRecords: number;
  retransSegs: number;
  /** The port's drops: ring full, allocation failures, transmit errors, cut segments not taken. */
  drops: { imissed: number; rxNombuf: number; oerrors: number; txSegDropped: number; txChainNoMbuf: number };
  /** Each thread of the process that used CPU during the transfer: see {@link threadsNow}. */
  threads: ThreadSample[];
  /** Wire segments of the whole run, warm-up included (what a `perf` profile of the process covers). */
  wireFramesTotal: number;
}

/** One thread's scheduling: where it may run, where it last ran, CPU ms and preemptions during the transfer. */
interface ThreadSample {
  tid: number;
  name: string;
  allowed: string;
  lastCpu: number;
  cpuMs: number;
  involuntary: number;
  voluntary: number;
}

const runtime = process.execPath;
const self = new URL(import.meta.url).pathname;
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
const cpuProfDir = process.argv.includes("--cpu-prof") ? arg("--cpu-prof", "") : undefined;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

/**
 * Times the stack's port: the rx calls that brought frames and every tx call
 * (C and the FFI crossing), and the JavaScript that ran between a receive
 * that brought frames and the next poll (TCP, the application, the loop),
 * less the tx calls inside it. Empty polls are idle time, counted apart.
 */
function instrument(stack: Stack, on: boolean) {
  const port = (stack.device as DpdkDevice).port;
  const t = { rxMs: 0, txMs: 0, jsMs: 0, idleMs: 0, rxCalls: 0, txCalls: 0, emptyPolls: 0, txRecords: 0 };
  if (!on) return t;
  const rx = port.rx.bind(port);
  const tx = port.tx.bind(port);
  let lastEnd = -1; // end of the last rx call that brought frames; -1 after an empty one
  let txAtEnd = 0;
  port.rx = (q: number, d: Uint32Array, max: number) => {
    const t0 = performance.now();
    if (lastEnd >= 0) t.jsMs += t0 - lastEnd - (t.txMs - txAtEnd);
    const n = rx(q, d, max);
    const t1 = performance.now();
    if (n > 0) {
      t.rxMs += t1 - t0;
      t.rxCalls++;
      lastEnd = t1;
      txAtEnd = t.txMs;
    } else {
      t.idleMs += t1 - t0;
      t.emptyPolls++;
      lastEnd = -1;
    }
    return n;
  };
  port.tx = (q: number, d: Uint32Array, n: number) => {
    const t0 = performance.now();
    const k = tx(q, d, n);
    t.txMs += performance.now() - t0;
    t.txCalls++;
    t.txRecords += n;
    return k;
  };
  return t;
}

/** Every thread of this process from /proc: the scheduler's view of who ran where. */
function threadsNow(): Map<number, ThreadSample> {
  const out = new Map<number, ThreadSample>();
  const tick = 1000 / 100; // USER_HZ
  for (const t of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const status = readFileSync(`/proc/self/task/${t}/status`, "utf8");
      const field = (k: string) => (status.match(new RegExp(`^${k}:\\s*(.*)$`, "m")) ?? ["", ""])[1].trim();
      out.set(Number(t), {
        tid: Number(t),
        name: field("Name"),
        allowed: field("Cpus_allowed_list"),
        lastCpu: Number(f[36]),
        cpuMs: (Number(f[11]) + Number(f[12])) * tick,
        involuntary: Number(field("nonvoluntary_ctxt_switches")),
        voluntary: Number(field("voluntary_ctxt_switches")),
      });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** Threads that ran during the transfer: counters since `from`. */
function threadsSince(from: Map<number, ThreadSample>): ThreadSample[] {
  const out: ThreadSample[] = [];
  for (const [tid, t] of threadsNow()) {
    const a = from.get(tid);
    const d = {
      ...t,
      cpuMs: t.cpuMs - (a?.cpuMs ?? 0),
      involuntary: t.involuntary - (a?.involuntary ?? 0),
      voluntary: t.voluntary - (a?.voluntary ?? 0),
    };
    if (d.cpuMs > 0 || d.involuntary > 0) out.push(d);
  }
  return out;
}

function cpuSince(from: { user: number; system: number }): number {
  const u = process.cpuUsage(from);
  return u.user + u.system;
}

async function runEnd(cfg: EndConfig): Promise<void> {
  const server = cfg.role === "server";
  const stack = await createStack({
    device: `memif:${cfg.socket},${cfg.role}`,
    address: server ? "198.18.30.1/24" : "198.18.30.2/24",
    mtu: cfg.mtu,
    coexist: false,
    buffers: 16383,
    ...(cfg.mode !== undefined ? { mode: cfg.mode } : {}),
    ...(cfg.gro !== undefined ? { receiveOffload: cfg.gro } : {}),
    ...(cfg.checksums !== undefined ? { checksums: cfg.checksums } : {}),
    eal: { prefix: cfg.prefix, lcores: server ? "0@0" : "0@1", memoryMb: 512 },
    tcp: {
      noDelay: true,
      segmentationOffload: cfg.gso,
      ...(cfg.buf !== undefined ? { sndBufBytes: cfg.buf, rcvBufBytes: cfg.buf } : {}),
    },
  });
  const timing = instrument(stack, cfg.timing);
  let t0 = 0;
  let t1 = 0;
  let moved = 0;
  let done = false;
  let startRx = { ...timing };
  let cpu0 = process.cpuUsage();
  let cpuUs = 0;
  let threads0 = new Map<number, ThreadSample>();
  let threads: ThreadSample[] = [];
  let marked = false;
  let movedAtMark = 0;
  // deno-lint-ignore no-explicit-any
  let stats0: { port: any; tcp: any } = { port: {}, tcp: {} };
  // The measured part starts once warmBytes have moved: counters are taken as differences from here.
  const mark = () => {
    marked = true;
    movedAtMark = moved;
    // deno-lint-ignore no-explicit-any
    const st = stack.stats() as any;
    stats0 = { port: { ...st.port }, tcp: { ...st.tcp } };
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    threads0 = threadsNow();
    startRx = { ...timing };
  };
  const total = cfg.warmBytes + cfg.bytes;
  if (server) {
    stack.listen(9, () => ({
      onData(c: Connection) {
        if (!marked && moved >= cfg.warmBytes) mark();
        for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
          moved += n;
          c.consume(n);
        }
        if (moved >= total && !done) {
          done = true;
          t1 = performance.now();
          cpuUs = cpuSince(cpu0);
          threads = threadsSince(threads0);
        }
      },
      onEnd(c: Connection) {
        c.close();
      },
    }));
    console.log("READY");
  }
  const running = stack.run();
  if (!server) {
    const chunk = new Uint8Array(1 << 16).fill(0x42);
    const pump = (c: Connection) => {
      while (moved < total) {
        if (!marked && moved >= cfg.warmBytes) mark();
        const n = c.write(chunk, 0, Math.min(chunk.length, total - moved));
        if (n === 0) return;
        moved += n;
      }
      c.close();
    };
    stack.connect("198.18.30.1", 9, {
      onOpen(c: Connection) {
        pump(c);
      },
      onWritable: pump,
      onClose() {
        done = true;
        t1 = performance.now();
        cpuUs = cpuSince(cpu0);
        threads = threadsSince(threads0);
      },
    });
  }
  const deadline = Date.now() + 300_000;
  while (!done && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const st = stack.stats();
  // The measured part's counts: every numeric counter less its value at the mark.
  // deno-lint-ignore no-explicit-any
  const since = (now: any, then: any) => {
    const out: Record<string, number> = {};
    for (const k of Object.keys(now)) if (typeof now[k] === "number") out[k] = now[k] - (then[k] ?? 0);
    return out;
  };
  const port = since(st.port, stats0.port);
  const tcp = since(st.tcp, stats0.tcp);
  const r: EndResult = {
    role: cfg.role,
    seconds: (t1 - t0) / 1000,
    cpuMs: cpuUs / 1000,
    bytes: moved - movedAtMark,
    rxMs: timing.rxMs - startRx.rxMs,
    txMs: timing.txMs - startRx.txMs,
    jsMs: timing.jsMs - startRx.jsMs,
    rxCalls: timing.rxCalls - startRx.rxCalls,
    txCalls: timing.txCalls - startRx.txCalls,
    wireFrames: server ? port.ipackets : port.opackets,
    // The sender's TCP segments: the large ones the shim cut (GSO), and those it sent MSS-sized itself.
    tcpSegments: server ? tcp.inSegs : tcp.outSegs - port.txSegSegments + port.txSegPackets,
    coalescedPackets: port.rxGroPackets,
    coalescedSegments: port.rxGroSegments,
    framesOut: port.opackets,
    framesIn: port.ipackets,
    emptyPolls: timing.emptyPolls - startRx.emptyPolls,
    txRecords: timing.txRecords - startRx.txRecords,
    retransSegs: tcp.retransSegs,
    drops: {
      imissed: port.imissed,
      rxNombuf: port.rxNombuf,
      oerrors: port.oerrors,
      txSegDropped: port.txSegDropped,
      txChainNoMbuf: port.txChainNoMbuf,
    },
    threads,
    // deno-lint-ignore no-explicit-any
    wireFramesTotal: server ? (st.port as any).ipackets : (st.port as any).opackets,
  };
  console.log("RESULT " + JSON.stringify(r));
  if (server) await new Promise((r) => setTimeout(r, 300)); // the client's last ACKs
  await stack.stop();
  void running;
  process.exit(done ? 0 : 1);
}

function child(cfg: EndConfig): { ready: Promise<void>; result: Promise<EndResult>; exited: Promise<void> } {
  // --cpu-prof DIR: each end writes a CPU profile of itself there (Bun: also as markdown).
  const prof = cpuProfDir === undefined ? [] : isDeno ? [`--cpu-prof`, `--cpu-prof-dir=${cpuProfDir}`] : [
    `--cpu-prof`,
    `--cpu-prof-md`,
    `--cpu-prof-dir=${cpuProfDir}`,
    `--cpu-prof-name=${cfg.role}.cpuprofile`,
  ];
  const args = isDeno
    ? ["run", "-A", ...prof, self, "--end", JSON.stringify(cfg)]
    : [...prof, self, "--end", JSON.stringify(cfg)];
  // --perf DIR: each end runs under `perf record`, sampling every thread of the process.
  const p = perfDir === undefined
    ? spawn(runtime, args, { stdio: ["ignore", "pipe", "inherit"] })
    : spawn("perf", [
      "record",
      "-q",
      "-F",
      String(perfHz),
      "-o",
      join(perfDir, `${cfg.role}.perf`),
      "--",
      runtime,
      ...args,
    ], {
      stdio: ["ignore", "pipe", "inherit"],
    });
  const exited = new Promise<void>((r) => p.on("exit", () => r()));
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => onReady = r);
  const result = new Promise<EndResult>((resolve, reject) => {
    const lines = createInterface({ input: p.stdout! });
    lines.on("line", (l) => {
      if (l.startsWith("READY")) onReady();
      if (l.startsWith("RESULT ")) resolve(JSON.parse(l.slice(7)));
    });
    p.on("exit", (code) => reject(new Error(`${cfg.role} exited with ${code} before its result`)));
  });
  return { ready, result, exited };
}

const perfDir = process.argv.includes("--perf") ? arg("--perf", "") : undefined;
const perfHz = 1999;

/** What a sample's library or thread says about where the time went. */
function perfCategory(thread: string, dso: string): string {
  if (thread !== "bun.exe" && thread !== "deno" && thread !== "bun") {
    return `other threads (${thread.replace(/[ #0-9]+$/, "")})`;
  }
  if (dso.startsWith("[JIT]")) return "JS: JIT-compiled code";
  if (dso === "bun.exe" || dso === "deno") return "JS: runtime (interpreter, FFI, builtins, GC)";
  if (dso === "[vdso]") return "clock reads (vdso)";
  if (dso.includes("memif")) return "C: memif (ring, copy)";
  if (dso.includes("rte_gso")) return "C: rte_gso";
  if (dso.includes("rte_gro")) return "C: rte_gro";
  if (dso.includes("mempool") || dso.includes("mbuf")) return "C: mempool, mbuf";
  if (dso.includes("luna_shim")) return "C: shim";
  if (dso.startsWith("libc")) return "C: libc (memcpy, locks)";
  if (dso.includes("kernel")) return "kernel";
  return "other";
}

/** ns per wire segment, by category, from one end's `perf` profile (the whole run, warm-up included). */
function perfSplit(role: string, frames: number): Map<string, number> {
  const r = spawnSync("perf", [
    "report",
    "-i",
    join(perfDir!, `${role}.perf`),
    "--no-children",
    "--sort",
    "comm,dso",
    "-n",
    "-q",
    "--percent-limit",
    "0",
  ], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`perf report failed: ${r.stderr}`);
  const out = new Map<string, number>();
  for (const line of r.stdout.split("\n")) {
    const m = line.match(/^\s*[\d.]+%\s+(\d+)\s+(.+?)\s{2,}(\S.*?)\s*$/);
    if (m === null) continue;
    const k = perfCategory(m[2].trim(), m[3]);
    out.set(k, (out.get(k) ?? 0) + (Number(m[1]) * 1e9) / perfHz / frames);
  }
  return out;
}

/** The perf split of both ends as a table: ns per wire segment, and per TCP segment (sent large / coalesced). */
function perfTable(s: EndResult, c: EndResult): string {
  const snd = perfSplit("client", c.wireFramesTotal);
  const rcv = perfSplit("server", s.wireFramesTotal);
  const keys = [...new Set([...snd.keys(), ...rcv.keys()])].sort();
  const f = (x: number | undefined) => (x ?? 0).toFixed(0).padStart(8);
  const perSeg = (e: EndResult) => e.wireFrames / e.tcpSegments;
  const rows = [
    `${
      "perf, ns per wire segment (whole run)".padEnd(48)
    }  sender receiver | per TCP segment: sender receiver`,
  ];
  let ts = 0, tr = 0;
  for (const k of keys) {
    ts += snd.get(k) ?? 0;
    tr += rcv.get(k) ?? 0;
    rows.push(
      `${k.padEnd(48)} ${f(snd.get(k))} ${f(rcv.get(k))} | ${f((snd.get(k) ?? 0) * perSeg(c))} ${
        f((rcv.get(k) ?? 0) * perSeg(s))
      }`,
    );
  }
  rows.push(`${"total".padEnd(48)} ${f(ts)} ${f(tr)} | ${f(ts * perSeg(c))} ${f(tr * perSeg(s))}`);
  return rows.join("\n");
}

function table(s: EndResult, c: EndResult): string {
  const rows: string[] = [];
  const f = (x: number) => x.toFixed(0).padStart(7);
  rows.push("side     wire segs  ns/seg: JS    C+FFI   CPU | TCP segs  ns/TCP seg: JS    C+FFI   CPU");
  for (const e of [c, s]) {
    const js = e.jsMs * 1e6;
    const cNs = (e.rxMs + e.txMs) * 1e6;
    const cpu = e.cpuMs * 1e6;
    const name = e.role === "client" ? "sender  " : "receiver";
    rows.push(
      `${name} ${f(e.wireFrames)}   ${f(js / e.wireFrames)} ${f(cNs / e.wireFrames)} ${
        f(cpu / e.wireFrames)
      }   | ${f(e.tcpSegments)}   ${f(js / e.tcpSegments)} ${f(cNs / e.tcpSegments)} ${
        f(cpu / e.tcpSegments)
      }`,
    );
  }
  return rows.join("\n");
}

/** What tells a fast run from a slow one: bursts, ACKs, drops, retransmissions, polls and where threads ran. */
function diagnosis(s: EndResult, c: EndResult): string {
  const mb = s.bytes / (1 << 20);
  const lines = [
    `receiver: ${(s.wireFrames / s.rxCalls).toFixed(1)} frames per rx burst, ${
      (s.coalescedSegments / Math.max(1, s.coalescedPackets)).toFixed(1)
    } wire segments per GRO packet, ${
      (s.framesOut / mb).toFixed(1)
    } ACKs per MiB, ${s.emptyPolls} empty polls`,
    `sender: ${(c.txRecords / Math.max(1, c.txCalls)).toFixed(1)} records per tx burst, ${
      (c.framesIn / Math.max(1, c.rxCalls)).toFixed(1)
    } ACKs per rx burst, ${c.emptyPolls} empty polls, ${c.retransSegs} retransmitted`,
    `drops: receiver ${JSON.stringify(s.drops)}, sender ${JSON.stringify(c.drops)}`,
  ];
  for (const e of [c, s]) {
    for (const t of e.threads) {
      lines.push(
        `  ${e.role === "client" ? "sender  " : "receiver"} thread ${t.tid} ${t.name.padEnd(15)} cpus ${
          t.allowed.padEnd(4)
        } last on ${t.lastCpu}: ${t.cpuMs} ms CPU, ${t.involuntary} preempted, ${t.voluntary} slept`,
      );
    }
  }
  return lines.join("\n");
}

if (process.argv.includes("--end")) {
  await runEnd(JSON.parse(arg("--end", "{}")));
} else {
  const mtu = Number(arg("--mtu", "1500"));
  const mb = Number(arg("--mb", "512"));
  const groArg = arg("--gro", "default");
  const gro = groArg === "default" ? undefined : groArg === "on";
  const gso = arg("--gso", "on") === "on";
  const checksumsArg = arg("--checksums", "auto");
  if (checksumsArg !== "auto" && checksumsArg !== "always") {
    throw new Error(`--checksums: auto or always, got ${checksumsArg}`);
  }
  const checksums: "auto" | "always" = checksumsArg;
  const bufArg = arg("--buf", "");
  const buf = bufArg === "" ? undefined : Number(bufArg);
  const modeArg = arg("--mode", "batch");
  if (modeArg !== "batch" && modeArg !== "inline") throw new Error(`--mode: batch or inline, got ${modeArg}`);
  const mode: "batch" | "inline" = modeArg;
  const socket = join(tmpdir(), `luna-profile-${process.pid}.sock`);
  rmSync(socket, { force: true });
  const warmMb = Number(arg("--warm-mb", "0"));
  const base: Omit<EndConfig, "role" | "prefix"> = {
    socket,
    mtu,
    bytes: mb << 20,
    warmBytes: warmMb << 20,
    gro,
    gso,
    checksums,
    buf,
    mode,
    timing: !process.argv.includes("--no-timing"),
  };
  const srv = child({ ...base, role: "server", prefix: `luna-prof-s-${process.pid}` });
  await srv.ready;
  const cli = child({ ...base, role: "client", prefix: `luna-prof-c-${process.pid}` });
  const [s, c] = await Promise.all([srv.result, cli.result]);
  rmSync(socket, { force: true });
  for (const p of [`luna-prof-s-${process.pid}`, `luna-prof-c-${process.pid}`]) {
    rmSync(`/var/run/dpdk/${p}`, { recursive: true, force: true });
  }
  const gbit = (s.bytes * 8) / (s.seconds * 1e9);
  console.log(
    `bulk over memif (${mode}), MTU ${mtu}, ${mb} MiB after ${warmMb} MiB, GRO ${groArg}, GSO ${
      gso ? "on" : "off"
    }, checksums ${checksums}, buffers ${buf ?? "default"}: ${
      gbit.toFixed(2)
    } Gbit/s; coalesced ${s.coalescedSegments} segments into ${s.coalescedPackets} packets; ${
      (c.wireFrames / c.tcpSegments).toFixed(1)
    } wire segments per sent TCP segment; ${s.framesOut} ACKs (${
      (c.wireFrames / s.framesOut).toFixed(1)
    } wire segments per ACK)`,
  );
  if (base.timing) console.log(table(s, c));
  console.log(diagnosis(s, c));
  if (perfDir !== undefined) {
    await Promise.all([srv.exited, cli.exited]);
    console.log(perfTable(s, c));
  }
  console.log("JSON " + JSON.stringify({ mtu, mb, gro, gso, gbit, server: s, client: c }));
}
