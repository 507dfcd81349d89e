// A zero-copy memif ring with five free slots, offered one burst that mixes a
// packet GSO cuts in two (each segment a chain: a header buffer and payload
// links, a slot each) with single frames: the two roles of one socket in this process,
// the client (the sender) in zero-copy on --no-huge memory (one memfd). DPDK's zero-copy
// transmit checks its free slots once per 4 packets of a longer burst, so a
// burst of 6 would fill the 5 slots and then write single frames over slots
// the server has not read; the port hands it 4 packets a call (txQuads), and
// the cut packet alone fits here. Then the peer drains the ring, the sender's records all go,
// and every frame arrives once, in order, its bytes checked. Prints
// `RESULT {...}`: what the burst took, what arrived, and the sender's buffers
// in use before and after.
// Usage: zc_ring_full.ts PREFIX SOCKET
import { rmSync } from "node:fs";
import { DESC_WORDS, Offload, SEG_MSS_SHIFT, TxFlag } from "../../ffi/mod.ts";
import { Dpdk } from "../../src/device/dpdk/mod.ts";
import { tcpHeaderLen, writeTcpHeader } from "./_tcp_header.ts";

const [prefix, socket] = process.argv.slice(2);
rmSync(socket, { force: true });
const memif = `socket=${socket},socket-abstract=no`;
const dpdk = await Dpdk.start({
  prefix,
  memoryMb: 128,
  vdevs: [`net_memif0,role=server,${memif}`, `net_memif1,role=client,${memif},zero-copy=yes`],
});
const rx = dpdk.port("net_memif0");
const rz = dpdk.createZone("net_memif0", { count: 4095 });
rx.configure({ zone: rz, noChecksums: true });
rx.start();
const tx = dpdk.port("net_memif1");
const tz = dpdk.createZone("net_memif1", { count: 4095 });
tx.configure({ zone: tz, txOffloads: Offload.tcpGso, noChecksums: true, txQuads: true });
const shareable = dpdk.shim.symbols.luna_mem_shareable();
tx.start();
for (let i = 0; i < 2000 && !(tx.link().up && rx.link().up); i++) await new Promise((r) => setTimeout(r, 5));
if (!(tx.link().up && rx.link().up)) throw new Error("memif: the link did not come up in 10 s");
const inUseBefore = tz.accounting().inUse;

const mss = 1000;
const hdrLen = tcpHeaderLen;
const byteAt = (pos: number) => (pos * 7 + (pos >>> 8)) & 0xff;

/** Writes a TCP/IPv4 header at zone offset `o` for `payload` bytes at sequence number `seq`. */
function header(o: number, payload: number, seq: number): void {
  writeTcpHeader(tz.bytes, tz.view, o, payload, seq);
}

let seq = 0;
/** Writes record `r` of `d`: one MSS-sized frame at the next sequence number. */
function single(d: Uint32Array, r: number): void {
  const h = tz.take();
  const o = tz.dataStart(h) + tz.headroom;
  header(o, mss, seq);
  for (let i = 0; i < mss; i++) tz.bytes[o + hdrLen + i] = byteAt(seq + i);
  seq += mss;
  d[r * DESC_WORDS] = h;
  d[r * DESC_WORDS + 1] = tz.headroom | ((hdrLen + mss) << 16);
  d[r * DESC_WORDS + 2] = TxFlag.ipv4;
  d[r * DESC_WORDS + 3] = 0;
}

// The ring filled with single frames, up to its last slot.
const one = new Uint32Array(DESC_WORDS);
let smalls = 0;
for (let tries = 0; tries < 8192; tries++) {
  single(one, 0);
  if (tx.tx(0, one, 1) === 0) {
    tz.release(one[0]);
    seq -= mss;
    break;
  }
  smalls++;
}

let got = 0;
let bad = 0;
let next = 0;
const rd = new Uint32Array(64 * DESC_WORDS);
/** Receives at most `max` frames, each checked: in order, MSS long, its bytes. */
function receive(max: number): number {
  const k = rx.rx(0, rd, max);
  for (let j = 0; j < k; j++) {
    const h = rd[j * DESC_WORDS];
    const at = rz.dataStart(h) + (rd[j * DESC_WORDS + 1] & 0xffff);
    const len = (rd[j * DESC_WORDS + 1] >>> 16) - hdrLen;
    const s = rz.view.getUint32(at + 38);
    if (s !== next || len !== mss) bad++;
    for (let i = 0; i < len; i++) if (rz.bytes[at + hdrLen + i] !== byteAt(s + i)) bad++;
    next = s + len;
    got++;
    rz.release(h);
  }
  return k;
}

// The peer reads 5 frames: 5 slots free.
for (let k = 0, tries = 0; k < 5 && tries < 1000; tries++) k += receive(5 - k);

// One burst: a packet of 2 MSS that GSO cuts in two (a header record and a payload record),
// then 4 single frames.
const records = 2 + 4;
const d = new Uint32Array(records * DESC_WORDS);
const h0 = tz.take();
header(tz.dataStart(h0) + tz.headroom, 2 * mss, seq);
d[0] = h0;
d[1] = tz.headroom | (hdrLen << 16);
d[2] = TxFlag.ipv4 | TxFlag.tcpSeg | TxFlag.more | (mss << SEG_MSS_SHIFT);
d[3] = 14 | (20 << 8) | (20 << 20);
const pb = tz.take();
const po = tz.dataStart(pb) + tz.headroom;
for (let i = 0; i < 2 * mss; i++) tz.bytes[po + i] = byteAt(seq + i);
seq += 2 * mss;
d[DESC_WORDS] = pb;
d[DESC_WORDS + 1] = tz.headroom | ((2 * mss) << 16);
d[DESC_WORDS + 2] = 0;
d[DESC_WORDS + 3] = 0;
for (let r = 2; r < records; r++) single(d, r);
const firstTaken = tx.tx(0, d, records);

// The peer drains; the sender offers the rest until every record went and every frame came.
const frames = smalls + 2 + 4;
let taken = firstTaken;
for (const deadline = Date.now() + 10_000; got < frames && Date.now() < deadline;) {
  if (taken < records) taken += tx.tx(0, d.subarray(taken * DESC_WORDS), records - taken);
  if (receive(64) === 0) await new Promise((r) => setTimeout(r, 1));
}
// One more frame, read too: the transmit before it gives back what the server had read.
single(one, 0);
const lastTaken = tx.tx(0, one, 1);
for (let tries = 0; tries < 1000 && receive(1) === 0; tries++) await new Promise((r) => setTimeout(r, 1));
tz.flush();
rz.flush();
console.log(
  "RESULT " + JSON.stringify({
    shareable,
    smalls,
    firstTaken,
    frames: frames + lastTaken,
    got,
    bad,
    inUseBefore,
    inUseAfter: tz.accounting().inUse,
  }),
);
dpdk.close();
rmSync(socket, { force: true });
