/**
 * Micro-benchmark: the 64-byte echo loop between two stacks on the in-memory
 * link, in one process, batch-r2c against inline-r2c: CPU time per request
 * (both stacks together, `process.cpuUsage()`: user + system), transmit
 * bursts, frames and frames without payload (pure ACKs) per request (each side's device calls counted by a
 * wrapping device), and the loop iterations per request.
 *
 * Both stacks are polled in turn by one loop here (no runtime yields, no
 * naps): what is measured is the stack's own work per request, which a busy
 * machine's neighbours change much less than they change requests per second.
 * Each connection keeps one request in flight (a closed loop); the client
 * answers every echo with the next request from inside its handler.
 *
 * ```sh
 * node_modules/.bin/bun bench/micro_echo.ts
 * node_modules/.bin/deno run -A bench/micro_echo.ts
 * ```
 *
 * Options: `--conns LIST` (default 1,16,256), `--requests N` per round and
 * configuration (default 200000), `--rounds N` (default 5), `--modes LIST`
 * (default batch,inline), `--answer BYTES` (default 0: the echo; else each
 * 64-byte request is answered by that many bytes, as the bench's storage
 * RPC: `--answer 65536` is storage64k), `--buffers N` (the ring link's zone,
 * default 8191; 256 connections with 64 KiB answers in flight need more),
 * `--link memory|ring|memif` (default memory). `ring`: the two
 * stacks talk through a DPDK net_ring pair in this process, each port set up
 * as a memif port is (no checksums, software GRO on receive), so the shim's
 * receive and transmit bursts and the DPDK device path are measured too;
 * receive calls and frames are counted as well. net_ring takes no chains, so
 * it offers no GSO: every wire segment is built in TypeScript. On ring and
 * memif the table also gives the driver's transmit calls per request
 * (`rte_eth_tx_burst`, as the shim counts them: `pmd tx/req`). `memif`: both
 * roles of one net_memif socket in this process, each port with a zone of its
 * own, GSO on transmit and GRO on receive, as the bench's two processes run
 * it: the shared ring's two copies and the large segments are measured too.
 * `--mtu N` (memif only) runs both ports at that MTU, as `mtu` in a stack's
 * configuration does (memif's buffers and the zones' sized from it; above
 * 9000 frames are chains of buffers and a 64 KiB answer leaves in two
 * segments). `--checksums always` (ring, memif) has the shim compute and
 * verify the TCP/IP checksums, as a stack's `checksums: "always"` does (by
 * default neither port sums anything). `--zero-copy` (memif only): the
 * server's port (the end that sends the answers) is memif's zero-copy
 * client, whose frames leave from and arrive in its own zone's buffers (the
 * client's port, memif's server, copies into and out of them), as
 * `memif:PATH,client,zero-copy` runs; `--hugepages`: the EAL's memory on
 * hugepages (reserve them first), not `--no-huge`. `--burst N` sets both stacks' frames per receive burst (default the stack's
 * own); `--counters` prints each side's TCP counters that moved, per request. Rounds alternate between the modes, so that a busy
 * neighbour slows both alike; figures are the medians of the rounds.
 *
 * Beside the CPU time per request the table gives the wall time spent inside
 * each stack's poll per request (both run on this one thread, so this splits
 * the work between server and client; it includes time the process was off
 * the CPU, so it is the CPU figure's split only on an idle machine), the TCP
 * segments each side sent per request (as on the wire: a large segment counts
 * the segments it is cut into; in brackets, how many large ones), and
 * retransmissions and tail loss probes per request.
 *
 * Each configuration of each round runs in a process of its own (after
 * unmeasured passes that warm the JIT), as a deployed stack runs one mode per
 * process: in one process the mode that runs first shapes what the JIT
 * compiles for the code the two modes share, and the figures depend on the
 * order (at 16 connections over the ring, inline-r2c took 12-47% more CPU per
 * request than batch in 9 of 11 runs where batch ran first, 0-20% when
 * inline did; in processes of their own, 5-17% more at 16 and 256
 * connections, and the same at 1). `--one-process` runs every configuration
 * in this process instead, as before; `--one-process` with one mode in
 * `--modes` is the cheapest clean A/B of one mode.
 *
 * `--profile N` (Bun only) samples the measured run with JavaScriptCore's
 * sampling profiler (`bun:jsc` `profile`, every 50 µs; the sampling adds to
 * the CPU figure) and prints the N functions most often at the top of the
 * stack, with their file and the tier they ran in (`FTL` is the optimizing
 * tier; a function named on its own was not inlined into its caller).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  type Connection,
  type ConnectionHandlers,
  createHeapZone,
  createMemoryLink,
  createStack,
} from "../src/mod.ts";
import { CountingDevice } from "../tests/counting_device.ts";
import { Offload } from "../ffi/symbols.ts";
import { Dpdk, type Port } from "../src/device/dpdk/mod.ts";
import { DpdkDevice } from "../src/device/dpdk/device.ts";
import { dataRoomForChainedMtu, dataRoomForMtu } from "../src/device/dpdk/pool.ts";
import { memifBufferSize } from "../src/device/spec.ts";
import type { Device } from "../src/device/device.ts";
import { flagValue as arg } from "./_control.ts";

const connsList = arg("conns", "1,16,256").split(",").map(Number);
const requests = Number(arg("requests", "200000"));
const rounds = Number(arg("rounds", "5"));
const modes = arg("modes", "batch,inline").split(",") as ("batch" | "inline")[];
const link = arg("link", "memory");
const answerBytes = Number(arg("answer", "0"));
const ringBuffers = Number(arg("buffers", "8191"));
const onePass = process.argv.includes("--one-process");
const profileTop = Number(arg("profile", "0"));
/** `--counters`: print each side's TCP counters that moved in the measured run, per request. */
const showCounters = process.argv.includes("--counters");
/** Set once the unmeasured warm-up passes are over: counters are printed for measured runs only. */
let warmedUp = false;
/** Frames per receive burst of both stacks (the stack's `burst`; default its own, 64). */
const burst = Number(arg("burst", "0"));
/** `--mtu N` (memif): both ports' MTU; 0, the default: the port's own (1500). */
const mtu = Number(arg("mtu", "0"));
/** `--checksums always` (ring, memif): the shim computes and verifies TCP/IP checksums, as `checksums: "always"`. */
const checksums = arg("checksums", "auto");
if (checksums !== "auto" && checksums !== "always") {
  throw new Error(`--checksums: auto or always, got ${checksums}`);
}
if (checksums === "always" && link === "memory") {
  throw new Error("--checksums always: with --link ring or memif");
}
const noChecksums = checksums === "auto";
/** `--zero-copy` (memif): the server's port is memif's zero-copy client. */
const zeroCopy = process.argv.includes("--zero-copy");
/** `--hugepages`: the EAL on hugepages. */
const hugepages = process.argv.includes("--hugepages");
if (zeroCopy && link !== "memif") throw new Error("--zero-copy: with --link memif only");
/** In a child: the one configuration it measures, `MODE:CONNS`. */
const child = arg("child", "");
if (!Number.isInteger(answerBytes) || answerBytes < 0) throw new Error(`--answer: bytes, got ${answerBytes}`);
if (link !== "memory" && link !== "ring" && link !== "memif") {
  throw new Error(`--link: memory, ring or memif, got ${link}`);
}
if (!Number.isInteger(profileTop) || profileTop < 0) throw new Error(`--profile: a count, got ${profileTop}`);
if (!Number.isInteger(mtu) || (mtu !== 0 && (mtu < 576 || mtu > 65521))) {
  throw new Error(`--mtu: 576..65521, got ${mtu}`);
}
if (mtu !== 0 && link !== "memif") throw new Error("--mtu: with --link memif only");

