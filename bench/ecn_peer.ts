// The two luna-ts processes of the ecn workload (bench/ecn.ts), one at each
// end of a memif link.
//
// receiver: per congestion controller in `congestions` (the i-th), a sink on
//   port 9000 + 2i (what arrives is counted and dropped) and an echo on port
//   9001 + 2i, their connections with that controller (the DCTCP receiver's
//   exact CE echo, RFC 8257 3.2, is the connection's). Runs the stack's own
//   loop; `quit` on stdin ends it.
// sender: the stack with the fault injector's marking queue on its transmit
//   side (`faults`, direction "tx"). Each command
//     run {"config":"dctcp","congestion":"dctcp","ecn":"on","index":1,"bulk":2,"warmupS":1,"measureS":3}
//   opens `bulk` connections to the sink of controller `index` that send
//   without pause, and one connection to its echo that plays a closed-loop
//   64-byte ping-pong through the same queue; after `warmupS` it measures for
//   `measureS`: the ping's round trips (p50, p99, p999), the bulk goodput
//   (bytes the receiver acknowledged), the queue's occupancy (sampled every
//   50 µs), and the injector's and connections' counters; then closes them
//   all and prints `RESULT {...}` (or `FAIL {...}`).
// Usage: ecn_peer.ts '{"role":"sender","device":"memif:/tmp/x.sock,client","address":"198.18.1.2/24",
//                      "server":"198.18.1.1","mode":"batch","prefix":"...","lcores":"0@0","lifetimeS":300,
//                      "congestions":["cubic","dctcp"],"faults":{...}}'
import { type Connection, type ConnectionHandlers, createStack, type FaultSettings } from "../src/mod.ts";
import type { FaultInjector } from "../src/device/mod.ts";
import type { CongestionName } from "../src/tcp/congestion.ts";
import type { EcnMode } from "../src/tcp/config.ts";
import { type BenchEnd, benchStackConfig, onLines, report } from "./_control.ts";
import { LatencyHistogram } from "./_stats.ts";

interface PeerConfig extends BenchEnd {
  role: "sender" | "receiver";
  /** The receiver's address (sender). */
  server?: string;
  /** The controllers the receiver serves, in port order (see the header). */
  congestions: CongestionName[];
  /** The sender's marking queue. */
  faults?: FaultSettings;
  lifetimeS: number;
}

/** One configuration's run (sender). */
interface Phase {
  config: string;
  congestion: CongestionName;
  ecn: EcnMode;
  /** Its controller's place in `congestions`: the ports it uses. */
  index: number;
  bulk: number;
  warmupS: number;
  measureS: number;
}

/** The sink and echo ports of the i-th controller. */
const ecnPorts = (i: number): { sink: number; echo: number } => ({
  sink: 9000 + 2 * i,
  echo: 9001 + 2 * i,
});

const pingBytes = 64;
const queueSampleMs = 0.05;

const cfg = JSON.parse(process.argv[2]) as PeerConfig;
const stack = await createStack({
  ...benchStackConfig(cfg, { noDelay: true }),
  ...(cfg.faults !== undefined ? { faults: cfg.faults } : {}),
});
setTimeout(() => void quit("lifetime"), cfg.lifetimeS * 1000);
process.on("SIGINT", () => void quit("SIGINT"));
process.on("SIGTERM", () => void quit("SIGTERM"));

let quitting = false;
async function quit(why: string): Promise<void> {
  if (quitting) return;
  quitting = true;
  const stats = stack.stats();
  try {
    await stack.close(500);
  } finally {
    report("BYE", { why, tcp: stats.tcp });
    process.exit(0);
  }
}

