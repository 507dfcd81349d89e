// The luna-ts server of the TCP benchmarks: one stack on one device, serving
//   port 7: echo (what arrives goes back; the peer's FIN is answered with ours),
//   port 9: sink (what arrives is counted and dropped; FIN answered likewise),
//   port 11: storage (each 64-byte request is answered by as many bytes as its
//            first 4 bytes say, little-endian, at most 1 MiB: a block read),
//   ports idlePorts.from .. from+count-1 (when configured): idle connections
//            for the concurrency workload (accepted and held; the peer's FIN
//            answered with ours).
// It runs the stack's own loop (`stack.run()`) and takes commands on stdin:
//   mark TAG    prints `MARK TAG {heap, heapAfterGc, counters}`; a TAG
//               starting with "before" starts a stretch (a full collection,
//               a mark in the GC log), one starting with "after" ends it
//               (a mark, then a full collection); see _control.ts
//   mem TAG     two full collections, then prints `MEM TAG {heap, rss, idleAccepted, ...}`
//   count TAG   prints `COUNT TAG {idleAccepted, idleClosed, timeWait}` (no collection)
//   twclose N K T  closes N of the idle connections first (at most K of them not
//               yet closed for the application at a time), so that the server
//               holds N TIME-WAIT records once the peer answered each FIN with
//               its own; prints `TWCLOSE {asked, closed, finished, timeWait,
//               timeWaitNew, retransTimeouts, seconds}` when the records are there, 5 s after the
//               last one came, or after T s (default 120)
//   stats       prints `STATS {...}`: the stack's counters now (port, link, TCP, zone)
//   quit        closes the stack, prints `RESULT {...}` and exits
//   abandon     prints `RESULT {...}` and exits without closing the connections
//               one by one (a million FINs would take longer than the rest)
// Usage: luna_server.ts '{"device":"memif:/tmp/x.sock,server","address":"198.18.1.1/24",
//                         "mode":"inline","prefix":"...","lcores":"0@1","lifetimeS":600}'
import { appendFileSync } from "node:fs";
import { type Connection, type ConnectionHandlers, createStack } from "../src/mod.ts";
import {
  type BenchEnd,
  benchStackConfig,
  fullGc,
  heapUsed,
  onLines,
  report,
  stretchEnd,
  stretchStart,
} from "./_control.ts";

interface ServerConfig extends BenchEnd {
  /** The server quits by itself after this long, whatever happens to its parent. */
  lifetimeS: number;
  /** "run": the stack's own loop (default); "spin": poll without napping, yielding every 1024 polls. */
  loop?: "run" | "spin";
  /** Listen on these ports for idle connections (the concurrency workload). */
  idlePorts?: { from: number; count: number };
  /** TIME-WAIT's length, ms (default the stack's, 60 s). */
  timeWaitMs?: number;
}

const cfg = JSON.parse(process.argv[2]) as ServerConfig;
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const stack = await createStack(
  benchStackConfig(cfg, {
    noDelay: true,
    ...(cfg.timeWaitMs !== undefined ? { timeWaitMs: cfg.timeWaitMs } : {}),
  }),
);

let echoed = 0;
let sunk = 0;
let storageOps = 0;
let storageBytes = 0;
let accepted = 0;
let closedWithError = 0;
let lastError = "";

function echo(c: Connection): void {
  // Zero-copy read without a view object (the piece where it lies in the zone), one copy
  // into the reply's buffer: nothing allocated per request.
  const zone = c.zoneBytes;
  for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
    const n = c.write(zone, c.pieceOffset, len);
    if (n === 0) return; // send buffer full: onWritable brings us back
    echoed += n;
    c.consume(n);
  }
}