/** The two ends: the in-memory link, or a net_ring pair made once and reused by every run. */
let ringEnds: [Device, Device] | undefined;
/** The two DPDK ports (ring, memif): their shim counters give the PMD's transmit calls. */
let ringPorts: Port[] = [];
let ringEal: Dpdk | undefined;
async function ends(): Promise<[Device, Device]> {
  if (link === "memory") {
    const za = createHeapZone({ name: "a", count: 4096 });
    const zb = createHeapZone({ name: "b", count: 4096 });
    return createMemoryLink({ zone: za, zoneB: zb });
  }
  if (ringEnds === undefined && link === "memif") {
    // Both roles of one memif socket in this process: each port copies into and out of the shared
    // ring, as between two processes, and has a zone of its own.
    const socket = `/tmp/micro-echo-${process.pid}.sock`;
    rmSync(socket, { force: true });
    const bsize = memifBufferSize(mtu || 1500);
    const memif = `socket=${socket},socket-abstract=no${bsize !== 2048 ? `,bsize=${bsize}` : ""}`;
    // The server's port (net_memif0) is memif's server, or with --zero-copy its zero-copy client.
    const dpdk = ringEal = await Dpdk.start({
      prefix: `micro-echo-${process.pid}`,
      memoryMb: 1024,
      hugepages,
      vdevs: zeroCopy
        ? [`net_memif1,role=server,${memif}`, `net_memif0,role=client,${memif},zero-copy=yes,rsize=11`]
        : [`net_memif0,role=server,${memif}`, `net_memif1,role=client,${memif}`],
    });
    const open = (name: string): Device => {
      const port = dpdk.port(name);
      const info = port.describe();
      const zc = zeroCopy && name === "net_memif0";
      // A zero-copy client's buffers take whole frames from the server's ring (see openDpdkPort).
      const dataRoom = zc ? dataRoomForMtu(mtu || 1500) : dataRoomForChainedMtu(mtu || 1500);
      const zone = dpdk.createZone(name, { count: ringBuffers, dataRoom });
      const txOffloads = info.txOffloads & Offload.tcpGso;
      port.configure({
        zone,
        txOffloads,
        noChecksums,
        softwareCoalescing: true,
        txQuads: zc,
        ...(mtu !== 0 ? { mtu, mtuPmdUnbounded: true } : {}),
      });
      if (zc && dpdk.shim.symbols.luna_mem_shareable() < 0) throw new Error(dpdk.shim.lastError());
      port.start();
      return new DpdkDevice(port, 0, txOffloads);
    };
    // memif's server is made and started first: it listens on the socket.
    ringEnds = [open("net_memif0"), open("net_memif1")];
    const [pa, pb] = ringPorts = [dpdk.port("net_memif0"), dpdk.port("net_memif1")];
    for (let i = 0; i < 500 && !(pa.link().up && pb.link().up); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (!(pa.link().up && pb.link().up)) throw new Error("memif: the link did not come up in 5 s");
    rmSync(socket, { force: true });
  }
  if (ringEnds === undefined) {
    const dpdk = ringEal = await Dpdk.start({ prefix: `micro-echo-${process.pid}`, memoryMb: 512 });
    const ports = dpdk.ringPair("echo", 1024);
    // One zone for both ports: net_ring hands the sender's buffer to the receiver, and the shim
    // takes only buffers of the port's own pool.
    const zone = dpdk.createZone("echo", { count: ringBuffers });
    const open = (port: (typeof ports)[number]): Device => {
      const info = port.describe();
      const csum = Offload.ipv4Cksum | Offload.tcpCksum;
      let txOffloads = (info.txOffloads & csum) === csum ? csum : 0;
      if ((info.txOffloads & Offload.tcpGso) !== 0) txOffloads |= Offload.tcpGso;
      port.configure({ zone, txOffloads, noChecksums, softwareCoalescing: true });
      port.start();
      return new DpdkDevice(port, 0, txOffloads);
    };
    ringEnds = [open(ports[0]), open(ports[1])];
    ringPorts = [...ports];
  }
  return ringEnds;
}

interface Figures {
  cpuUsPerReq: number;
  wallUsPerReq: number;
  txBurstsPerReq: number;
  /** The PMD's transmit calls (rte_eth_tx_burst) per request, both ports (ring, memif; 0 on memory). */
  pmdTxPerReq: number;
  rxCallsPerReq: number;
  rxBurstsPerReq: number;
  framesPerReq: number;
  emptyPerReq: number;
  pollsPerReq: number;
  /** Wall time inside each stack's poll() per request (one thread runs both: roughly each side's CPU). */
  serverUsPerReq: number;
  clientUsPerReq: number;
  /** TCP segments each side sent per request (as on the wire), and large segments the server sent. */
  serverSegsPerReq: number;
  serverLargePerReq: number;
  clientSegsPerReq: number;
  /** Retransmitted segments and tail loss probes per request, both sides. */
  retransPerReq: number;
  tlpPerReq: number;
  /**
   * Each request's latency, from the client's write to the last byte of its answer read: in the
   * client's loop iterations (each runs one poll of both stacks: a count the machine's load
   * changes little) and in µs of wall time; 50th and 99th percentiles and the largest.
   */
  latPollsP50: number;
  latPollsP99: number;
  latPollsMax: number;
  latUsP50: number;
  latUsP99: number;
  /** Connections that had an answer complete in the measured stretch (of `conns`). */
  served: number;
}

/**
 * The sampling profiler of Bun's JavaScriptCore (`bun:jsc`), as far as it is
 * used here: the samples' stacks, innermost frame first.
 */
interface Samples {
  stackTraces: {
    traces: { frames: { name: string; sourceID: number; category: string }[] }[];
    sources: { sourceID: number; url?: string }[];
  };
}
/** Set while a measured run is to be profiled (`--profile`). */
let profiling: ((f: () => void) => Samples) | undefined;

/** Prints the `profileTop` functions most often at the top of the stack: share, name, file, tier. */
function printProfile(title: string, p: Samples): void {
  const files = new Map<number, string>();
  for (const s of p.stackTraces.sources) files.set(s.sourceID, (s.url ?? "?").split("/").slice(-2).join("/"));
  const self = new Map<string, number>();
  let total = 0;
  for (const t of p.stackTraces.traces) {
    const f = t.frames[0];
    if (f === undefined) continue;
    total++;
    const k = `${f.name} ${files.get(f.sourceID) ?? ""} ${f.category}`;
    self.set(k, (self.get(k) ?? 0) + 1);
  }
  console.log(`profile ${title}: ${total} samples, self time`);
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, profileTop);
  for (const [k, n] of top) console.log(`${((100 * n) / total).toFixed(1).padStart(6)}%  ${k}`);
}

