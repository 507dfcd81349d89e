// Workload 7 (scaling): one side of luna-ts to luna-ts over net_memif with
// per-core workers (src/workers/), a queue pair per worker.
//   server: echo on port 7 in every worker; prints READY; quits on "quit" or
//           the end of stdin, printing `RESULT {stats}`.
//   client: runs the phases (bench/workers_app.ts) in every worker, merges
//           the workers' figures and prints one `PHASE {...}` line per phase,
//           then `RESULT {...}` and exits.
// Usage: luna_workers.ts '{"role":"server","device":"memif:/tmp/x.sock,server","address":"198.18.3.1/24",
//                          "workers":2,"prefix":"...","lcores":"0@1","lifetimeS":120,"phases":[...]}'
import { startWorkers } from "../src/workers/mod.ts";
import { onLines, report } from "./_control.ts";
import { LatencyHistogram } from "./_stats.ts";
import type { ScalePhase } from "./workers_app.ts";

interface Config {
  role: "server" | "client";
  device: string;
  address: string;
  server?: string;
  workers: number;
  mode?: "batch" | "inline";
  prefix: string;
  lcores: string;
  lifetimeS: number;
  phases?: ScalePhase[];
}

const cfg = JSON.parse(process.argv[2]) as Config;
const phases = cfg.phases ?? [];
const reports: Record<string, unknown>[][] = phases.map(() => []);
let done = 0;
const group = await startWorkers({
  config: {
    device: cfg.device,
    address: cfg.address,
    mode: cfg.mode,
    coexist: false,
    buffers: 16383,
    eal: { prefix: cfg.prefix, lcores: cfg.lcores, memoryMb: 512 + 128 * cfg.workers },
    tcp: { noDelay: true },
  },
  workers: cfg.workers,
  app: new URL("./workers_app.ts", import.meta.url).href,
  args: { role: cfg.role, server: cfg.server, phases },
  onReport: (_i, data) => {
    const d = data as Record<string, unknown>;
    reports[d.phase as number].push(d);
    if (reports[d.phase as number].length === cfg.workers) done++;
  },
});

let quitting = false;
async function quit(why: string, code = 0): Promise<void> {
  if (quitting) return;
  quitting = true;
  let stats: unknown[] = [];
  try {
    stats = await group.stop(500);
  } finally {
    report("RESULT", { why, workers: cfg.workers, tcp: stats.map((s) => (s as { tcp?: unknown })?.tcp) });
    process.exit(code);
  }
}
setTimeout(() => void quit("lifetime", 1), cfg.lifetimeS * 1000);
console.log(`READY ${cfg.role} ${cfg.workers} worker(s)`);

if (cfg.role === "server") {
  onLines((line) => {
    if (line === "quit") void quit("asked");
  });
} else {
  let printed = 0;
  while (printed < phases.length) {
    while (printed < done) {
      const rs = reports[printed];
      const h = new LatencyHistogram();
      for (const r of rs) {
        const counts = r.counts as number[];
        for (let i = 0; i < counts.length; i++) h.counts[i] += counts[i];
      }
      h.n = rs.reduce((a, r) => a + (r.requests as number), 0);
      const seconds = Math.max(...rs.map((r) => r.seconds as number));
      const { cdf: _cdf, ...lat } = h.summary();
      report("PHASE", {
        phase: printed,
        conns: phases[printed].conns,
        workers: cfg.workers,
        requests: h.n,
        seconds,
        // Each worker timed its own stretch; their sum over the longest is the group's rate.
        req_per_s: rs.reduce((a, r) => a + (r.requests as number) / (r.seconds as number), 0),
        perWorker: rs.map((r) => ({ conns: r.conns, requests: r.requests, errors: r.errors })),
        errors: rs.reduce((a, r) => a + (r.errors as number), 0),
        ...lat,
      });
      printed++;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await quit("done");
}
