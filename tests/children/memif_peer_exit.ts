// A memif peer that goes away while frames flow must not take this process
// with it. "sink" (memif server) bursts without pause in both directions and
// counts the peer's departures until CYCLES have happened; "flood" (memif
// client) sends full-size frames for a moment and then exits without closing
// anything, so the sink's port sees the disconnect in the middle of its bursts.
// Usage: memif_peer_exit.ts sink|flood PREFIX SOCKET [CYCLES]
import { DESC_WORDS } from "../../ffi/mod.ts";
import { dataRoomForMtu, Dpdk } from "../../src/device/dpdk/mod.ts";
import { parseDeviceSpec } from "../../src/device/spec.ts";

const [mode, prefix, socket, cyclesArg] = process.argv.slice(2);
const spec = parseDeviceSpec(`memif:${socket},${mode === "sink" ? "server" : "client"}`, "device", {});
const dpdk = await Dpdk.start({ prefix, vdevs: spec.vdevs });
const zone = dpdk.createZone("frames", { count: 2047, dataRoom: dataRoomForMtu(1500) });
const port = dpdk.port(spec.portName);
port.configure({ zone, mtu: 1500, mtuPmdUnbounded: spec.mtuPmdUnbounded });
port.start();
const full = zone.freeCount();
console.log("READY");

const burst = 32;
const d = new Uint32Array(burst * DESC_WORDS);
const handles = new Uint32Array(burst);

/** Sends up to a burst of 1514-byte frames (their bytes are whatever the buffers held); frees what the port did not take. */
function send(): number {
  if (zone.freeCount() < 4 * burst) return 0;
  zone.takeBulk(handles, burst);
  for (let k = 0; k < burst; k++) {
    d[k * DESC_WORDS] = handles[k];
    d[k * DESC_WORDS + 1] = zone.headroom | (1514 << 16);
    d[k * DESC_WORDS + 2] = 0;
    d[k * DESC_WORDS + 3] = 0;
  }
  const sent = port.tx(0, d, burst);
  for (let k = sent; k < burst; k++) zone.release(handles[k]);
  return sent;
}

function receive(): number {
  const n = port.rx(0, d, burst);
  for (let k = 0; k < n; k++) zone.release(d[k * DESC_WORDS]);
  return n;
}

let error: string | undefined;
if (mode === "sink") {
  const cycles = Number(cyclesArg);
  let departures = 0;
  let received = 0;
  let up = false;
  const deadline = Date.now() + 120_000;
  // Bursts back to back, up or down: a burst in flight when the peer leaves is the case under test.
  for (let i = 0; departures < cycles; i++) {
    received += receive();
    send();
    if ((i & 63) === 0) {
      const now = port.link().up;
      if (now && !up) console.log(`UP ${departures}`);
      if (!now && up) console.log(`DOWN ${++departures}`);
      up = now;
      if (Date.now() > deadline) {
        error = `${departures} of ${cycles} departures seen before the deadline`;
        break;
      }
      // Let the runtime breathe: the test reads this process's output.
      if ((i & 0xffff) === 0) await new Promise((r) => setTimeout(r, 0));
    }
  }
  const back = zone.freeCount();
  console.log("RESULT " + JSON.stringify({ departures, received, back, full, error }));
  port.stop();
  dpdk.close();
} else {
  const deadline = Date.now() + 20_000;
  while (!port.link().up && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  if (!port.link().up) {
    console.log("RESULT " + JSON.stringify({ error: "memif link did not come up" }));
    process.exit(1);
  }
  // Frames both ways for a moment, then gone with the rings full. The moment lasts until the
  // sink has sent enough to have looked at its link three times while it was up (it looks every
  // 64 bursts of at most 32 frames): a sink kept off its CPU for the whole 100 ms on a busy
  // machine would otherwise miss this peer's visit altogether and wait for a departure forever.
  const until = Date.now() + 100;
  const need = 3 * 64 * burst;
  let sent = 0;
  let got = 0;
  while ((Date.now() < until || got < need) && Date.now() < deadline) {
    sent += send();
    got += receive();
  }
  const short = got < need ? `only ${got} of ${need} frames from the sink within 20 s` : undefined;
  console.log("RESULT " + JSON.stringify({ sent, got, error: short }));
}
process.exit(error === undefined ? 0 : 1);
