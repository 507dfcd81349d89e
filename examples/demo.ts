/**
 * The luna-ts demo (foundation stage): two processes joined by a DPDK memif
 * link, no NIC and no kernel on the path. This process sends frames of
 * known content through zero-copy buffers; examples/reflector.ts sends each
 * one back with its MAC addresses swapped; every returning byte is checked.
 *
 * Run: `make demo` (or `bun examples/demo.ts`).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DESC_WORDS } from "../ffi/mod.ts";
import { Dpdk } from "../src/device/dpdk/mod.ts";

const frames = 1_000_000;
const size = 128;
const socket = `/tmp/luna-demo-${process.pid}.sock`;
const prefixes = [`luna-demo-${process.pid}-a`, `luna-demo-${process.pid}-b`];
const cleanup = () => {
  rmSync(socket, { force: true });
  for (const p of prefixes) rmSync(`/var/run/dpdk/${p}`, { recursive: true, force: true });
};

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const reflectorPath = fileURLToPath(new URL("./reflector.ts", import.meta.url));
const [cmd, args] = typeof g.Bun !== "undefined"
  ? [process.execPath, [reflectorPath]]
  : [g.Deno.execPath(), ["run", "-A", reflectorPath]];
const reflector = spawn(cmd, [...args, prefixes[1], socket, String(frames), "60"], {
  stdio: ["ignore", "pipe", "inherit"],
});
let reflectorOut = "";
reflector.stdout!.setEncoding("utf8").on("data", (s: string) => (reflectorOut += s));
process.on("SIGINT", () => {
  reflector.kill("SIGKILL");
  cleanup();
  process.exit(130);
});

console.log("luna-ts demo: memif link between two processes, frames checked byte by byte\n");
for (let i = 0; i < 500 && !reflectorOut.includes("READY"); i++) await new Promise((r) => setTimeout(r, 20));
if (!reflectorOut.includes("READY")) throw new Error("the reflector did not start");

const dpdk = await Dpdk.start({
  prefix: prefixes[0],
  vdevs: [`net_memif0,role=client,socket=${socket},socket-abstract=no`],
});
const zone = dpdk.createZone("demo", { count: 8191 });
const port = dpdk.port("net_memif0");
port.configure({ zone });
port.start();
for (let i = 0; i < 1000 && !port.link().up; i++) await new Promise((r) => setTimeout(r, 10));
const info = port.describe();
console.log(`port ${info.name} (driver ${info.driver}), link ${port.link().up ? "up" : "down"}`);
console.log(`zone: ${zone.capacity} buffers of ${zone.dataRoomSize} bytes, mapped once as one ArrayBuffer\n`);

const tx = new Uint32Array(32 * DESC_WORDS);
const rx = new Uint32Array(32 * DESC_WORDS);
const handles = new Uint32Array(32);
let sent = 0;
let back = 0;
let bad = 0;
const t0 = performance.now();
const deadline = Date.now() + 60_000;
while (back < frames && Date.now() < deadline) {
  // Keep at most 2048 frames in flight.
  const n = Math.min(32, frames - sent, 2048 - (sent - back));
  if (n > 0) {
    zone.takeBulk(handles, n);
    for (let k = 0; k < n; k++) {
      const at = zone.dataStart(handles[k]) + zone.headroom;
      zone.bytes.fill(0xaa, at, at + 6); // destination MAC
      zone.bytes.fill(0xbb, at + 6, at + 12); // source MAC
      zone.view.setUint32(at + 12, sent + k); // sequence number
      zone.bytes.fill((sent + k) & 0xff, at + 16, at + size);
      tx[k * DESC_WORDS] = handles[k];
      tx[k * DESC_WORDS + 1] = zone.headroom | (size << 16);
      tx[k * DESC_WORDS + 2] = 0;
      tx[k * DESC_WORDS + 3] = 0;
    }
    const took = port.tx(0, tx, n);
    for (let k = took; k < n; k++) zone.release(handles[k]);
    sent += took;
  }
  const got = port.rx(0, rx, 32);
  for (let k = 0; k < got; k++) {
    const h = rx[k * DESC_WORDS];
    const at = zone.dataStart(h) + (rx[k * DESC_WORDS + 1] & 0xffff);
    const len = rx[k * DESC_WORDS + 1] >>> 16;
    const seq = zone.view.getUint32(at + 12);
    const ok = len === size && seq === back && zone.bytes[at] === 0xbb && zone.bytes[at + 6] === 0xaa &&
      zone.bytes[at + 16] === (seq & 0xff) && zone.bytes[at + size - 1] === (seq & 0xff);
    if (!ok) bad++;
    back++;
    zone.release(h);
  }
}
const seconds = (performance.now() - t0) / 1000;
zone.flush();

console.log(`sent ${sent} frames of ${size} bytes, ${back} came back, ${bad} wrong`);
console.log(
  `round trips: ${(back / seconds / 1e6).toFixed(2)} M frames/s each way ` +
    `(${((back * size * 8) / seconds / 1e9).toFixed(2)} Gbit/s) in ${seconds.toFixed(2)} s`,
);
const acc = zone.accounting();
console.log(`zone after the run: ${acc.free} of ${acc.capacity} buffers free, ${acc.inUse} in use`);
const st = port.stats();
console.log(`port counters: ${st.opackets} sent, ${st.ipackets} received, ${st.oerrors} tx errors`);
await new Promise<void>((resolve) => reflector.on("close", () => resolve()));
const line = reflectorOut.split("\n").find((l) => l.startsWith("RESULT "));
if (line) console.log(`reflector: ${JSON.parse(line.slice(7)).reflected} frames reflected`);
dpdk.close();
cleanup();
if (bad !== 0 || back !== frames || acc.inUse !== 0) {
  console.error("demo FAILED");
  process.exit(1);
}
console.log("\ndemo OK");
