// The luna-ts client of the TCP benchmarks: one stack on one device, running
// workloads against a server (bench/luna_server.ts) on the other end. It
// polls the stack itself, yielding to the runtime only every 20 ms.
// Latencies go to a log-linear histogram (within 0.8%; the C client keeps
// every sample and is exact).
// Commands on stdin, one JSON phase per line:
//   run {"workload":"echo","conns":16,"size":64,"warmupS":0.3,"measureS":1}
//   run {"workload":"connrate","conns":16,"size":64,"warmupS":0.3,"measureS":1}
//   run {"workload":"bulk","bytes":268435456}
//   run {"workload":"storage","conns":16,"size":64,"resp":4096,"warmupS":0.3,"measureS":1}
//       (the echo loop against port 11: each request's first 4 bytes ask for
//       `resp` bytes of answer)
//   run {"workload":"idle","conns":1000000,"ports":{"from":20000,"count":16},"inFlight":256,"timeoutS":150}
//       (opens `conns` connections and holds them idle, for the concurrency
//       workload: the k-th from local port 1024 + floor(k / count) to server
//       port from + k % count, at most `inFlight` handshakes at a time; its
//       RESULT says how many were established, and the client's heap and
//       RSS before and after, each after two full collections)
//   run {"workload":"idlecount"}   (how many of the idle connections are still open)
//   run {"workload":"idleanswer","conns":20000,"timeoutS":120}
//       (polls without pause until `conns` more idle connections have closed:
//       the server closed them first and each FIN was answered with ours, see
//       idleHandlers; the TIME-WAIT phase of the concurrency workload)
//   quit
//   abandon   exits at once, without closing the connections one by one
// Each phase prints `RESULT {...}` (or `FAIL {...}`).
// Usage: luna_client.ts '{"device":"memif:/tmp/x.sock,client","address":"198.18.1.2/24",
//                         "server":"198.18.1.1","mode":"inline","prefix":"...","lcores":"0@0","lifetimeS":600}'
import { ConfigError, type Connection, type ConnectionHandlers, createStack } from "../src/mod.ts";
import type { LoopStalls } from "../src/loop/loop.ts";
import {
  type BenchEnd,
  benchStackConfig,
  clientLossKeys,
  fullGc,
  type HeapMarks,
  heapUsed,
  onLines,
  report,
  stretchEnd,
  stretchStart,
} from "./_control.ts";
import { LatencyHistogram } from "./_stats.ts";

interface ClientConfig extends BenchEnd {
  server: string;
  lifetimeS: number;
}

interface Phase {
  workload: "echo" | "connrate" | "bulk" | "storage" | "idle" | "idlecount" | "idleanswer";
  /** idle: server ports `from` .. `from + count - 1`. */
  ports?: { from: number; count: number };
  /** idle: handshakes in flight at most. */
  inFlight?: number;
  /** idle: give up opening after this long. */
  timeoutS?: number;
  conns?: number;
  size?: number;
  /** storage: bytes of each answer. */
  resp?: number;
  warmupS?: number;
  measureS?: number;
  bytes?: number;
  /** bulk: bytes sent on a connection of their own before the measured one, not counted... */
  warmBytes?: number;
  /** ...again on a new connection each time until this many seconds have passed. */
  warmS?: number;
}

const cfg = JSON.parse(process.argv[2]) as ClientConfig;
// The client is the load generator: its TIME-WAIT is short and its port
// range wide, so that the connection rate measures the server (64,512
// ports held 200 ms each allow 300k connections/s to one server port).
const stack = await createStack(
  benchStackConfig(cfg, { noDelay: true, timeWaitMs: 200, ephemeralPortMin: 1024, ephemeralPortMax: 65535 }),
);

const latency = new LatencyHistogram();
const yieldNow = () => new Promise((r) => setImmediate(r));

/** Polls until `done()` or `ms` pass, calling `each` after every poll; yields to the runtime about every 20 ms. */
async function pollFor(ms: number, done: () => boolean = () => false, each?: () => void): Promise<boolean> {
  const end = performance.now() + ms;
  let nextYield = performance.now() + 20;
  for (;;) {
    if (done()) return true;
    stack.poll();
    each?.();
    const now = performance.now();
    if (now >= end) return done();
    if (now >= nextYield) {
      await yieldNow();
      nextYield = performance.now() + 20;
    }
  }
}

// The measured stretch is framed by forced collections and marked in JSC's
// GC log, which the parent reads for what was allocated in between.
function heapBefore(): number {
  stretchStart();
  return heapUsed();
}

