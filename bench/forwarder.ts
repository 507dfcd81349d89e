// The TypeScript side of the forwarding benchmark: receives bursts from a
// memif port, swaps the Ethernet addresses of each frame in place through the
// zone's view (the same job as dpdk-testpmd's macswap mode), and sends the
// burst back out. Frames the port does not take are released.
// Usage: forwarder.ts PREFIX SOCKET SECONDS
import { DESC_WORDS } from "../ffi/mod.ts";
import { Dpdk } from "../src/device/dpdk/mod.ts";

const [prefix, socket, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
const dpdk = await Dpdk.start({
  prefix,
  lcores: "0@1",
  memoryMb: 512,
  vdevs: [`net_memif0,role=client,socket=${socket},socket-abstract=no`],
});
const zone = dpdk.createZone("fwd", { count: 16383 });
const port = dpdk.port("net_memif0");
port.configure({ zone });
port.start();
console.log("READY");

const burst = 32;
const d = new Uint32Array(burst * DESC_WORDS);
const bytes = zone.bytes;
const dataRoomOffset = zone.dataRoomOffset;
let forwarded = 0;
let dropped = 0;
let heapBefore = 0;
const deadline = performance.now() + seconds * 1000;

// One burst: the unit the JIT compiles and the loop calls.
function step(): void {
  const n = port.rx(0, d, burst);
  if (n === 0) return;
  for (let k = 0; k < n; k++) {
    const at = d[k * DESC_WORDS] + dataRoomOffset + (d[k * DESC_WORDS + 1] & 0xffff);
    // Swap destination and source MAC addresses in place.
    for (let j = 0; j < 6; j++) {
      const t = bytes[at + j];
      bytes[at + j] = bytes[at + 6 + j];
      bytes[at + 6 + j] = t;
    }
  }
  const sent = port.tx(0, d, n);
  forwarded += sent;
  for (let k = sent; k < n; k++) {
    zone.release(d[k * DESC_WORDS]);
    dropped++;
  }
}

function run(): void {
  while (performance.now() < deadline) {
    for (let i = 0; i < 1024; i++) step();
  }
}

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const heap = () => (typeof g.Bun !== "undefined" ? process.memoryUsage().heapUsed : g.Deno.memoryUsage().heapUsed);
heapBefore = heap();
run();
const heapAfter = heap();
zone.flush();
const result = { forwarded, dropped, heapBefore, heapAfter, stats: port.stats(), accounting: zone.accounting() };
dpdk.close();
console.log("RESULT " + JSON.stringify(result));
