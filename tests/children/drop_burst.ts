// A stack that stops polling while a burst arrives, so that its receive ring
// overflows, then drains and reports its counters.
// Usage: drop_burst.ts DEVICE CIDR PREFIX GO_FILE
//   DEVICE: a device spec (af_packet:IF, af_xdp:IF, memif:/path.sock,server)
//   prints `READY` once the stack is up (for memif: once the link is); waits
//   (polling nothing) until GO_FILE exists; then polls until 300 ms pass
//   without a frame and prints `RESULT {stats}`.
import { existsSync } from "node:fs";
import type { DpdkDevice } from "../../src/device/dpdk/device.ts";
import { createStack } from "../../src/mod.ts";

const [device, cidr, prefix, goFile] = process.argv.slice(2);
const stack = await createStack({
  device,
  address: cidr,
  coexist: false,
  eal: { prefix },
});
if (device.startsWith("memif:")) {
  // The client connects on its own; the link must be up before the sender starts.
  const port = (stack.device as DpdkDevice).port;
  const deadline = Date.now() + 20_000;
  while (!port.link().up && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  if (!port.link().up) throw new Error("memif link did not come up in 20 s");
}
console.log("READY");
const waitUntil = Date.now() + 60_000;
while (!existsSync(goFile) && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 10));
let quietSince = performance.now();
const end = performance.now() + 20_000;
while (performance.now() < end && performance.now() - quietSince < 300) {
  if (stack.poll() > 0) quietSince = performance.now();
  else await new Promise((r) => setImmediate(r));
}
const stats = stack.stats();
await stack.close(0);
console.log(`RESULT ${JSON.stringify({ port: stats.port, ip: stats.ip })}`);
