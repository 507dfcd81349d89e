// Sends frames of known content from one net_ring port to its peer in this
// process and verifies every byte through zero-copy views on arrival.
// Usage: ring_transfer.ts PREFIX COUNT
import { DESC_WORDS } from "../../ffi/mod.ts";
import { Dpdk } from "../../src/device/dpdk/mod.ts";
import { checkFrame, fillFrame, frameLength, frameNumber } from "./_frames.ts";

const [prefix, countArg] = process.argv.slice(2);
const count = Number(countArg);
const dpdk = await Dpdk.start({ prefix });
const zone = dpdk.createZone("ring", { count: 8191, cache: 0 });
const [a, b] = dpdk.ringPair("rt", 1024);
a.configure({ zone });
b.configure({ zone });
a.start();
b.start();
const s = dpdk.shim.symbols;
const poolAvailBefore = s.luna_pool_avail(zone.pool);
const freeBefore = zone.accounting().free;

const burst = 32;
const txd = new Uint32Array(burst * DESC_WORDS);
const rxd = new Uint32Array(burst * DESC_WORDS);
const handles = new Uint32Array(burst);
const retained: number[] = [];
let sent = 0;
let received = 0;
let bytes = 0;
let bad = 0;
let retries = 0;
let firstBad = "";
const deadline = Date.now() + 60_000;

while (received < count && Date.now() < deadline) {
  // Fill and send a burst; what the ring does not take is sent again.
  const n = Math.min(burst, count - sent);
  if (n > 0) {
    zone.takeBulk(handles, n);
    for (let k = 0; k < n; k++) {
      const i = sent + k;
      const h = handles[k];
      const len = frameLength(i);
      fillFrame(zone.bytes, zone.dataStart(h) + zone.headroom, i, len);
      txd[k * DESC_WORDS] = h;
      txd[k * DESC_WORDS + 1] = zone.headroom | (len << 16);
      txd[k * DESC_WORDS + 2] = 0;
      txd[k * DESC_WORDS + 3] = 0;
      // Every tenth frame is kept by the sender, as a retransmission queue would.
      if (i % 10 === 0) {
        zone.retain(h);
        retained.push(h);
      }
    }
    const took = a.tx(0, txd, n);
    for (let k = n - 1; k >= took; k--) {
      const h = handles[k];
      if ((sent + k) % 10 === 0) {
        retained.pop();
        zone.release(h);
      }
      zone.release(h);
      retries++;
    }
    sent += took;
  }
  const got = b.rx(0, rxd, burst);
  for (let k = 0; k < got; k++) {
    const h = rxd[k * DESC_WORDS];
    const off = rxd[k * DESC_WORDS + 1] & 0xffff;
    const len = rxd[k * DESC_WORDS + 1] >>> 16;
    const at = zone.dataStart(h) + off;
    const wrong = checkFrame(zone.bytes, at, received, len);
    if (wrong >= 0) {
      bad++;
      if (firstBad === "") firstBad = `frame ${received}: got #${frameNumber(zone.bytes, at)} len ${len}, byte ${wrong}`;
    }
    bytes += len;
    received++;
    zone.release(h);
  }
  // The sender's references outlive the receiver's: the bytes are intact.
  if (retained.length >= 256) {
    for (const h of retained.splice(0)) {
      if (zone.refcount(h) !== 1) bad++;
      zone.release(h);
    }
  }
}
for (const h of retained.splice(0)) zone.release(h);

// The shim's bulk reference adjustment, on buffers of the pool.
const probe = new Uint32Array(4);
zone.takeBulk(probe, 4);
const up = s.luna_refcnt_update(zone.pool, probe, 4, 1);
const counts = Array.from(probe, (h) => zone.refcount(h));
const down = s.luna_refcnt_update(zone.pool, probe, 4, -1);
zone.releaseBulk(probe, 4);

zone.flush();
const result = {
  sent,
  received,
  bytes,
  bad,
  firstBad,
  retries,
  freeBefore,
  freeAfter: zone.accounting().free,
  poolAvailBefore,
  poolAvailAfter: s.luna_pool_avail(zone.pool),
  capacity: zone.capacity,
  refcntUpdate: { up, counts, down },
  stats: { a: a.stats(), b: b.stats() },
  xstats: { a: a.xstats(), b: b.xstats() },
};
dpdk.close();
console.log("RESULT " + JSON.stringify(result));
