/**
 * Micro-benchmark: what one SYN costs a listener whose backlog is full, in ns
 * per SYN, on the in-memory link (no DPDK, no kernel): the frame's receive
 * path (Ethernet, IPv4 and TCP checks, the connection lookup, the listener),
 * the SYN cookie, the SYN-ACK's header and its transmission. Host A listens
 * on port 80 with a backlog of 0, so every SYN is answered with a cookie and
 * no state; the SYNs (MSS, SACK-permitted, timestamps, window scale, from
 * 4,096 source ports) are written into A's buffers as a NIC would and handed
 * to A's IP layer 32 at a time; the SYN-ACKs go out through A's transmit
 * burst and are drained on the other end.
 *
 * Reported, each the median of the rounds: `path` (the whole per-SYN cost as
 * above, every SYN answered: tcp.synCookiesPerPoll Infinity), `budget8` (the
 * same with the default budget of 8 answers per poll, the loop's poll after
 * each burst of 32: 24 of 32 shed), `flood` (a budget of 1: 31 of 32 shed, as under a
 * flood well beyond the budget, where bench/synflood.ts sheds about 97% of the SYNs), `cookie`
 * (SynCookies.isn + tsval alone) and `siphash` (one SipHash of 6 words, for scale). The figures
 * include the feeder's own work per SYN (a buffer taken and a frame copied into it, as a NIC would). Before timing, every SYN must have drawn one
 * SYN-ACK and left no connection behind.
 *
 * ```sh
 * node_modules/.bin/bun bench/micro_syn.ts
 * node_modules/.bin/deno run -A bench/micro_syn.ts
 * ```
 *
 * Options: `--rounds N` (default 7), `--syns N` per round (default 200,000).
 *
 * `--baseline DIR`: another checkout of luna-ts; then only the `flood` figure
 * is taken, for its tree and this one in the same process, the two sides
 * alternating round by round (their order turning), each round's CPU time
 * (process.cpuUsage) over `--syns` SYNs: an A/B comparison that a busy
 * machine disturbs less than two runs one after the other. Prints each
 * side's median and quartiles and the ratio of the medians.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import process from "node:process";
import { SipHash } from "../src/tcp/siphash.ts";
import { SynCookies } from "../src/tcp/syn_cookie.ts";
import type { TcpLayer } from "../src/tcp/tcp_layer.ts";
import type { TcpFlags, TcpPacket, TcpRepr } from "../src/wire/mod.ts";
import type { twoHosts } from "../tests/sim.ts";

declare const Deno: { args: string[]; version: { deno: string } } | undefined;
declare const Bun: { version: string } | undefined;

const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const rounds = opt("--rounds", 7);
const baselineAt = args.indexOf("--baseline");
const baselineDir = baselineAt >= 0 ? args[baselineAt + 1] : undefined;
const syns = opt("--syns", 200_000);
const burst = 32;
const templates = 4096;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[(s.length - 1) >> 1];
}

/** Adds `delta` to the sequence number of the TCP header at `at`, its checksum kept (RFC 1624). */
function patchSeq(v: DataView, at: number, delta: number): void {
  if (delta === 0) return;
  const old = v.getUint32(at + 4);
  const seq = (old + delta) >>> 0;
  v.setUint32(at + 4, seq);
  let sum = ~v.getUint16(at + 16) & 0xffff;
  sum += (~(old >>> 16) & 0xffff) + (~old & 0xffff) + (seq >>> 16) + (seq & 0xffff);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(at + 16, ~sum & 0xffff);
}

/** What a feeder is built from: the modules of one checkout (this one, or --baseline's). */
interface Modules {
  DESC_WORDS: number;
  TcpLayer: typeof TcpLayer;
  TcpFlags: typeof TcpFlags;
  TcpPacket: typeof TcpPacket;
  TcpRepr: typeof TcpRepr;
  ipHeadroom: number;
  addrA: number;
  addrB: number;
  twoHosts: typeof twoHosts;
}

/** The modules of the checkout at `root` (a file URL ending in a slash). */
async function modulesOf(root: string): Promise<Modules> {
  const [device, tcp, wire, ip, sim] = await Promise.all([
    import(`${root}src/device/mod.ts`),
    import(`${root}src/tcp/tcp_layer.ts`),
    import(`${root}src/wire/mod.ts`),
    import(`${root}src/ip/mod.ts`),
    import(`${root}tests/sim.ts`),
  ]);
  return {
    DESC_WORDS: device.DESC_WORDS,
    TcpLayer: tcp.TcpLayer,
    TcpFlags: wire.TcpFlags,
    TcpPacket: wire.TcpPacket,
    TcpRepr: wire.TcpRepr,
    ipHeadroom: ip.ipHeadroom,
    addrA: sim.addrA,
    addrB: sim.addrB,
    twoHosts: sim.twoHosts,
  };
}