if (cfg.role === "receiver") {
  let sunk = 0;
  const sink: ConnectionHandlers = {
    onData(c) {
      for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
        sunk += n;
        c.consume(n);
      }
    },
    onEnd: (c) => c.close(),
  };
  const echo = (c: Connection) => {
    const zone = c.zoneBytes;
    for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
      const n = c.write(zone, c.pieceOffset, len);
      if (n === 0) return; // send buffer full: onWritable brings us back
      c.consume(n);
    }
  };
  const echoHandlers: ConnectionHandlers = { onData: echo, onWritable: echo, onEnd: (c) => c.close() };
  cfg.congestions.forEach((congestion, i) => {
    const p = ecnPorts(i);
    stack.listen(p.sink, () => sink, { congestion });
    stack.listen(p.echo, (c) => {
      c.setNoDelay(true);
      return echoHandlers;
    }, { congestion });
  });
  onLines((line) => {
    if (line === "quit") void quit("asked");
    else if (line === "stats") report("STATS", { sunk, tcp: stack.stats().tcp });
  });
  console.log(`READY receiver ${cfg.device}`);
  await stack.run();
} else {
  await runSender();
}

async function runSender(): Promise<void> {
  const fi = stack.device as unknown as FaultInjector;
  if (typeof fi.queuedBytes !== "function") throw new Error("sender: no fault injector on the device");
  const yieldNow = () => new Promise((r) => setImmediate(r));

  /** Polls until `done()` or `ms` pass, calling `each(now)` after every poll; yields about every 20 ms. */
  async function pollFor(ms: number, done: () => boolean, each?: (now: number) => void): Promise<boolean> {
    const end = performance.now() + ms;
    let nextYield = performance.now() + 20;
    for (;;) {
      if (done()) return true;
      stack.poll();
      const now = performance.now();
      each?.(now);
      if (now >= end) return done();
      if (now >= nextYield) {
        await yieldNow();
        nextYield = performance.now() + 20;
      }
    }
  }

  const rtt = new LatencyHistogram();
  const queue = new LatencyHistogram(); // bytes, in the same log-linear buckets
  const chunk = new Uint8Array(1 << 16).fill(0x42);
  const ping = new Uint8Array(pingBytes).fill(0x5a);

  async function phase(p: Phase): Promise<Record<string, unknown>> {
    const ports = ecnPorts(p.index);
    const opts = { congestion: p.congestion, ecn: p.ecn };
    let sending = true;
    let opened = 0;
    let closed = 0;
    let closeError = "";
    const pump = (c: Connection) => {
      while (sending && c.write(chunk) > 0);
    };
    const onClose = (_c: Connection, error: string | undefined) => {
      closed++;
      if (error !== undefined) closeError = error;
    };
    const bulkHandlers: ConnectionHandlers = {
      onOpen(c) {
        opened++;
        pump(c);
      },
      onWritable: pump,
      onClose,
    };
    const flows: Connection[] = [];
    for (let i = 0; i < p.bulk; i++) flows.push(stack.connect(cfg.server!, ports.sink, bulkHandlers, opts));
    // The ping: 64 bytes out, 64 back, the next at once; timed from the write to the last byte back.
    let measuring = false;
    let sentAt = 0;
    let got = 0;
    let pings = 0;
    let errors = 0;
    const pinger = stack.connect(cfg.server!, ports.echo, {
      onOpen(c) {
        opened++;
        sentAt = performance.now();
        if (c.write(ping) !== pingBytes) errors++;
      },
      onData(c) {
        for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
          got += n;
          c.consume(n);
        }
        if (got < pingBytes) return;
        if (got > pingBytes) errors++;
        got = 0;
        const now = performance.now();
        if (measuring) {
          rtt.record((now - sentAt) * 1e6);
          pings++;
        }
        if (!sending) return;
        sentAt = now;
        if (c.write(ping) !== pingBytes) errors++;
      },
      onClose,
    }, { ...opts, noDelay: true });
    const conns = p.bulk + 1;
    if (!await pollFor(10_000, () => opened === conns)) {
      throw new Error(`${p.config}: ${opened} of ${conns} connections opened in 10 s`);
    }
    await pollFor(p.warmupS * 1000, () => false);

    rtt.reset();
    queue.reset();
    const acked0 = flows.map((c) => c.stats().bytesAcked);
    const tx0 = { ...fi.txCounters };
    const ping0 = pinger.stats();
    let nextSample = 0;
    // Gaps between polls longer than 1 ms (the process off the CPU, or a collection): their share and the longest.
    let last = performance.now();
    let stallMs = 0;
    let gapMaxMs = 0;
    const sampleQueue = (now: number) => {
      const gap = now - last;
      last = now;
      if (gap > 1) stallMs += gap;
      if (gap > gapMaxMs) gapMaxMs = gap;
      if (now < nextSample) return;
      nextSample = now + queueSampleMs;
      queue.record(fi.queuedBytes("tx", now));
    };
    measuring = true;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await pollFor(p.measureS * 1000, () => false, sampleQueue);
    measuring = false;
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const flowStats = flows.map((c) => c.stats());
    const pingStats = pinger.stats();
    const tx1 = { ...fi.txCounters };
    const ackedBytes = flowStats.reduce((a, s, i) => a + s.bytesAcked - acked0[i], 0);

    sending = false;
    for (const c of flows) c.close();
    pinger.close();
    const allClosed = await pollFor(15_000, () => closed === conns);
    const lat = rtt.summary();
    const q = queue.summary();
    const sum = (
      k: "retransSegs" | "retransTimeouts" | "eceIn" | "ecnReductions" | "cwrOut" | "idleRestarts",
    ) => flowStats.reduce((a, s) => a + s[k], 0);
    const d = (k: keyof typeof tx0) => tx1[k] - tx0[k];
    return {
      config: p.config,
      congestion: p.congestion,
      ecn: flowStats.every((s) => s.ecn),
      seconds: (t1 - t0) / 1000,
      goodput_mbit_per_s: (ackedBytes * 8) / ((t1 - t0) * 1000),
      pings,
      errors,
      rtt_p50_us: lat.p50_ns / 1000,
      rtt_p99_us: lat.p99_ns / 1000,
      rtt_p999_us: lat.p999_ns / 1000,
      queue_p50_bytes: q.p50_ns,
      queue_p99_bytes: q.p99_ns,
      queue_samples: q.samples,
      stalled: stallMs / (t1 - t0),
      // The sender's CPU time (all its threads: the compiler's and collector's too) over the stretch's length.
      cpu: (cpu.user + cpu.system) / 1000 / (t1 - t0),
      gap_max_ms: gapMaxMs,
      // The injector's transmit side in the measured stretch.
      frames: d("frames"),
      throttled: d("throttled"),
      ce_marked: d("ceMarked"),
      queue_drops: d("queueDrops"),
      // The bulk connections, summed; DCTCP's alpha per connection at the stretch's end.
      retrans_segs: sum("retransSegs"),
      retrans_timeouts: sum("retransTimeouts"),
      ece_in: sum("eceIn"),
      ecn_reductions: sum("ecnReductions"),
      cwr_out: sum("cwrOut"),
      idle_restarts: sum("idleRestarts"),
      alpha: flowStats.map((s) => s.dctcpAlpha ?? null),
      cwnd: flowStats.map((s) => s.cwnd),
      srtt_ms: flowStats.map((s) => s.rttMs),
      ping_retrans_segs: pingStats.retransSegs - ping0.retransSegs,
      ping_retrans_timeouts: pingStats.retransTimeouts - ping0.retransTimeouts,
      allClosed,
      closeError,
    };
  }

  let busy: Promise<void> = Promise.resolve();
  onLines((line) => {
    if (line === "quit") {
      void busy.then(() => quit("asked"));
      return;
    }
    if (!line.startsWith("run ")) return;
    const p = JSON.parse(line.slice(4)) as Phase;
    busy = busy.then(async () => {
      try {
        report("RESULT", await phase(p));
      } catch (e) {
        report("FAIL", { error: String((e as Error)?.stack ?? e), stats: stack.stats().tcp });
      }
    });
  });
  // Resolve the receiver's address before the first phase.
  await pollFor(50, () => false);
  console.log(`READY sender ${cfg.device}`);
  for (;;) {
    await busy;
    stack.poll();
    await new Promise((r) => setTimeout(r, 1));
  }
}
