// Receives frames on a memif port and sends each one back with its Ethernet
// addresses swapped, until it has reflected COUNT frames or SECONDS pass.
// Usage: reflector.ts PREFIX SOCKET COUNT SECONDS
import { DESC_WORDS } from "../ffi/mod.ts";
import { Dpdk } from "../src/device/dpdk/mod.ts";

const [prefix, socket, countArg, secondsArg] = process.argv.slice(2);
const count = Number(countArg);
const dpdk = await Dpdk.start({
  prefix,
  vdevs: [`net_memif0,role=server,socket=${socket},socket-abstract=no`],
});
const zone = dpdk.createZone("reflector", { count: 8191 });
const port = dpdk.port("net_memif0");
port.configure({ zone });
port.start();
console.log("READY");

const d = new Uint32Array(32 * DESC_WORDS);
const deadline = Date.now() + Number(secondsArg) * 1000;
let reflected = 0;
let spins = 0;
while (reflected < count && Date.now() < deadline) {
  const n = port.rx(0, d, 32);
  for (let k = 0; k < n; k++) {
    const at = zone.dataStart(d[k * DESC_WORDS]) + (d[k * DESC_WORDS + 1] & 0xffff);
    const dst = zone.bytes.slice(at, at + 6); // six bytes, outside the hot loop of a real stack
    zone.bytes.copyWithin(at, at + 6, at + 12);
    zone.bytes.set(dst, at + 6);
  }
  let sent = 0;
  for (let tries = 0; sent < n && tries < 100_000; tries++) {
    sent += port.tx(0, d.subarray(sent * DESC_WORDS), n - sent);
  }
  for (let k = sent; k < n; k++) zone.release(d[k * DESC_WORDS]);
  reflected += n;
  if (n === 0 && ++spins % 4096 === 0) await new Promise((r) => setTimeout(r, 0));
}
zone.flush();
console.log("RESULT " + JSON.stringify({ reflected, accounting: zone.accounting(), stats: port.stats() }));
await new Promise((r) => setTimeout(r, 200)); // let the peer drain the last frames
dpdk.close();