/**
 * A listener host of checkout `m` fed SYN bursts; `budget`: its
 * tcp.synCookiesPerPoll. Returns the feeder and its TCP layer.
 */
function makeFeeder(m: Modules, budget: number) {
  const { DESC_WORDS, TcpLayer, TcpFlags, TcpPacket, TcpRepr, ipHeadroom, addrA, addrB, twoHosts } = m;
  const { a, b, clock } = twoHosts({ delayMs: 0, buffers: 16_384 });
  clock.now = 1000;
  const tcp = new TcpLayer(a.ip, { synCookiesPerPoll: budget }, { key: new Uint8Array(16).fill(7) });
  a.onPoll = (now) => tcp.poll(now);
  tcp.listen(80, () => {}, 0);
  // Each learns the other's MAC first.
  let pong = false;
  b.ip.onEchoReply = () => pong = true;
  b.ip.sendEchoRequest(addrA, 1, 1, 8, clock.now);
  if (!clock.runUntil(() => pong, 10)) throw new Error("no echo reply: the hosts never met");

  // The SYN frames, built by B's IP layer and taken off A's device before A sees them.
  const frameBytes: Uint8Array[] = [];
  const frameOff: number[] = [];
  {
    const repr = new TcpRepr();
    const view = new TcpPacket();
    const descs = new Uint32Array(64 * DESC_WORDS);
    const zb = b.zone;
    for (let i = 0; i < templates; i++) {
      repr.srcPort = 20_000 + i;
      repr.dstPort = 80;
      repr.seq = (i * 2_654_435_761) >>> 0;
      repr.ack = 0;
      repr.flags = TcpFlags.syn;
      repr.window = 64_240;
      repr.urgent = 0;
      repr.payloadLen = 0;
      const o = repr.options;
      o.clear();
      o.mss = 1460;
      o.sackPermitted = true;
      o.timestamps = true;
      o.tsVal = 1_000_000 + i;
      o.tsEcr = 0;
      o.windowScale = 7;
      const h = zb.take();
      const off = zb.dataStart(h) + zb.headroom + ipHeadroom;
      const len = repr.headerLen();
      repr.emit(view.attach(zb.bytes, off, len), addrB, addrA);
      b.ip.sendTcp(h, off, len, addrA, clock.now);
      b.ip.flush(clock.now);
      const n = a.device.rx(descs, 64, clock.now);
      for (let k = 0; k < n; k++) {
        const hh = descs[k * DESC_WORDS];
        const w = descs[k * DESC_WORDS + 1];
        frameBytes.push(a.zone.data(hh, w & 0xffff, w >>> 16).slice());
        frameOff.push(w & 0xffff);
        a.zone.release(hh);
      }
    }
    if (frameBytes.length !== templates) {
      throw new Error(`built ${frameBytes.length} SYN frames of ${templates}`);
    }
  }

  const rxDescs = new Uint32Array(burst * DESC_WORDS);
  const drain = new Uint32Array(512 * DESC_WORDS);
  let next = 0;
  let synAcks = 0;

  /** Feeds `n` SYNs to A (bursts of 32), drains B's side. */
  function feed(n: number): void {
    const za = a.zone;
    const bytes = za.bytes;
    const view = za.view;
    const zb = b.zone;
    for (let done = 0; done < n; done += burst) {
      const m = Math.min(burst, n - done);
      for (let k = 0; k < m; k++) {
        const i = next++ & (templates - 1);
        const h = za.take();
        const f = frameBytes[i];
        const start = za.dataStart(h);
        bytes.set(f, start + frameOff[i]);
        // A fresh sequence number each time round the templates, as a flood's SYNs carry: the same
        // SYN again would be taken for a retransmission (syn_retry.ts).
        patchSeq(view, start + frameOff[i] + 34, next >>> 12);
        const at = k * DESC_WORDS;
        rxDescs[at] = h;
        rxDescs[at + 1] = (f.length << 16) | frameOff[i];
        rxDescs[at + 2] = 0;
        rxDescs[at + 3] = 0;
      }
      a.ip.receive(rxDescs, m, clock.now);
      a.ip.flush(clock.now);
      for (let got; (got = b.device.rx(drain, 512, clock.now)) > 0;) {
        for (let k = 0; k < got; k++) zb.release(drain[k * DESC_WORDS]);
        synAcks += got;
      }
      tcp.poll(clock.now); // as the loop does after each burst: the budget is whole again
      clock.now += 0.5; // 64k SYN/s of virtual time: the shed memory (syn_retry.ts) ages as under a flood
    }
  }
  return { feed, tcp, answered: () => synAcks };
}

