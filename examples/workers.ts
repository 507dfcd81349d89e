/**
 * Per-core workers: one Worker per core, each running its own stack on its
 * own queue pair of one port (RSS on a NIC; queues of a memif), sharing only
 * the packet pool. Each runs ./workers_echo_app.ts: echo on port 7. Every
 * second it prints the connections each worker accepted.
 *
 * Run (as root; a luna-ts peer with as many queues on the memif's client side):
 *   bun examples/workers.ts --device memif:/tmp/luna.sock,server --address 198.18.0.2/24 --workers 2
 *
 * @module
 */
import { startWorkers } from "../src/workers/mod.ts";
import { exampleArgs } from "./_example.ts";

const a = exampleArgs(
  "workers.ts --device SPEC --address CIDR [--workers 2] [--mode batch|inline]",
  ["device", "address"],
);
const workers = Number(a.workers ?? 2);
const group = await startWorkers({
  config: {
    device: a.device,
    address: a.address,
    mode: (a.mode ?? "batch") as "batch" | "inline",
    buffers: 4095,
    eal: { prefix: a.prefix ?? `luna-example-${process.pid}` },
  },
  workers,
  app: new URL("./workers_echo_app.ts", import.meta.url).href,
});
console.log(`READY ${workers} workers, echo on ${a.address}:7`);
const timer = setInterval(async () => {
  const stats = await group.stats().catch(() => undefined);
  if (stats !== undefined) console.log(`ACCEPTED ${JSON.stringify(stats.map((s) => s.tcp.passiveOpens))}`);
}, 1000);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  await group.stop(500);
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
