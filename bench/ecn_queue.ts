/**
 * ECN through a marking queue: DCTCP against CUBIC, luna-ts to luna-ts on
 * the in-memory link in virtual time (the fault injector's rate limit with
 * a bounded queue that marks CE above K, as a data-centre switch does; see
 * FaultOptions.ceThresholdBytes). In each run two bulk connections fill the
 * bottleneck one way while a third plays a 64-byte ping-pong through the
 * same queue, as a storage client's small requests share a link with bulk
 * traffic. Figures: the ping's RTT p50/p99 (virtual ms: what the queue
 * adds) and the bulk goodput (Mbit/s of virtual time), per configuration:
 * dctcp (ECN on), cubic (no ECN: the queue fills until it drops) and
 * cubic-ecn (RFC 3168's halving on ECE), then DCTCP / CUBIC ratios. The
 * runs are deterministic: rounds differ by seed.
 *
 * Goal (issue 14): DCTCP p99 RTT <= 0.5x CUBIC's at >= 0.95x its goodput.
 *
 * Virtual time, not memif: the marking queue lives in the fault injector,
 * which wraps the in-memory link here; the figures are of the TCP logic and
 * the queue model, not of the machine (the run is as fast as the CPU allows
 * and does not change them). The same experiment in real time, luna-ts to
 * luna-ts over memif, is the workload ecn of `bun run bench` (bench/ecn.ts);
 * `--delay` (one way, ms) set to half a real pair's base RTT compares the two.
 *
 *   bun bench/ecn_queue.ts [--mb 20] [--rounds 3] [--rate 1e9] [--k 30000] [--queue 1000000] [--delay 0.05]
 *
 * @module
 */
import type { FaultOptions } from "../src/device/mod.ts";
import type { TcpConfig } from "../src/tcp/config.ts";
import type { Tcb } from "../src/tcp/tcb.ts";
import { addrB, twoHosts } from "../tests/sim.ts";
import { attachTcp } from "../tests/tcp_sim.ts";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const mb = arg("mb", 20);
const rounds = arg("rounds", 3);
const rate = arg("rate", 1e9);
const k = arg("k", 30_000);
const queueMax = arg("queue", 1_000_000);
const delayMs = arg("delay", 0.05); // one way, ms: a data-centre hop

interface Result {
  p50: number;
  p99: number;
  mbitPerS: number;
  pings: number;
  drops: number;
  marks: number;
  alpha: number | undefined;
}