function heapAfter(before: number): HeapMarks {
  const after = heapUsed();
  stretchEnd();
  fullGc();
  return { before, after, afterGc: heapUsed() };
}

/**
 * Closed-loop echo: each connection sends `size` bytes, waits for them back,
 * sends again. Storage (`resp` set): the same loop against port 11, each
 * request asking for `resp` bytes of answer in its first 4 bytes.
 */
async function echo(p: Phase): Promise<Record<string, unknown>> {
  const conns = p.conns ?? 1;
  const size = p.size ?? 64;
  const storage = p.workload === "storage";
  const expect = storage ? p.resp ?? 4096 : size;
  const sentAt = new Float64Array(conns);
  const got = new Int32Array(conns);
  const seq = new Uint32Array(conns);
  const req = new Uint8Array(size).fill(0x5a);
  let measuring = false;
  let sending = true;
  let outstanding = 0;
  let opened = 0;
  let closed = 0;
  let errors = 0;
  let closeErrors = "";

  if (storage) new DataView(req.buffer).setUint32(0, expect, true);
  // LUNA_BENCH_TRACE=N: the timeline of connection 0's first N measured requests, in the RESULT as
  // `trace`: [µs from the first, round trip µs, client polls meanwhile, of them with frames].
  const traceMax = Number(process.env.LUNA_BENCH_TRACE ?? 0);
  const trace: number[][] = [];
  let traced = 0;
  let traceT0 = 0;
  let sentPolls = 0;
  let sentRx = 0;
  const sendReq = (c: Connection, i: number, now: number) => {
    const s = seq[i] = (seq[i] + 1) >>> 0;
    if (!storage) {
      req[0] = s;
      req[1] = s >>> 8;
    }
    sentAt[i] = now;
    if (i === 0) {
      sentPolls = stack.loop.iterations;
      sentRx = stack.loop.rxBursts;
    }
    got[i] = 0;
    outstanding++;
    if (c.write(req) !== size) errors++;
  };
  const handlers: ConnectionHandlers = {
    onOpen() {
      opened++;
    },
    onData(c) {
      const i = c.data as number;
      // Zero-copy and view-less: the piece where it lies in the zone.
      const v = c.zoneBytes;
      for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
        // A light check that the bytes are ours: the sequence and the last byte.
        const p0 = c.pieceOffset;
        const last = v[p0 + len - 1];
        const at = got[i];
        const s = seq[i];
        if (storage) {
          if (at + len === expect && last !== 0xa5) errors++;
        } else {
          if (at === 0 && (v[p0] !== (s & 0xff) || (len > 1 && v[p0 + 1] !== ((s >>> 8) & 0xff)))) errors++;
          if (at + len === size && last !== 0x5a) errors++;
        }
        got[i] = at + len;
        c.consume(len);
      }
      if (got[i] >= expect) {
        if (got[i] > expect) errors++;
        const now = performance.now();
        outstanding--;
        if (measuring) latency.record((now - sentAt[i]) * 1e6);
        if (measuring && i === 0 && traced < traceMax) {
          // One connection's timeline: when each request left, how long its answer took, and the
          // polls the client ran meanwhile (those that received frames, of all).
          const l = stack.loop;
          trace.push([
            Math.round((sentAt[0] - traceT0) * 1000),
            Math.round((now - sentAt[0]) * 1000),
            l.iterations - sentPolls,
            l.rxBursts - sentRx,
          ]);
          traced++;
        }
        if (sending) sendReq(c, i, now);
      }
    },
    onClose(_c, error) {
      closed++;
      if (error !== undefined) closeErrors = error;
    },
  };
  const list: Connection[] = [];
  for (let i = 0; i < conns; i++) {
    const c = stack.connect(cfg.server, storage ? 11 : 7, handlers);
    c.data = i;
    list.push(c);
  }
  if (!await pollFor(10_000, () => opened === conns)) {
    throw new Error(`${p.workload}: ${opened} of ${conns} connections opened in 10 s`);
  }
  const now = performance.now();
  for (let i = 0; i < conns; i++) sendReq(list[i], i, now);
  await pollFor((p.warmupS ?? 0.3) * 1000);
  latency.reset();
  const tcp0 = stack.stats().tcp as unknown as Record<string, number>;
  const txDropped0 = stack.stats().ip.link.txDropped;
  const loop0 = stack.stats().loop;
  const cpu0 = process.cpuUsage();
  const hb = heapBefore();
  measuring = true;
  const t0 = traceT0 = performance.now();
  await pollFor((p.measureS ?? 1) * 1000);
  measuring = false;
  const t1 = performance.now();
  const cpu1 = process.cpuUsage(cpu0);
  const loop1 = stack.stats().loop;
  const heap = heapAfter(hb);
  const tcp1 = stack.stats().tcp as unknown as Record<string, number>;
  // The client's losses in the measured stretch (retransmissions, drops for want of buffers), and
  // what it dropped of what it received: the zone running low, a connection's share full.
  // Frames the client's transmit batch dropped (the device behind): each is a segment to resend.
  const lost = Object.fromEntries([
    ...clientLossKeys.map((k) => [k, (tcp1[k] ?? 0) - (tcp0[k] ?? 0)]),
    ["txDropped", stack.stats().ip.link.txDropped - txDropped0],
  ]);
  const requests = latency.n;
  // The client's loop per request: polls, polls that received frames, frames received, transmit
  // bursts, CPU µs (user + system).
  const perReq = (k: Exclude<keyof typeof loop0, "stalls">) =>
    requests > 0 ? (loop1[k] - loop0[k]) / requests : 0;
  const client = {
    pollsPerReq: perReq("iterations"),
    rxBurstsPerReq: perReq("rxBursts"),
    framesPerRxBurst: loop1.rxBursts > loop0.rxBursts
      ? (loop1.framesIn - loop0.framesIn) / (loop1.rxBursts - loop0.rxBursts)
      : 0,
    txBurstsPerReq: perReq("txBursts"),
    cpuUsPerReq: requests > 0 ? (cpu1.user + cpu1.system) / requests : 0,
    // Gaps of over 100 µs / 1 ms / 10 ms between polls while frames waited, their ms in all, and
    // the longest gap: where the loop was away (see LoopStalls).
    stalls: stallsOf(loop0.stalls, loop1.stalls),
  };
  sending = false;
  const drained = await pollFor(2000, () => outstanding === 0);
  for (const c of list) c.close();
  const allClosed = await pollFor(5000, () => closed === conns);
  return {
    workload: p.workload,
    conns,
    requests,
    seconds: (t1 - t0) / 1000,
    req_per_s: (requests * 1000) / (t1 - t0),
    resp: expect,
    gbit_per_s: (requests * expect * 8) / ((t1 - t0) * 1e6),
    ...lost,
    ...latency.summary(),
    errors,
    drained,
    allClosed,
    closeErrors,
    client,
    ...(traceMax > 0 ? { trace } : {}),
    heap,
  };
}

