// One side of the per-core workers test: a group of workers on a memif port.
// Usage: workers_side.ts server|client PREFIX SOCKET WORKERS CONNS BYTES ABORT_WORKER [MTU]
import { startWorkers } from "../../src/workers/mod.ts";

const [role, prefix, socket, workersArg, connsArg, bytesArg, abortArg, mtuArg] = process.argv.slice(2);
const workers = Number(workersArg);
const server = role === "server";
const app = new URL(server ? "./workers_echo_app.ts" : "./workers_client_app.ts", import.meta.url).href;
const reports: unknown[] = [];
const group = await startWorkers({
  config: {
    device: `memif:${socket},${server ? "server" : "client"}`,
    address: server ? "198.18.0.2/24" : "198.18.0.1/24",
    eal: { prefix },
    buffers: 4095,
    ...(mtuArg !== undefined ? { mtu: Number(mtuArg) } : {}),
  },
  workers,
  app,
  args: { conns: Number(connsArg), bytes: Number(bytesArg), abortWorker: Number(abortArg) },
  onReport: (_i, data) => reports.push(data),
});
console.log("READY");
if (server) {
  // Report the workers' counters until killed.
  for (;;) {
    // A worker busy past the answer's deadline (a loaded machine) is asked again, not given up on.
    const stats = await group.stats().catch((e) => {
      console.log(`STATS-LATE ${(e as Error).message}`);
      return undefined;
    });
    if (stats === undefined) continue;
    console.log("STATS " + JSON.stringify(stats.map((s) => ({
      passiveOpens: s.tcp.passiveOpens,
      currEstab: s.tcp.currEstab,
      rxFrames: s.ip.link.rxFrames,
      rxBytes: s.ip.link.rxBytes,
    }))));
    await new Promise((r) => setTimeout(r, 100));
  }
} else {
  const deadline = Date.now() + 60_000;
  while (reports.length < workers && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const stats = await group.stop(500);
  console.log("RESULT " + JSON.stringify({ reports, activeOpens: stats.map((s) => s?.tcp.activeOpens) }));
  process.exit(0);
}