async function once(mode: "batch" | "inline", conns: number): Promise<Figures> {
  const [la, lb] = await ends();
  const da = new CountingDevice(la);
  const db = new CountingDevice(lb);
  // net_ring ports have no MAC of their own: each stack is given one.
  const b = burst > 0 ? { burst } : {};
  const server = await createStack({
    device: da,
    address: "198.18.0.1/24",
    mode,
    mac: "02:00:00:00:00:01",
    ...b,
  });
  const client = await createStack({
    device: db,
    address: "198.18.0.2/24",
    mode,
    mac: "02:00:00:00:00:02",
    ...b,
  });
  const echo = (c: Connection) => {
    const zone = c.zoneBytes;
    for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
      const n = c.write(zone, c.pieceOffset, len);
      if (n === 0) return;
      c.consume(n);
    }
  };
  // --answer: each 64-byte request is answered by answerBytes cut from one constant buffer.
  const answer = new Uint8Array(answerBytes).fill(0xa5);
  const owed = new Map<Connection, number>();
  // One request is in flight per connection (a closed loop): a piece is one whole request.
  const storage = (c: Connection) => {
    let left = owed.get(c) ?? 0;
    for (;;) {
      for (let n = 1; left > 0 && n > 0; left -= n) n = c.write(answer, answerBytes - left, left);
      const len = c.pieceLength;
      if (left > 0 || len === 0) break;
      c.consume(len);
      left = answerBytes;
    }
    owed.set(c, left);
  };
  // A backlog for every connection: with the default (128) at 256 connections, SYN cookies answered
  // the rest, and frames left over from the previous pass (the same ports) failed their check and
  // reset connections the client had open: up to half of them served nothing in a measured run.
  server.listen(7, (c) => {
    c.setNoDelay(true);
    return answerBytes > 0 ? { onData: storage, onWritable: storage } : { onData: echo, onWritable: echo };
  }, { backlog: Math.max(128, conns) });
  const request = new Uint8Array(64).fill(7);
  let done = 0;
  let sent = 0;
  let measuring = false;
  const have = new Map<Connection, number>();
  // When each connection's request in flight was written: the client's iteration and the clock.
  let opened = 0;
  /** Connections that had an answer complete in the measured stretch. */
  const served = new Set<Connection>();
  const askedAt = new Map<Connection, number>();
  const askedMs = new Map<Connection, number>();
  const latPolls: number[] = [];
  const latUs: number[] = [];
  const ask = (c: Connection) => {
    c.write(request);
    sent++;
    askedAt.set(c, client.loop.iterations);
    askedMs.set(c, performance.now());
  };
  const clientHandlers: ConnectionHandlers = {
    onOpen(c) {
      opened++;
      c.setNoDelay(true);
      ask(c);
    },
    onData(c) {
      let got = have.get(c) ?? 0;
      for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
        got += n;
        c.consume(n);
      }
      const expect = answerBytes > 0 ? answerBytes : 64;
      while (got >= expect) {
        got -= expect;
        if (measuring) {
          done++;
          latPolls.push(client.loop.iterations - (askedAt.get(c) ?? 0));
          latUs.push((performance.now() - (askedMs.get(c) ?? 0)) * 1000);
          served.add(c);
        }
        askedAt.delete(c);
        // The warm-up may outlast the cap while connections still open (SYNs retransmitted).
        if (!measuring || sent < requests + conns * 4) ask(c);
      }
      have.set(c, got);
    },
  };
  for (let i = 0; i < conns; i++) client.connect("198.18.0.1", 7, clientHandlers);
  // Warm-up: a tenth of the requests.
  let serverMs = 0;
  let clientMs = 0;
  const poll = (until: () => boolean) => {
    for (let i = 0; !until() && i < 100_000_000; i++) {
      const t0 = performance.now();
      server.poll();
      const t1 = performance.now();
      client.poll();
      serverMs += t1 - t0;
      clientMs += performance.now() - t1;
    }
  };
  // Every connection is open before the warm-up is counted: at 256 connections some SYNs wait for
  // their retransmission (a second), and connections that joined late were still in slow start in
  // the measured stretch (their answers cut short by the congestion window, the rest a round later).
  poll(() => opened === conns);
  const warm = sent + Math.max(requests / 10, conns * 4);
  poll(() => sent >= warm);
  const it0 = server.loop.iterations + client.loop.iterations;
  const tx0 = da.calls + db.calls;
  const pmdTx = () => ringPorts.reduce((n, p) => n + p.stats().txPmdCalls, 0);
  const pmd0 = pmdTx();
  const rc0 = da.rxCalls + db.rxCalls;
  const rb0 = da.rxBursts + db.rxBursts;
  const fr0 = da.frames + db.frames;
  const em0 = da.empty + db.empty;
  const sc0 = { ...server.tcp.counters };
  const cc0 = { ...client.tcp.counters };
  serverMs = clientMs = 0;
  measuring = true;
  sent = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  if (profiling) printProfile(`${mode} ${conns}`, profiling(() => poll(() => done >= requests)));
  else poll(() => done >= requests);
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  // A request still waiting at the end counts with its age so far: a connection starved all along
  // would otherwise not be in the figures at all.
  for (const at of askedAt.values()) latPolls.push(client.loop.iterations - at);
  const rank = (xs: number[], q: number) => {
    xs.sort((a, b) => a - b);
    return xs.length === 0 ? 0 : xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  };
  const figures = {
    cpuUsPerReq: (c1.user + c1.system) / done,
    wallUsPerReq: ((t1 - t0) * 1000) / done,
    txBurstsPerReq: (da.calls + db.calls - tx0) / done,
    pmdTxPerReq: (pmdTx() - pmd0) / done,
    rxCallsPerReq: (da.rxCalls + db.rxCalls - rc0) / done,
    rxBurstsPerReq: (da.rxBursts + db.rxBursts - rb0) / done,
    framesPerReq: (da.frames + db.frames - fr0) / done,
    emptyPerReq: (da.empty + db.empty - em0) / done,
    pollsPerReq: (server.loop.iterations + client.loop.iterations - it0) / done,
    serverUsPerReq: (serverMs * 1000) / done,
    clientUsPerReq: (clientMs * 1000) / done,
    serverSegsPerReq: (server.tcp.counters.outSegs - sc0.outSegs) / done,
    serverLargePerReq: (server.tcp.counters.outLargeSegs - sc0.outLargeSegs) / done,
    clientSegsPerReq: (client.tcp.counters.outSegs - cc0.outSegs) / done,
    retransPerReq: (server.tcp.counters.retransSegs - sc0.retransSegs + client.tcp.counters.retransSegs -
      cc0.retransSegs) / done,
    tlpPerReq:
      (server.tcp.counters.tlpProbes - sc0.tlpProbes + client.tcp.counters.tlpProbes - cc0.tlpProbes) /
      done,
    latPollsP50: rank(latPolls, 0.5),
    latPollsP99: rank(latPolls, 0.99),
    latPollsMax: rank(latPolls, 1),
    latUsP50: rank(latUs, 0.5),
    latUsP99: rank(latUs, 0.99),
    served: served.size,
  };
  if (showCounters && warmedUp) {
    for (const [side, st, c0] of [["server", server, sc0], ["client", client, cc0]] as const) {
      const now = st.tcp.counters as unknown as Record<string, number>;
      const was = c0 as unknown as Record<string, number>;
      const moved = Object.keys(was).filter((k) => typeof was[k] === "number" && now[k] !== was[k]);
      console.log(
        `counters ${mode} ${conns} ${side}, per request: ${
          moved.map((k) => `${k} ${((now[k] - was[k]) / done).toFixed(3)}`).join(", ")
        }`,
      );
    }
  }
  // Both at once: each close polls its own stack until the FINs are answered, yielding every few
  // hundred polls, so the two take turns; one after the other, the first waited out its grace
  // time (2 s) for a peer nobody polled.
  await Promise.all([client.close(), server.close()]);
  return figures;
}