const closeHandler = (_c: Connection, error: string | undefined) => {
  if (error !== undefined) {
    closedWithError++;
    lastError = error;
  }
};
const echoHandlers: ConnectionHandlers = {
  onData: echo,
  onWritable: echo,
  onEnd: (c) => c.close(),
  onClose: closeHandler,
};
const sinkHandlers: ConnectionHandlers = {
  onData(c) {
    for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
      sunk += n;
      c.consume(n);
    }
  },
  onEnd: (c) => c.close(),
  onClose: closeHandler,
};
// Storage: the answer's bytes are cut from one constant buffer; what the
// send buffer does not take waits for onWritable.
const requestBytes = 64;
const maxAnswer = 1 << 20;
const answer = new Uint8Array(1 << 16).fill(0xa5);
interface StorageState {
  have: number;
  size: number;
  pending: number;
}
function storage(c: Connection): void {
  const st = c.data as StorageState;
  for (;;) {
    while (st.pending > 0) {
      const n = c.write(answer, 0, Math.min(st.pending, answer.length));
      if (n === 0) return; // send buffer full: onWritable brings us back
      st.pending -= n;
      storageBytes += n;
    }
    const len = c.pieceLength;
    if (len === 0) return;
    const v = c.zoneBytes;
    const at = c.pieceOffset;
    const take = Math.min(len, requestBytes - st.have);
    for (let k = 0; k < take && st.have + k < 4; k++) st.size |= v[at + k] << (8 * (st.have + k));
    st.have += take;
    c.consume(take);
    if (st.have === requestBytes) {
      st.pending = Math.min(st.size >>> 0, maxAnswer);
      st.have = 0;
      st.size = 0;
      storageOps++;
    }
  }
}
const storageHandlers: ConnectionHandlers = {
  onData: storage,
  onWritable: storage,
  onEnd: (c) => c.close(),
  onClose: closeHandler,
};
stack.listen(11, (c) => {
  accepted++;
  c.setNoDelay(true);
  c.data = { have: 0, size: 0, pending: 0 } satisfies StorageState;
  return storageHandlers;
}, { backlog: 4096 });
stack.listen(7, (c) => {
  accepted++;
  c.setNoDelay(true);
  return echoHandlers;
}, { backlog: 4096 });
stack.listen(9, () => {
  accepted++;
  return sinkHandlers;
}, { backlog: 4096 });

// Idle connections (the concurrency workload): one shared set of handlers,
// nothing kept per connection beyond what the stack keeps.
let idleAccepted = 0;
let idleClosed = 0;
const idleHandlers: ConnectionHandlers = {
  onData(c) {
    for (let n = c.pieceLength; n > 0; n = c.pieceLength) c.consume(n);
  },
  onEnd: (c) => c.close(),
  onClose(c, error) {
    idleClosed++;
    closeHandler(c, error);
  },
};
const onIdle = () => {
  idleAccepted++;
  return idleHandlers;
};
if (cfg.idlePorts !== undefined) {
  for (let p = cfg.idlePorts.from; p < cfg.idlePorts.from + cfg.idlePorts.count; p++) {
    stack.listen(p, onIdle, { backlog: 4096 });
  }
}

/** `twclose N K`: see the header. Resolves once done; the list of connections is dropped by then. */
async function closeIdle(n: number, inFlight: number, timeoutS: number): Promise<void> {
  const t0 = performance.now();
  const tw0 = stack.tcp.timeWaitCount;
  let list: Connection[] | undefined = [];
  for (const t of stack.tcp.each()) {
    if (list.length >= n) break;
    const c = t.user as Connection | undefined;
    if (c !== undefined && c.handlers === idleHandlers) list.push(c);
  }
  const asked = list.length;
  const done = () => stack.tcp.timeWaitCount - tw0;
  // Connections closed for the application: in TIME-WAIT, or ended otherwise (a record that a
  // reset ended, the peer's answer to a retransmitted FIN: RFC 9293 3.10.7.4). The window of
  // closes in flight counts these, so that records lost that way cannot stall it.
  const closed0 = idleClosed;
  const rto0 = stack.tcp.counters.retransTimeouts;
  const finished = () => idleClosed - closed0;
  let closed = 0;
  const deadline = t0 + timeoutS * 1000;
  // Once all are closed, 5 s without a new record ends the wait: a record that a reset ended
  // does not come back.
  let last = -1;
  let lastAt = t0;
  while (performance.now() < deadline && done() < asked) {
    while (closed < asked && closed - finished() < inFlight) list[closed++].close();
    // The stack's loop runs in between (FINs out, the peer's FINs in).
    await new Promise((r) => setTimeout(r, 1));
    const now = performance.now();
    if (done() !== last) {
      last = done();
      lastAt = now;
    } else if (closed === asked && now - lastAt > 5000) break;
  }
  list = undefined;
  report("TWCLOSE", {
    asked,
    closed,
    finished: finished(),
    timeWait: stack.tcp.timeWaitCount,
    timeWaitNew: done(),
    // Segments sent again after a timeout; a peer closed by then may answer with a reset that ends a record.
    retransTimeouts: stack.tcp.counters.retransTimeouts - rto0,
    seconds: (performance.now() - t0) / 1000,
  });
}