/** One run: two bulk flows of `mb` MB each and a ping-pong, A to B through the marking queue. */
function run(tcp: Partial<TcpConfig>, seed: number): Result {
  const queue: FaultOptions = {
    bandwidthBps: rate,
    ceThresholdBytes: k,
    queueBytesMax: queueMax,
    jitterMs: 0.001,
  };
  const { a, b, clock } = twoHosts({ seed, faultsAtoB: queue, delayMs, buffers: 16384 });
  const ta = attachTcp(a, { ...tcp, sndBufBytes: 4 << 20, rcvBufBytes: 4 << 20 });
  const tb = attachTcp(b, { ...tcp, sndBufBytes: 4 << 20, rcvBufBytes: 4 << 20 });
  const total = mb * 1e6;
  const chunk = new Uint8Array(65536);
  const sink = new Uint8Array(65536);
  let received = 0;
  let doneFlows = 0;
  let firstByteAt = -1;
  tb.listen(80, () => ({
    onData: (c: Tcb) => {
      for (let n; (n = tb.read(c, sink, clock.now)) > 0;) {
        if (firstByteAt < 0) firstByteAt = clock.now;
        received += n;
      }
    },
    onEnd: () => doneFlows++,
  }));
  // The ping's server answers each 64-byte request with 64 bytes.
  tb.listen(81, () => ({
    onData: (c: Tcb) => {
      for (let n; (n = tb.read(c, sink, clock.now)) > 0;) tb.write(c, sink.subarray(0, n), clock.now);
    },
  }));
  const flows: Tcb[] = [];
  for (let i = 0; i < 2; i++) {
    let sent = 0;
    const pump = (c: Tcb) => {
      while (sent < total) {
        const n = ta.write(c, chunk, clock.now, 0, Math.min(chunk.length, total - sent));
        if (n === 0) return;
        sent += n;
      }
      ta.close(c, clock.now);
    };
    flows.push(ta.connect(addrB, 80, { onOpen: pump, onWritable: pump }, clock.now));
  }
  const rtts: number[] = [];
  let pingAt = 0;
  let got = 0;
  const ping = ta.connect(addrB, 81, {
    onOpen: (c: Tcb) => {
      pingAt = clock.now;
      ta.write(c, chunk.subarray(0, 64), clock.now);
    },
    onData: (c: Tcb) => {
      for (let n; (n = ta.read(c, sink, clock.now)) > 0;) got += n;
      if (got < 64) return;
      got -= 64;
      if (firstByteAt >= 0 && doneFlows === 0) rtts.push(clock.now - pingAt);
      pingAt = clock.now;
      ta.write(c, chunk.subarray(0, 64), clock.now);
    },
  }, clock.now);
  ping.noDelay = true;
  const ok = clock.runUntil(() => doneFlows === 2, 600_000);
  if (!ok) {
    throw new Error(`${JSON.stringify(tcp)} seed ${seed}: the transfers did not finish (${received} bytes)`);
  }
  rtts.sort((x, y) => x - y);
  const cc = flows[0].cc as { alpha?: number };
  const fi = a.device as unknown as { txCounters: { queueDrops: number; ceMarked: number } };
  return {
    p50: rtts[Math.floor(rtts.length * 0.5)],
    p99: rtts[Math.floor(rtts.length * 0.99)],
    mbitPerS: received * 8 / ((clock.now - firstByteAt) * 1000),
    pings: rtts.length,
    drops: fi.txCounters.queueDrops,
    marks: fi.txCounters.ceMarked,
    alpha: cc.alpha,
  };
}

const configs: Record<string, Partial<TcpConfig>> = {
  dctcp: { congestion: "dctcp", ecn: "on" },
  cubic: { congestion: "cubic" },
  "cubic-ecn": { congestion: "cubic", ecn: "on" },
};

const median = (v: number[]) => v.slice().sort((x, y) => x - y)[v.length >> 1];
const results: Record<string, Result[]> = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, tcp] of Object.entries(configs)) {
    const res = run(tcp, 100 + r);
    (results[name] ??= []).push(res);
    console.error(
      `round ${r + 1} ${name}: ping p50 ${res.p50.toFixed(3)} ms p99 ${
        res.p99.toFixed(3)
      } ms (${res.pings}), ` +
        `${res.mbitPerS.toFixed(1)} Mbit/s, drops ${res.drops}, CE marks ${res.marks}` +
        (res.alpha !== undefined ? `, alpha ${res.alpha.toFixed(3)}` : ""),
    );
  }
}
console.log(
  `\nECN queue: ${
    rate / 1e6
  } Mbit/s, K ${k} B, queue ${queueMax} B, 2 x ${mb} MB + ping; medians of ${rounds}`,
);
console.log("config       p50 ms   p99 ms   Mbit/s   drops");
const fig: Record<string, { p50: number; p99: number; mbit: number }> = {};
for (const [name, list] of Object.entries(results)) {
  const f = {
    p50: median(list.map((x) => x.p50)),
    p99: median(list.map((x) => x.p99)),
    mbit: median(list.map((x) => x.mbitPerS)),
  };
  fig[name] = f;
  console.log(
    `${name.padEnd(12)} ${f.p50.toFixed(3).padStart(6)}   ${f.p99.toFixed(3).padStart(6)}   ${
      f.mbit.toFixed(1).padStart(6)
    }   ${median(list.map((x) => x.drops))}`,
  );
}
const p99Ratio = fig.dctcp.p99 / fig.cubic.p99;
const gpRatio = fig.dctcp.mbit / fig.cubic.mbit;
console.log(
  `dctcp / cubic: p99 RTT ${p99Ratio.toFixed(3)}x (goal <= 0.5), goodput ${
    gpRatio.toFixed(3)
  }x (goal >= 0.95): ${p99Ratio <= 0.5 && gpRatio >= 0.95 ? "met" : "NOT met"}`,
);