declare const Bun: unknown;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};
const results = new Map<string, Figures[]>();
const record = (mode: string, conns: number, f: Figures) => {
  const key = `${mode} ${conns}`;
  if (!results.has(key)) results.set(key, []);
  results.get(key)!.push(f);
};
const enableProfile = async () => {
  if (typeof Bun === "undefined") throw new Error("--profile: Bun only (bun:jsc)");
  const jsc = "bun:jsc"; // a specifier Deno's type check leaves alone
  const { profile } = await import(jsc);
  profiling = (f) => profile(f, 50) as Samples;
};

/** Unmeasured runs of a child before its measured one. */
const childWarmPasses = 3;

/** Runs `mode` at `conns` in a child process: {@link childWarmPasses} times to warm the JIT, once measured. */
function inChild(mode: string, conns: number): Figures {
  const script = fileURLToPath(import.meta.url);
  const passed = [
    ...["--requests", String(requests), "--link", link, "--answer", String(answerBytes)],
    ...["--buffers", String(ringBuffers), "--burst", String(burst), "--mtu", String(mtu)],
    ...["--checksums", checksums],
    ...(zeroCopy ? ["--zero-copy"] : []),
    ...(hugepages ? ["--hugepages"] : []),
  ];
  if (profileTop > 0) passed.push("--profile", String(profileTop));
  if (showCounters) passed.push("--counters");
  const args = [
    ...(typeof Bun !== "undefined" ? [] : ["run", "-A"]),
    script,
    ...passed,
    "--child",
    `${mode}:${conns}`,
  ];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 600_000 });
  const line = r.stdout?.split("\n").find((l) => l.startsWith("FIGURES "));
  if (r.status !== 0 || line === undefined) {
    throw new Error(`${mode} ${conns} in a child: exit ${r.status}\n${r.stdout ?? ""}${r.stderr ?? ""}`);
  }
  for (const l of r.stdout.split("\n")) if (l !== "" && l !== line) console.log(l); // the profile
  return JSON.parse(line.slice("FIGURES ".length)) as Figures;
}