/** The stalls of a stretch, from the loop's counts at its start and end (the longest over all). */
function stallsOf(a: LoopStalls, b: LoopStalls): Record<string, number> {
  return {
    over100us: b.over100us - a.over100us,
    over1ms: b.over1ms - a.over1ms,
    over10ms: b.over10ms - a.over10ms,
    ms: Math.round((b.ms - a.ms) * 1000) / 1000,
    msMax: Math.round(b.msMax * 1000) / 1000,
  };
}

/** Connection rate: `conns` at a time, each connects, exchanges `size` bytes once, closes. */
async function connrate(p: Phase): Promise<Record<string, unknown>> {
  const conns = p.conns ?? 16;
  const size = p.size ?? 64;
  const req = new Uint8Array(size).fill(0x5a);
  let running = true;
  let measuring = false;
  let completed = 0;
  let live = 0;
  let errors = 0;
  let failed = 0;
  let lastError = "";
  // Opens that found no free port (every one in TIME-WAIT), retried after the next poll.
  let deferred = 0;
  let portStalls = 0;
  const handlers: ConnectionHandlers = {
    onOpen(c) {
      if (c.write(req) !== size) errors++;
    },
    onData(c) {
      let got = c.data as number;
      const v = c.zoneBytes;
      for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
        if (v[c.pieceOffset + len - 1] !== 0x5a) errors++;
        got += len;
        c.consume(len);
      }
      c.data = got;
      if (got >= size) {
        c.close();
        live--;
        if (measuring) completed++;
        if (running) start();
      }
    },
    onClose(c, error) {
      if (error !== undefined) {
        failed++;
        lastError = error;
        if ((c.data as number) < size) {
          live--;
          if (running) start();
        }
      }
    },
  };
  const start = () => {
    live++;
    try {
      const c = stack.connect(cfg.server, 7, handlers);
      c.data = 0;
    } catch (e) {
      if (!(e instanceof ConfigError && e.field === "localPort")) throw e;
      deferred++;
      portStalls++;
    }
  };
  const retry = () => {
    for (let n = deferred; n > 0 && running; n--) {
      deferred--;
      live--;
      start();
    }
  };
  for (let i = 0; i < conns; i++) start();
  await pollFor((p.warmupS ?? 0.3) * 1000, undefined, retry);
  const hb = heapBefore();
  measuring = true;
  const t0 = performance.now();
  await pollFor((p.measureS ?? 1) * 1000, undefined, retry);
  measuring = false;
  const t1 = performance.now();
  const heap = heapAfter(hb);
  running = false;
  live -= deferred;
  deferred = 0;
  const drained = await pollFor(3000, () => live === 0);
  return {
    workload: "connrate",
    conns,
    connections: completed,
    seconds: (t1 - t0) / 1000,
    conn_per_s: (completed * 1000) / (t1 - t0),
    errors,
    failed,
    lastError,
    portStalls,
    drained,
    heap,
  };
}

