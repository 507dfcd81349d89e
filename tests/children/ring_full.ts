// A transmit burst into a ring that is full: 512 frames offered at once to a
// net_ring port whose ring holds 63, then offered again while nobody drains
// it; then drained and sent to the end. Reports what the port took, the
// mbufs the shim made that the ring refused (txRefused) at each call, and
// whether every frame arrived intact, in order, with every buffer back.
// Usage: ring_full.ts PREFIX
import { DESC_WORDS } from "../../ffi/mod.ts";
import { Dpdk } from "../../src/device/dpdk/mod.ts";
import { checkFrame, fillFrame, frameLength } from "./_frames.ts";

const [prefix] = process.argv.slice(2);
const count = 512;
const dpdk = await Dpdk.start({ prefix });
const zone = dpdk.createZone("ringfull", { count: 4095, cache: 0 });
const [a, b] = dpdk.ringPair("rf", 64);
a.configure({ zone });
b.configure({ zone });
a.start();
b.start();
const freeBefore = zone.accounting().free;

const txd = new Uint32Array(count * DESC_WORDS);
const rxd = new Uint32Array(32 * DESC_WORDS);
const handles = new Uint32Array(count);
zone.takeBulk(handles, count);
for (let i = 0; i < count; i++) {
  const h = handles[i];
  const len = frameLength(i);
  fillFrame(zone.bytes, zone.dataStart(h) + zone.headroom, i, len);
  txd[i * DESC_WORDS] = h;
  txd[i * DESC_WORDS + 1] = zone.headroom | (len << 16);
}

let sent = 0;
const refusedBefore = a.stats().txRefused;
const tookFirst = a.tx(0, txd, count);
sent += tookFirst;
const refusedFirst = a.stats().txRefused - refusedBefore;
// Again, with nothing drained: the ring takes none.
const tookSecond = a.tx(0, txd.subarray(sent * DESC_WORDS), count - sent);
sent += tookSecond;
const refusedSecond = a.stats().txRefused - refusedBefore - refusedFirst;

let received = 0;
let bad = 0;
let firstBad = "";
const deadline = Date.now() + 30_000;
for (let iter = 0; received < count && iter < 100_000 && Date.now() < deadline; iter++) {
  const got = b.rx(0, rxd, 32);
  for (let k = 0; k < got; k++) {
    const h = rxd[k * DESC_WORDS];
    const off = rxd[k * DESC_WORDS + 1] & 0xffff;
    const len = rxd[k * DESC_WORDS + 1] >>> 16;
    const wrong = checkFrame(zone.bytes, zone.dataStart(h) + off, received, len);
    if (wrong >= 0 && bad++ === 0) firstBad = `frame ${received}: byte ${wrong}`;
    received++;
    zone.release(h);
  }
  if (sent < count) sent += a.tx(0, txd.subarray(sent * DESC_WORDS), count - sent);
}
zone.flush();
const result = {
  tookFirst,
  tookSecond,
  refusedFirst,
  refusedSecond,
  sent,
  received,
  bad,
  firstBad,
  freeBefore,
  freeAfter: zone.accounting().free,
  capacity: zone.capacity,
};
dpdk.close();
console.log("RESULT " + JSON.stringify(result));
