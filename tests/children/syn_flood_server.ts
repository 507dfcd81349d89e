// luna serve's http app on af_packet, watched while a SYN flood arrives: the
// most connections held at once, when cookies were first sent, and the
// options each accepted connection negotiated.
// Usage: syn_flood_server.ts IFACE CIDR PREFIX STOP_FILE
//   prints `READY`, then `COOKIES` once the first SYN cookie went out; runs
//   until STOP_FILE exists (at most 120 s) and prints `RESULT {...}`.
import { existsSync } from "node:fs";
import { createApp } from "../../src/apps/mod.ts";
import { createStack } from "../../src/mod.ts";

const [iface, cidr, prefix, stopFile] = process.argv.slice(2);
const stack = await createStack({
  device: `af_packet:${iface}`,
  address: cidr,
  coexist: false,
  eal: { prefix },
});
const app = createApp("http", stack.device.zone);
const accepted: { ts: boolean; sack: boolean; wscale: number; mss: number }[] = [];
stack.listen(80, (c) => {
  const t = c.tcb;
  accepted.push({ ts: t.tsOk, sack: t.sackOk, wscale: t.sndScale, mss: t.sndMss });
  return app.accept(c);
});
console.log("READY");
let maxConnections = 0;
let cookiesSeen = false;
const end = performance.now() + 120_000;
let i = 0;
while (!existsSync(stopFile) && performance.now() < end) {
  for (let k = 0; k < 64; k++) stack.poll();
  app.retry();
  app.tick(performance.now());
  const n = stack.tcp.connections;
  if (n > maxConnections) maxConnections = n;
  if (!cookiesSeen && stack.tcp.counters.synCookiesSent > 0) {
    cookiesSeen = true;
    console.log("COOKIES");
  }
  if ((++i & 15) === 0) await new Promise((r) => setImmediate(r));
}
const { tcp, port } = stack.stats();
const connectionsAtEnd = stack.tcp.connections;
await stack.close(2000);
const zone = stack.stats().zone;
console.log(
  `RESULT ${
    JSON.stringify({ maxConnections, connectionsAtEnd, tcp, accepted, app: app.stats(), zone, port })
  }`,
);
