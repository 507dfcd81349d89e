// Frames of chosen lengths over memif to a port running at a given MTU: the
// receiver (memif server) reports the lengths that reached it and the port's
// counters; the sender (memif client) sends each length once, then a 60-byte
// end marker. A frame longer than one of the receiver's buffers arrives as a
// chain of them (its length is the chain's).
// Usage: mtu_frames.ts recv|send PREFIX SOCKET MTU LEN,LEN,...
import { DESC_WORDS } from "../../ffi/mod.ts";
import { RxFlag } from "../../ffi/symbols.ts";
import { dataRoomForMtu, Dpdk } from "../../src/device/dpdk/mod.ts";
import { dataRoomForChainedMtu, dataRoomMax } from "../../src/device/dpdk/pool.ts";
import { parseDeviceSpec } from "../../src/device/spec.ts";

const [mode, prefix, socket, mtuArg, lengthsArg] = process.argv.slice(2);
const mtu = Number(mtuArg);
const lengths = lengthsArg.split(",").map(Number);
const marker = 60;
const spec = parseDeviceSpec(`memif:${socket},${mode === "recv" ? "server" : "client"}`, "device", { mtu });
const dpdk = await Dpdk.start({ prefix, vdevs: spec.vdevs });
// The sender's buffers hold its longest frame, whatever its MTU: the shim bounds only what is received.
// The receiver's are a memif port's at its MTU (longer frames chained).
const longest = Math.max(mtu, ...lengths.map((n) => n - 14));
const dataRoom = mode === "recv"
  ? dataRoomForChainedMtu(mtu)
  : Math.min(dataRoomForMtu(longest), dataRoomMax & ~63);
const zone = dpdk.createZone("frames", { count: 1023, dataRoom });
const port = dpdk.port(spec.portName);
port.configure({ zone, mtu, mtuPmdUnbounded: spec.mtuPmdUnbounded });
port.start();
console.log("READY");

const linkDeadline = Date.now() + 20_000;
while (!port.link().up && Date.now() < linkDeadline) await new Promise((r) => setTimeout(r, 5));
const d = new Uint32Array(32 * DESC_WORDS);
const got: number[] = [];
let error: string | undefined;
if (!port.link().up) error = "memif link did not come up";
else if (mode === "recv") {
  const deadline = Date.now() + 20_000;
  let end = false;
  let chain = 0; // bytes of the frame being gathered
  while (!end && Date.now() < deadline) {
    const n = port.rx(0, d, 32);
    for (let k = 0; k < n; k++) {
      chain += d[k * DESC_WORDS + 1] >>> 16;
      zone.release(d[k * DESC_WORDS]);
      if ((d[k * DESC_WORDS + 2] & RxFlag.more) !== 0) continue;
      if (chain === marker) end = true;
      else got.push(chain);
      chain = 0;
    }
    if (n === 0) await new Promise((r) => setTimeout(r, 1));
  }
  if (!end) error = "no end marker";
} else {
  for (const len of [...lengths, marker]) {
    const h = zone.take();
    // A broadcast IPv4-typed frame of `len` bytes; its content does not matter here.
    const at = zone.dataStart(h) + zone.headroom;
    zone.bytes.fill(0xff, at, at + 12);
    zone.bytes.fill(0, at + 12, at + len);
    zone.bytes[at + 12] = 0x08;
    d[0] = h;
    d[1] = zone.headroom | (len << 16);
    d[2] = 0;
    d[3] = 0;
    let sent = 0;
    for (let tries = 0; sent === 0 && tries < 100_000; tries++) sent = port.tx(0, d, 1);
    if (sent === 0) {
      zone.release(h);
      error = `frame of ${len} bytes not taken`;
      break;
    }
    got.push(len);
  }
  // Give the receiver time to take the frames before the link goes.
  await new Promise((r) => setTimeout(r, 500));
}
console.log("RESULT " + JSON.stringify({ mode, mtu: port.describe().mtu, got, error, stats: port.stats() }));
dpdk.close();
process.exit(error === undefined ? 0 : 1);