// Correctness first: one SYN-ACK per SYN without a budget, 8 of each 32 with the default one, 1 with a budget of 1 (and
// the few shed SYNs whose hash the shed memory of syn_retry.ts took for a retransmission); no state.
const here = await modulesOf(new URL("../", import.meta.url).href);
const { addrA, addrB } = here;
const all = makeFeeder(here, Infinity);
const budgeted = makeFeeder(here, 8);
const flood = makeFeeder(here, 1);
const feeders: [ReturnType<typeof makeFeeder>, number, number][] = [[all, 10_016, 0], [budgeted, 2_504, 32], [
  flood,
  313,
  32,
]];
const baselineFlood = baselineDir === undefined
  ? undefined
  : makeFeeder(await modulesOf(pathToFileURL(baselineDir).href.replace(/\/?$/, "/")), 1);
if (baselineFlood !== undefined) feeders.push([baselineFlood, 313, 32]);
for (const [f, want, slack] of feeders) {
  f.feed(10_016);
  const c = f.tcp.counters;
  const n = f.answered();
  if (
    n < want || n > want + slack || c.synCookiesSent !== n || c.synsShed !== 10_016 - n ||
    f.tcp.connections !== 0
  ) {
    throw new Error(
      `10,016 SYNs drew ${n} SYN-ACKs, ${c.synCookiesSent} cookies, ${c.synsShed} shed, ` +
        `${f.tcp.connections} connections (expected ${want} SYN-ACKs, or up to ${slack} more)`,
    );
  }
}

const runtime = typeof Bun !== "undefined" ? `bun ${Bun.version}` : `deno ${Deno!.version.deno}`;
if (baselineFlood !== undefined) {
  // A/B: CPU time per SYN of the flood path, the two trees alternating.
  const sides = { this: flood, baseline: baselineFlood };
  const ns: Record<string, number[]> = { this: [], baseline: [] };
  for (let r = 0; r < rounds; r++) {
    for (const k of (r % 2 === 0 ? ["this", "baseline"] : ["baseline", "this"]) as ("this" | "baseline")[]) {
      const c0 = process.cpuUsage();
      sides[k].feed(syns);
      const c = process.cpuUsage(c0);
      ns[k].push(((c.user + c.system) * 1000) / syns);
    }
  }
  const q = (v: number[], f: number) => [...v].sort((a, b) => a - b)[Math.round((v.length - 1) * f)];
  for (const k of ["this", "baseline"]) {
    console.log(
      `${runtime} ${k}: flood ${median(ns[k]).toFixed(0)} ns/SYN of CPU (quartiles ${
        q(ns[k], 0.25).toFixed(0)
      }-${q(ns[k], 0.75).toFixed(0)}, ${rounds} rounds of ${syns} SYNs)`,
    );
  }
  console.log(`this / baseline: ${(median(ns.this) / median(ns.baseline)).toFixed(3)}`);
  console.log(JSON.stringify({
    workload: "micro_syn",
    runtime,
    rounds,
    syns,
    baseline: baselineDir,
    flood_cpu_ns_per_syn: median(ns.this),
    baseline_flood_cpu_ns_per_syn: median(ns.baseline),
    ratio: median(ns.this) / median(ns.baseline),
  }));
  process.exit(0);
}

const cookies = new SynCookies(new Uint8Array(16).fill(7));
const hash = new SipHash(new Uint8Array(16).fill(7));
let sink = 0;
const results: Record<string, number[]> = { path: [], budget8: [], flood: [], cookie: [], siphash: [] };
for (let r = 0; r < rounds; r++) {
  let t0 = performance.now();
  all.feed(syns);
  results.path.push(((performance.now() - t0) * 1e6) / syns);
  t0 = performance.now();
  budgeted.feed(syns);
  results.budget8.push(((performance.now() - t0) * 1e6) / syns);
  t0 = performance.now();
  flood.feed(syns);
  results.flood.push(((performance.now() - t0) * 1e6) / syns);
  t0 = performance.now();
  for (let i = 0; i < syns; i++) {
    sink ^= cookies.isn(addrA, 80, addrB, 20_000 + (i & 4095), i, 1460, 1000 + i);
    sink ^= cookies.tsval(i, 7, true, false);
  }
  results.cookie.push(((performance.now() - t0) * 1e6) / syns);
  t0 = performance.now();
  for (let i = 0; i < syns; i++) {
    hash.hashWords6(addrA, addrB, i, i, 3, 5);
    sink ^= hash.lo;
  }
  results.siphash.push(((performance.now() - t0) * 1e6) / syns);
}
const line = Object.entries(results).map(([k, v]) => `${k} ${median(v).toFixed(0)} ns/SYN`).join(", ");
console.log(`${runtime}: ${line} (median of ${rounds} rounds of ${syns} SYNs; ${sink & 1})`);
console.log(JSON.stringify({
  workload: "micro_syn",
  runtime,
  rounds,
  syns,
  ...Object.fromEntries(
    Object.entries(results).map(([k, v]) => [`${k}_ns_per_syn`, median(v)]),
  ),
}));
