// One end of a memif link between two processes. The receiver (memif server)
// verifies COUNT frames of known content through zero-copy views, then
// answers with one acknowledgement frame; the sender (memif client) sends
// them with backpressure and waits for that acknowledgement.
// Usage: memif_peer.ts recv|send PREFIX SOCKET COUNT
import { DESC_WORDS } from "../../ffi/mod.ts";
import { Dpdk } from "../../src/device/dpdk/mod.ts";
import { checkFrame, fillFrame, frameLength, frameNumber } from "./_frames.ts";
import { awaitLink, sendAck } from "./_memif.ts";

const [mode, prefix, socket, countArg] = process.argv.slice(2);
const count = Number(countArg);
const role = mode === "recv" ? "server" : "client";
const dpdk = await Dpdk.start({
  prefix,
  vdevs: [`net_memif0,role=${role},socket=${socket},socket-abstract=no`],
});
const zone = dpdk.createZone("memif", { count: 8191 });
const port = dpdk.port("net_memif0");
port.configure({ zone });
port.start();
const freeBefore = zone.accounting().free;
console.log("READY");

await awaitLink(port, dpdk);

const burst = 32;
const d = new Uint32Array(burst * DESC_WORDS);
const handles = new Uint32Array(burst);
const ackNumber = 0xffffffff;
const deadline = Date.now() + 60_000;
let done = 0;
let bytes = 0;
let bad = 0;
let firstBad = "";
let acked = false;
let spins = 0;
// The port's counters, read while the link is up: once the peer has its acknowledgement it
// closes, and memif forgets its queues' counts when the link goes down.
let stats: ReturnType<typeof port.stats> | undefined;

if (mode === "recv") {
  while (done < count && Date.now() < deadline) {
    const got = port.rx(0, d, burst);
    for (let k = 0; k < got; k++) {
      const h = d[k * DESC_WORDS];
      const off = d[k * DESC_WORDS + 1] & 0xffff;
      const len = d[k * DESC_WORDS + 1] >>> 16;
      const at = zone.dataStart(h) + off;
      const wrong = checkFrame(zone.bytes, at, done, len);
      if (wrong >= 0) {
        bad++;
        if (firstBad === "") {
          firstBad = `frame ${done}: got #${frameNumber(zone.bytes, at)} len ${len}, byte ${wrong}`;
        }
      }
      bytes += len;
      done++;
      zone.release(h);
    }
    // Yield now and then so the event loop (and a timeout) can run.
    if (got === 0 && ++spins % 4096 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  stats = port.stats();
  // Acknowledge: one 60-byte frame numbered 0xffffffff.
  acked = sendAck(port, zone, d, ackNumber);
} else {
  while (done < count && Date.now() < deadline) {
    const n = Math.min(burst, count - done);
    zone.takeBulk(handles, n);
    for (let k = 0; k < n; k++) {
      const len = frameLength(done + k);
      fillFrame(zone.bytes, zone.dataStart(handles[k]) + zone.headroom, done + k, len);
      d[k * DESC_WORDS] = handles[k];
      d[k * DESC_WORDS + 1] = zone.headroom | (len << 16);
      d[k * DESC_WORDS + 2] = 0;
      d[k * DESC_WORDS + 3] = 0;
    }
    const took = port.tx(0, d, n);
    for (let k = took; k < n; k++) zone.release(handles[k]);
    for (let k = 0; k < took; k++) bytes += frameLength(done + k);
    done += took;
    if (took < n && ++spins % 4096 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  while (!acked && Date.now() < deadline) {
    const got = port.rx(0, d, burst);
    for (let k = 0; k < got; k++) {
      const h = d[k * DESC_WORDS];
      if (frameNumber(zone.bytes, zone.dataStart(h) + (d[k * DESC_WORDS + 1] & 0xffff)) === ackNumber) {
        acked = true;
      }
      zone.release(h);
    }
    if (got === 0 && ++spins % 4096 === 0) await new Promise((r) => setTimeout(r, 0));
  }
}

zone.flush();
const result = {
  mode,
  done,
  bytes,
  bad,
  firstBad,
  acked,
  freeBefore,
  freeAfter: zone.accounting().free,
  capacity: zone.capacity,
  stats: stats ?? port.stats(),
};
// Give the peer time to read the acknowledgement before the link goes away.
if (mode === "recv") await new Promise((r) => setTimeout(r, 200));
dpdk.close();
console.log("RESULT " + JSON.stringify(result));
