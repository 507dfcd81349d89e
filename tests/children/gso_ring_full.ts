// Large segments cut by the shim's GSO into a net_memif ring the peer does
// not drain (the two roles of one socket in this process, as in
// gso_alias.ts): the sender offers its records again and again, as a loop
// does while the ring is full. A packet cut and refused whole waits, cut, in
// the port's backlog, and the records behind it stay the caller's: no packet
// is cut twice, so the PMD is never handed mbufs it refuses. Then the peer
// drains the ring, the sender's records all go, and every frame arrives once,
// in order, its bytes checked. Prints `RESULT {...}`: the counts while the
// ring was full, what arrived, and both zones' buffers before and after.
// Usage: gso_ring_full.ts PREFIX SOCKET
import { rmSync } from "node:fs";
import { DESC_WORDS, SEG_MSS_SHIFT, TxFlag } from "../../ffi/mod.ts";
import { tcpHeaderLen, writeTcpHeader } from "./_tcp_header.ts";
import { memifGsoPair } from "./_memif_gso_pair.ts";

const [prefix, socket] = process.argv.slice(2);
const { dpdk, rx, rz, tx, tz, freeBefore } = await memifGsoPair(prefix, socket, 4095);

const mss = 1000;
const hdrLen = tcpHeaderLen;
const piece = 1500;
const pieces = 10; // 15000 bytes: 15 segments a packet
const packets = 100; // 1500 frames: more than the ring's 1024 slots
const recordsPer = 1 + pieces;
const d = new Uint32Array(packets * recordsPer * DESC_WORDS);
const byteAt = (pos: number) => (pos * 7 + (pos >>> 8)) & 0xff;

/** Writes a TCP/IPv4 header at zone offset `o` for `payload` bytes at sequence number `seq`. */
function header(o: number, payload: number, seq: number): void {
  writeTcpHeader(tz.bytes, tz.view, o, payload, seq);
}

// First the ring is filled with single MSS-sized frames, up to its last slot.
const one = new Uint32Array(DESC_WORDS);
let smalls = 0;
for (let tries = 0; tries < 8192; tries++) {
  const h = tz.take();
  const o = tz.dataStart(h) + tz.headroom;
  header(o, mss, smalls * mss);
  for (let i = 0; i < mss; i++) tz.bytes[o + hdrLen + i] = byteAt(smalls * mss + i);
  one[0] = h;
  one[1] = tz.headroom | ((hdrLen + mss) << 16);
  one[2] = TxFlag.ipv4;
  one[3] = 0;
  if (tx.tx(0, one, 1) === 0) {
    tz.release(h);
    break;
  }
  smalls++;
}

// Every packet's records: a header buffer, then its payload in buffers of its own.
const first = smalls * mss;
for (let p = 0; p < packets; p++) {
  const seq = first + p * piece * pieces;
  const h = tz.take();
  header(tz.dataStart(h) + tz.headroom, piece * pieces, seq);
  let r = p * recordsPer * DESC_WORDS;
  d[r] = h;
  d[r + 1] = tz.headroom | (hdrLen << 16);
  d[r + 2] = TxFlag.ipv4 | TxFlag.tcpSeg | TxFlag.more | (mss << SEG_MSS_SHIFT);
  d[r + 3] = 14 | (20 << 8) | (20 << 20);
  for (let j = 0; j < pieces; j++) {
    const pb = tz.take();
    const po = tz.dataStart(pb) + tz.headroom;
    for (let i = 0; i < piece; i++) tz.bytes[po + i] = byteAt(seq + j * piece + i);
    r += DESC_WORDS;
    d[r] = pb;
    d[r + 1] = tz.headroom | (piece << 16);
    d[r + 2] = j + 1 < pieces ? TxFlag.more : 0;
    d[r + 3] = 0;
  }
}

const total = packets * recordsPer;
let taken = 0;
/** Offers the records not taken yet, as a loop's flush does (at most a burst's worth). */
function offer(): void {
  const n = Math.min(total - taken, 32 * recordsPer);
  taken += tx.tx(0, d.subarray(taken * DESC_WORDS), n);
}

const frames = smalls + packets * pieces * piece / mss;
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
    const seq = rz.view.getUint32(at + 38);
    if (seq !== next || len !== mss) bad++;
    for (let i = 0; i < len; i++) if (rz.bytes[at + hdrLen + i] !== byteAt(seq + i)) bad++;
    next = seq + len;
    got++;
    rz.release(h);
  }
  return k;
}

// The peer takes one packet's worth of frames: the first large packet fits the ring exactly,
// and the ones behind it find it full at their first segment. The sender keeps offering.
for (let k = 0, tries = 0; k < pieces * piece / mss && tries < 1000; tries++) {
  k += receive(pieces * piece / mss - k);
}
const refused0 = tx.stats().txRefused;
for (let k = 0; k < 50; k++) offer();
const full = {
  smalls,
  packetsTaken: taken / recordsPer,
  cut: tx.stats().txSegPackets,
  refused: tx.stats().txRefused - refused0,
  backlog: tx.txBacklog[0],
};

// The peer drains; the sender goes on until every record went and every frame came.
for (const deadline = Date.now() + 20_000; got < frames && Date.now() < deadline;) {
  if (taken < total || tx.txBacklog[0] !== 0) offer();
  if (receive(64) === 0) await new Promise((r) => setTimeout(r, 1));
}

tz.flush();
rz.flush();
console.log(
  "RESULT " + JSON.stringify({
    packets,
    full,
    frames,
    got,
    bad,
    cut: tx.stats().txSegPackets,
    segments: tx.stats().txSegSegments,
    dropped: tx.stats().txSegDropped,
    freeBefore,
    freeAfter: [tz.accounting().free, rz.accounting().free],
  }),
);
dpdk.close();
rmSync(socket, { force: true });
