// A stack on af_packet that stops polling while a burst arrives, so that the
// socket's ring overflows, then drains and reports its counters.
// Usage: drop_burst.ts IFACE CIDR PREFIX GO_FILE
//   prints `READY`; waits (polling nothing) until GO_FILE exists; then polls
//   until 300 ms pass without a frame and prints `RESULT {stats}`.
import { existsSync } from "node:fs";
import { createStack } from "../../src/mod.ts";

const [iface, cidr, prefix, goFile] = process.argv.slice(2);
const stack = await createStack({
  device: `af_packet:${iface}`,
  address: cidr,
  coexist: false,
  eal: { prefix },
});
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
