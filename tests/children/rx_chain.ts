// A frame of three links over memif and back: each end has 2048-byte
// buffers at MTU 9000, so a 5000-byte frame spans three of them. The
// sender ("send", memif client) builds it in three buffers of its own zone
// and sends it as a chain of records; the echoer ("echo", memif server)
// receives it as three chained records, checks every byte, and sends the
// same records back as a chain; the sender receives the three links and
// checks every byte again. Each end reports what it saw and its zone's
// free count before and after.
// Usage: rx_chain.ts send|echo PREFIX SOCKET
import { DESC_WORDS, Offload, RxFlag, TxFlag } from "../../ffi/mod.ts";
import { Dpdk } from "../../src/device/dpdk/mod.ts";
import { parseDeviceSpec } from "../../src/device/spec.ts";
import { awaitLink } from "./_memif.ts";

const [mode, prefix, socket] = process.argv.slice(2);
const frameLen = 5000;
const hdr = 14 + 20 + 20;
const spec = parseDeviceSpec(`memif:${socket},${mode === "echo" ? "server" : "client"}`, "device", {
  mtu: 9000,
});
const dpdk = await Dpdk.start({ prefix, vdevs: spec.vdevs });
const zone = dpdk.createZone("chain", { count: 1023, cache: 0, dataRoom: 2048 + 128 });
const port = dpdk.port(spec.portName);
// Chained transmit records need the shim's chain buffers, which come with GSO.
port.configure({ zone, mtu: 9000, mtuPmdUnbounded: true, noChecksums: true, txOffloads: Offload.tcpGso });
port.start();
console.log("READY");
await awaitLink(port, dpdk);
const freeBefore = zone.freeCount();

/** Byte i of the frame: an Ethernet/IPv4/TCP header, then a pattern. */
function expected(i: number): number {
  if (i < 6) return 0xff; // broadcast
  if (i < 12) return 0x02;
  if (i === 12) return 0x08;
  if (i === 13) return 0x00;
  if (i === 14) return 0x45;
  if (i === 16) return (frameLen - 14) >>> 8;
  if (i === 17) return (frameLen - 14) & 0xff;
  if (i === 23) return 6;
  if (i === 46) return 0x50; // data offset 5
  if (i === 47) return 0x10; // ACK
  if (i < hdr) return 0;
  return (i * 31 + 7) & 0xff;
}

const d = new Uint32Array(32 * DESC_WORDS);
const lens = 14 | (20 << 8) | (20 << 20);
let error: string | undefined;

/** Receives one packet (waiting up to 10 s): its records' lengths, and whether every byte is right. */
async function receive(): Promise<
  { links: number[]; bytesOk: boolean; handles: number[]; offs: number[] } | undefined
> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const n = port.rx(0, d, 32);
    if (n === 0) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    const links: number[] = [];
    const handles: number[] = [];
    const offs: number[] = [];
    let pos = 0;
    let bytesOk = true;
    for (let k = 0; k < n; k++) {
      const i = k * DESC_WORDS;
      const len = d[i + 1] >>> 16;
      const at = zone.dataStart(d[i]) + (d[i + 1] & 0xffff);
      for (let j = 0; j < len; j++) if (zone.bytes[at + j] !== expected(pos + j)) bytesOk = false;
      pos += len;
      links.push(len);
      handles.push(d[i]);
      offs.push(d[i + 1] & 0xffff);
      const more = (d[i + 2] & RxFlag.more) !== 0;
      if (more !== (k < n - 1)) bytesOk = false; // the chain's records, and nothing else
    }
    if (pos !== frameLen) bytesOk = false;
    return { links, bytesOk, handles, offs };
  }
  return undefined;
}

/** Sends a chain of records (each record's reference goes with it). */
function sendChain(handles: number[], offs: number[], lengths: number[]): boolean {
  for (let k = 0; k < handles.length; k++) {
    const i = k * DESC_WORDS;
    d[i] = handles[k];
    d[i + 1] = offs[k] | (lengths[k] << 16);
    d[i + 2] = k < handles.length - 1 ? TxFlag.more : 0;
    d[i + 3] = k === 0 ? lens : 0;
  }
  for (let tries = 0; tries < 100_000; tries++) {
    if (port.tx(0, d, handles.length) === handles.length) return true;
  }
  return false;
}

let first: Awaited<ReturnType<typeof receive>>;
let back: Awaited<ReturnType<typeof receive>>;
if (mode === "send") {
  // Three buffers of 2000, 2000 and 1000 bytes: the frame in pieces.
  const sizes = [2000, 2000, 1000];
  const handles: number[] = [];
  const offs: number[] = [];
  let pos = 0;
  for (const size of sizes) {
    const h = zone.take();
    const at = zone.dataStart(h) + zone.headroom;
    for (let j = 0; j < size; j++) zone.bytes[at + j] = expected(pos + j);
    pos += size;
    handles.push(h);
    offs.push(zone.headroom);
  }
  if (!sendChain(handles, offs, sizes)) error = "the chain was not taken";
  else {
    back = await receive();
    if (back === undefined) error = "nothing came back";
    else for (const h of back.handles) zone.release(h);
  }
} else {
  first = await receive();
  if (first === undefined) error = "nothing arrived";
  else if (!sendChain(first.handles, first.offs, first.links)) error = "the echo was not taken";
}
// Buffers the PMD still holds for transmission return once it is done: wait for the count (5 s at most).
const deadline = Date.now() + 5_000;
while (zone.freeCount() !== freeBefore && Date.now() < deadline) {
  port.tx(0, d, 0);
  await new Promise((r) => setTimeout(r, 5));
}
// The echoer stays until the sender had its answer (its link going down could lose it).
if (mode === "echo") await new Promise((r) => setTimeout(r, 500));
console.log(
  "RESULT " + JSON.stringify({
    mode,
    received: (first ?? back)?.links,
    bytesOk: (first ?? back)?.bytesOk,
    freeBefore,
    freeAfter: zone.freeCount(),
    capacity: zone.capacity,
    error,
    stats: port.stats(),
  }),
);
dpdk.close();
process.exit(error === undefined ? 0 : 1);