/**
 * Bulk: one connection sends `bytes` to the sink; timed from the first byte
 * to the close (all acknowledged). With `warmBytes`, connections of their
 * own send those first, untimed, one after another until `warmS` seconds
 * have passed: the byte path compiled before the clock starts (a cold
 * process's compiler threads take seconds of CPU over the first transfers,
 * from the cores the polling threads run on).
 */
async function bulk(p: Phase): Promise<Record<string, unknown>> {
  const warmUntil = performance.now() + (p.warmS ?? 0) * 1000;
  for (let first = true; (p.warmBytes ?? 0) > 0 && (first || performance.now() < warmUntil); first = false) {
    const w = await transfer(p.warmBytes!, false);
    if (!w.finished) throw new Error(`bulk: a warm-up transfer did not finish (${JSON.stringify(w)})`);
  }
  return { workload: "bulk", ...await transfer(p.bytes ?? 1 << 28, true) };
}

/** One connection sends `total` bytes and closes; resolves when it has closed (all acknowledged). */
async function transfer(total: number, measure: boolean): Promise<Record<string, unknown>> {
  const chunk = new Uint8Array(1 << 16).fill(0x42);
  let sent = 0;
  let open = false;
  let closed = false;
  let closeError: string | undefined;
  let t1 = 0;
  const pump = (c: Connection) => {
    while (sent < total) {
      const n = c.write(sent + chunk.length <= total ? chunk : chunk.subarray(0, total - sent));
      if (n === 0) return;
      sent += n;
    }
    c.close();
  };
  const c = stack.connect(cfg.server, 9, {
    onOpen() {
      open = true;
    },
    onWritable: pump,
    onClose(_c, error) {
      closed = true;
      closeError = error;
      t1 = performance.now();
    },
  });
  if (!await pollFor(10_000, () => open)) throw new Error("bulk: no connection in 10 s");
  const hb = measure ? heapBefore() : undefined;
  const t0 = performance.now();
  pump(c);
  const finished = await pollFor(120_000, () => closed);
  const heap = hb === undefined ? undefined : heapAfter(hb);
  if (!finished) t1 = performance.now();
  const stats = c.stats();
  return {
    bytes: sent,
    seconds: (t1 - t0) / 1000,
    gbit_per_s: (sent * 8) / ((t1 - t0) * 1e6),
    finished,
    closeError,
    retransSegs: stats.retransSegs,
    retransTimeouts: stats.retransTimeouts,
    heap,
  };
}

// ------------------------------------------------------------------ idle

/** Idle connections of the concurrency workload, over all idle phases. */
const idle = { opened: 0, failed: 0, closed: 0, closedWithError: 0, lastError: "", data: 0 };
const idleHandlers: ConnectionHandlers = {
  onOpen() {
    idle.opened++;
  },
  onData(c) {
    // An idle connection should receive nothing; count it and drop it.
    for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
      idle.data += n;
      c.consume(n);
    }
  },
  onEnd: (c) => c.close(),
  onClose(c, error) {
    if (c.data === 1) idle.closed++;
    else idle.failed++; // never established
    if (error !== undefined) {
      idle.closedWithError++;
      idle.lastError = error;
    }
  },
};
// c.data: 0 while connecting, 1 once open (so onClose can tell a failed open from a close).
const markOpen = idleHandlers.onOpen!;
idleHandlers.onOpen = (c) => {
  c.data = 1;
  markOpen(c);
};
let idleNext = 0;

function memNow(): { heap: number; rss: number } {
  fullGc();
  fullGc();
  return { heap: heapUsed(), rss: process.memoryUsage().rss };
}