if (child !== "") {
  const [mode, conns] = child.split(":");
  // Unmeasured passes first: the JIT's compiler threads' CPU time would count too (after one
  // pass, the measured runs took about 30% more CPU per request than in one process).
  for (let i = 0; i < childWarmPasses; i++) await once(mode as "batch" | "inline", Number(conns));
  if (profileTop > 0) await enableProfile();
  warmedUp = true;
  console.log(`FIGURES ${JSON.stringify(await once(mode as "batch" | "inline", Number(conns)))}`);
  ringEal?.close();
  process.exit(0);
}
if (onePass) {
  // One unmeasured pass of each configuration first: the JIT's warm-up is not the stack's cost.
  for (const conns of connsList) for (const mode of modes) await once(mode, conns);
  if (profileTop > 0) await enableProfile();
}
warmedUp = true; // the one-process passes above were the warm-up
for (let r = 0; r < rounds; r++) {
  for (const conns of connsList) {
    const order = r % 2 === 0 ? modes : [...modes].reverse();
    for (const mode of order) record(mode, conns, onePass ? await once(mode, conns) : inChild(mode, conns));
  }
}
console.log(
  `micro_echo: ${link} link, ${
    answerBytes > 0 ? `${answerBytes}-byte answers, ` : ""
  }${requests} requests per figure, medians of ${rounds} rounds (${
    typeof Bun !== "undefined" ? "bun" : "deno"
  }, ${onePass ? "every configuration in one process" : "a process per configuration and round"})`,
);
console.log(
  "mode    conns  cpu µs/req  wall µs/req  tx calls/req  pmd tx/req  rx calls/req  rx bursts/req  frames/req  no-payload/req  polls/req" +
    "  server µs  client µs  server segs (large)  client segs  retrans  tlp" +
    "  latency polls p50/p99/max  µs p50/p99  served",
);
for (const conns of connsList) {
  for (const mode of modes) {
    const fs = results.get(`${mode} ${conns}`)!;
    const m = (k: keyof Figures) => median(fs.map((f) => f[k]));
    console.log(
      `${mode.padEnd(7)} ${String(conns).padStart(5)}  ${m("cpuUsPerReq").toFixed(2).padStart(10)}  ${
        m("wallUsPerReq").toFixed(2).padStart(11)
      }  ${m("txBurstsPerReq").toFixed(3).padStart(12)}  ${m("pmdTxPerReq").toFixed(3).padStart(10)}  ${
        m("rxCallsPerReq").toFixed(3).padStart(12)
      }  ${m("rxBurstsPerReq").toFixed(3).padStart(13)}  ${m("framesPerReq").toFixed(3).padStart(10)}  ${
        m("emptyPerReq").toFixed(3).padStart(14)
      }  ${m("pollsPerReq").toFixed(3).padStart(9)}  ${m("serverUsPerReq").toFixed(2).padStart(9)}  ${
        m("clientUsPerReq").toFixed(2).padStart(9)
      }  ${m("serverSegsPerReq").toFixed(2).padStart(11)} (${m("serverLargePerReq").toFixed(2)})  ${
        m("clientSegsPerReq").toFixed(2).padStart(11)
      }  ${m("retransPerReq").toFixed(3).padStart(7)}  ${m("tlpPerReq").toFixed(3).padStart(4)}  ${
        `${m("latPollsP50")}/${m("latPollsP99")}/${m("latPollsMax")}`.padStart(25)
      }  ${`${m("latUsP50").toFixed(0)}/${m("latUsP99").toFixed(0)}`.padStart(10)}  ${
        String(m("served")).padStart(6)
      }`,
    );
  }
}
// The ports, the zone and the EAL's run-time files go with the instance.
ringEal?.close();
