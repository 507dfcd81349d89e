// The app each per-core worker of bench/luna_workers.ts runs (src/workers/).
//   server: echo on port 7.
//   client: for each phase of `args.phases`, in order, this worker's share of
//           the connections (conns / workers, at least 1) in a closed echo
//           loop of `size` bytes: warm-up, then a measured stretch timed by
//           the worker itself; reports {phase, requests, seconds, counts}
//           (counts: its latency histogram, merged by the main thread).
import type { Connection, ConnectionHandlers } from "../src/api/connection.ts";
import type { Stack } from "../src/api/stack.ts";
import type { WorkerContext } from "../src/workers/mod.ts";
import { LatencyHistogram } from "./_stats.ts";

export interface ScalePhase {
  conns: number;
  size: number;
  warmupS: number;
  measureS: number;
}

export interface WorkersAppArgs {
  role: "server" | "client";
  server?: string;
  phases?: ScalePhase[];
}

function serve(stack: Stack): void {
  const echo = (c: Connection) => {
    const zone = c.zoneBytes;
    for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
      const n = c.write(zone, c.pieceOffset, len);
      if (n === 0) return; // resumed by onWritable
      c.consume(n);
    }
  };
  stack.listen(7, (c) => {
    c.setNoDelay(true);
    return { onData: echo, onWritable: echo, onEnd: (c) => c.close() };
  }, { backlog: 4096 });
}

/** One phase of this worker; resolves with what it measured. */
function phase(stack: Stack, w: WorkerContext, server: string, p: ScalePhase): Promise<Record<string, unknown>> {
  const conns = Math.max(1, Math.round(p.conns / w.count));
  const latency = new LatencyHistogram();
  const req = new Uint8Array(p.size).fill(0x5a);
  const sentAt = new Float64Array(conns);
  const got = new Int32Array(conns);
  let opened = 0;
  let closed = 0;
  let errors = 0;
  let state: "warmup" | "measuring" | "draining" = "warmup";
  let t0 = 0;
  let t1 = 0;
  let requests = 0;
  const send = (c: Connection, i: number) => {
    sentAt[i] = performance.now();
    got[i] = 0;
    if (c.write(req) !== p.size) errors++;
  };
  return new Promise((resolve) => {
    const handlers: ConnectionHandlers = {
      onOpen(c) {
        opened++;
        send(c, c.data as number);
      },
      onData(c) {
        const i = c.data as number;
        for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
          got[i] += n;
          c.consume(n);
        }
        if (got[i] < p.size) return;
        if (got[i] > p.size) errors++;
        const now = performance.now();
        if (state === "measuring") {
          latency.record((now - sentAt[i]) * 1e6);
          requests++;
        }
        if (state !== "draining") send(c, i);
        else c.close();
      },
      onClose() {
        if (++closed === conns) {
          resolve({ conns, opened, requests, seconds: (t1 - t0) / 1000, errors, counts: Array.from(latency.counts) });
        }
      },
    };
    for (let i = 0; i < conns; i++) stack.connect(server, 7, handlers).data = i;
    // The worker's loop yields to timers between polls.
    setTimeout(() => {
      state = "measuring";
      t0 = performance.now();
      setTimeout(() => {
        state = "draining";
        t1 = performance.now();
      }, p.measureS * 1000);
    }, p.warmupS * 1000 + 200);
  });
}

export default function (stack: Stack, w: WorkerContext): void {
  const a = w.args as WorkersAppArgs;
  if (a.role === "server") return serve(stack);
  // Run the phases after the app returns (the worker starts its loop then).
  setTimeout(async () => {
    for (let k = 0; k < (a.phases ?? []).length; k++) {
      const r = await phase(stack, w, a.server!, a.phases![k]);
      w.report({ phase: k, ...r });
    }
  }, 100);
}