/** Opens `conns` idle connections, at most `inFlight` handshakes at a time; see the header. */
async function openIdle(p: Phase): Promise<Record<string, unknown>> {
  const want = p.conns ?? 1000;
  const ports = p.ports ?? { from: 20000, count: 16 };
  const inFlight = Math.max(1, p.inFlight ?? 256);
  const timeoutMs = (p.timeoutS ?? 60) * 1000;
  const portSpan = 65536 - 1024;
  if (idleNext + want > ports.count * portSpan) {
    throw new Error(`idle: ${want} connections need more than ${ports.count} server ports`);
  }
  const before = memNow();
  const opened0 = idle.opened;
  const failed0 = idle.failed;
  let started = 0;
  let refused = 0;
  let lastRefusal = "";
  const settled = () => idle.opened - opened0 + idle.failed - failed0 + refused;
  const t0 = performance.now();
  const end = t0 + timeoutMs;
  let nextYield = t0 + 20;
  for (;;) {
    while (started < want && started - settled() < inFlight) {
      const k = idleNext++;
      started++;
      try {
        const c = stack.connect(cfg.server, ports.from + (k % ports.count), idleHandlers, {
          localPort: 1024 + Math.floor(k / ports.count),
        });
        c.data = 0;
      } catch (e) {
        refused++;
        lastRefusal = String((e as Error)?.message ?? e);
      }
    }
    if (settled() >= want) break;
    stack.poll();
    const now = performance.now();
    if (now >= end) break;
    if (now >= nextYield) {
      await yieldNow();
      nextYield = performance.now() + 20;
    }
  }
  const t1 = performance.now();
  // Let the last ACKs of the handshakes reach the server.
  await pollFor(100);
  const opened = idle.opened - opened0;
  const after = memNow();
  return {
    workload: "idle",
    asked: want,
    started,
    opened,
    established: idle.opened - idle.closed,
    failed: idle.failed - failed0,
    refused,
    lastRefusal,
    closed: idle.closed,
    lastError: idle.lastError,
    timedOut: settled() < want,
    seconds: (t1 - t0) / 1000,
    conn_per_s: (opened * 1000) / (t1 - t0),
    inFlight,
    ports,
    before,
    after,
    heap_per_conn: opened > 0 ? (after.heap - before.heap) / opened : null,
    rss_per_conn: opened > 0 ? (after.rss - before.rss) / opened : null,
  };
}

/** Polls until `conns` more idle connections have closed (the server closing first); see the header. */
async function answerIdle(p: Phase): Promise<Record<string, unknown>> {
  const want = p.conns ?? 0;
  const closed0 = idle.closed;
  const t0 = performance.now();
  const done = await pollFor((p.timeoutS ?? 120) * 1000, () => idle.closed - closed0 >= want);
  return {
    workload: "idleanswer",
    asked: want,
    closed: idle.closed - closed0,
    done,
    seconds: (performance.now() - t0) / 1000,
    closedWithError: idle.closedWithError,
    lastError: idle.lastError,
    open: idle.opened - idle.closed,
  };
}

let busy: Promise<void> = Promise.resolve();
let quitting = false;
async function quit(why: string): Promise<void> {
  if (quitting) return;
  quitting = true;
  const stats = stack.stats();
  try {
    await stack.close(500);
  } finally {
    report("BYE", { why, tcp: stats.tcp, port: stats.port });
    process.exit(0);
  }
}

onLines((line) => {
  if (line === "quit") {
    void busy.then(() => quit("asked"));
    return;
  }
  if (line === "abandon") {
    report("BYE", { why: "abandon", idle });
    process.exit(0);
  }
  if (!line.startsWith("run ")) return;
  const p = JSON.parse(line.slice(4)) as Phase;
  busy = busy.then(async () => {
    try {
      const r = p.workload === "echo" || p.workload === "storage"
        ? await echo(p)
        : p.workload === "connrate"
        ? await connrate(p)
        : p.workload === "idle"
        ? await openIdle(p)
        : p.workload === "idlecount"
        ? { workload: "idlecount", ...idle, open: idle.opened - idle.closed }
        : p.workload === "idleanswer"
        ? await answerIdle(p)
        : await bulk(p);
      report("RESULT", r);
    } catch (e) {
      report("FAIL", { error: String((e as Error)?.stack ?? e), stats: stack.stats().tcp });
    }
  });
});
process.on("SIGINT", () => void quit("SIGINT"));
process.on("SIGTERM", () => void quit("SIGTERM"));
setTimeout(() => void quit("lifetime"), cfg.lifetimeS * 1000);

// Resolve the server's address before the first phase, so ARP is not timed.
await pollFor(50);
console.log(`READY ${cfg.mode} ${cfg.device}`);
// Keep the stack answering (ACKs, ARP, timers) between phases.
for (;;) {
  await busy;
  stack.poll();
  await new Promise((r) => setTimeout(r, 1));
}