const counters = () => ({
  echoed,
  sunk,
  storageOps,
  storageBytes,
  accepted,
  closedWithError,
  lastError,
  open: stack.tcp.connections,
  zone: stack.device.zone.accounting(),
});

let quitting = false;
async function quit(why: string): Promise<void> {
  if (quitting) return;
  quitting = true;
  // Everything is read before close: the zone is gone after it.
  const result = { why, ...counters(), ...stack.stats() };
  // LUNA_BENCH_SERVER_STATS=FILE: each server appends its final stats there (one JSON line), to read after a run.
  const statsFile = process.env.LUNA_BENCH_SERVER_STATS;
  if (statsFile) appendFileSync(statsFile, JSON.stringify(result) + "\n");
  spinning = false;
  try {
    await stack.close(500);
  } finally {
    report("RESULT", result);
    process.exit(0);
  }
}

onLines((line) => {
  const [cmd, tag = ""] = line.split(" ");
  if (cmd === "mark") {
    if (tag.startsWith("before")) stretchStart();
    const heap = heapUsed();
    let heapAfterGc = heap;
    if (tag.startsWith("after")) {
      stretchEnd();
      fullGc();
      heapAfterGc = heapUsed();
    }
    report(`MARK ${tag}`, { heap, heapAfterGc, ...counters() });
  } else if (cmd === "stats") {
    report("STATS", stack.stats());
  } else if (cmd === "mem") {
    fullGc();
    fullGc();
    const tcp = stack.tcp.counters;
    const m = {
      heap: heapUsed(),
      rss: process.memoryUsage().rss,
      idleAccepted,
      idleClosed,
      currEstab: tcp.currEstab,
      open: stack.tcp.connections,
      zoneInUse: stack.device.zone.accounting().inUse,
      timeWait: { count: stack.tcp.timeWaitCount, bytes: stack.tcp.timeWaitBytes },
      // The TCP layer's own tables by table, bytes as allocated (TIME-WAIT records included).
      tables: stack.tcp.footprint(),
    };
    // What the heap holds, by object type (JSC's count), where the runtime can say.
    if (typeof g.Bun !== "undefined") {
      void import("bun:jsc").then(({ heapStats }) => {
        const counts = heapStats().objectTypeCounts as Record<string, number>;
        const types = Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 16));
        report(`MEM ${tag}`, { ...m, types });
      });
    } else report(`MEM ${tag}`, m);
  } else if (cmd === "count") {
    report(`COUNT ${tag}`, { idleAccepted, idleClosed, timeWait: stack.tcp.timeWaitCount });
  } else if (cmd === "twclose") {
    const [, n, k, t] = line.split(" ");
    void closeIdle(Number(n), Number(k ?? 1024), Number(t ?? 120));
  } else if (cmd === "abandon") {
    report("RESULT", { why: "abandon", idleAccepted, idleClosed, closedWithError, lastError });
    process.exit(0);
  } else if (cmd === "quit") void quit("asked");
});
process.on("SIGINT", () => void quit("SIGINT"));
process.on("SIGTERM", () => void quit("SIGTERM"));
setTimeout(() => void quit("lifetime"), cfg.lifetimeS * 1000);

let spinning = cfg.loop === "spin";
console.log(`READY ${cfg.mode} ${cfg.device}`);
if (spinning) {
  while (spinning) {
    for (let i = 0; i < 1024; i++) stack.poll();
    await new Promise((r) => setImmediate(r));
  }
} else await stack.run();
