// A stack on memif that sends a burst of UDP datagrams into a peer that is
// not polling, so that the shared ring fills, and reports what its transmit
// path counted.
// Usage: drop_send.ts DEVICE CIDR DST_IP COUNT PREFIX DONE_FILE
//   waits for the memif link; pushes COUNT frames (broadcast MAC, DST_IP,
//   UDP port 9) through the stack's transmit batch, flushing every 32; prints
//   `SENT {counters}`; keeps the link (and the ring's memory) until DONE_FILE
//   exists, then closes.
import { existsSync } from "node:fs";
import type { DpdkDevice } from "../../src/device/dpdk/device.ts";
import { createStack } from "../../src/mod.ts";

const [device, cidr, dstIp, countArg, prefix, doneFile] = process.argv.slice(2);
const count = Number(countArg);
const stack = await createStack({ device, address: cidr, coexist: false, eal: { prefix } });
const port = (stack.device as DpdkDevice).port;
const linkDeadline = Date.now() + 20_000;
while (!port.link().up && Date.now() < linkDeadline) await new Promise((r) => setTimeout(r, 5));
if (!port.link().up) throw new Error("memif link did not come up in 20 s");

const ip4 = (s: string) => s.split(".").reduce((a, b) => (a << 8) | Number(b), 0) >>> 0;
const src = ip4(cidr.split("/")[0]);
const dst = ip4(dstIp);
const zone = stack.device.zone;
const len = 14 + 20 + 8 + 18;
const frame = new Uint8Array(len);
const v = new DataView(frame.buffer);
frame.fill(0xff, 0, 6); // broadcast: the receiver takes it without knowing our MAC
v.setUint16(12, 0x0800);
v.setUint16(14, 0x4500);
v.setUint16(16, 20 + 8 + 18);
v.setUint16(20, 0x4000);
v.setUint8(22, 64);
v.setUint8(23, 17);
v.setUint32(26, src);
v.setUint32(30, dst);
let sum = 0;
for (let i = 14; i < 34; i += 2) sum += v.getUint16(i);
while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
v.setUint16(24, ~sum & 0xffff);
v.setUint16(34, 40000);
v.setUint16(36, 9);
v.setUint16(38, 8 + 18);
const tx = stack.ip.tx;
// What the stack sent before the burst (its gratuitous ARP), so that the burst's own frames add up.
stack.ip.flush(0);
const before = stack.stats().ip.link;
const already = before.txFrames + before.txDropped + tx.length;
for (let i = 0; i < count; i++) {
  const h = zone.take();
  zone.bytes.set(frame, zone.dataStart(h) + zone.headroom);
  tx.push(h, zone.headroom, len, 0, 0, 0);
  if ((i & 31) === 31) stack.ip.flush(0);
}
stack.ip.flush(0);
const stats = stack.stats();
console.log(
  `SENT ${JSON.stringify({ pushed: count, already, waiting: tx.length, ip: stats.ip, port: stats.port })}`,
);
const doneBy = Date.now() + 60_000;
while (!existsSync(doneFile) && Date.now() < doneBy) await new Promise((r) => setTimeout(r, 10));
await stack.close(0);
