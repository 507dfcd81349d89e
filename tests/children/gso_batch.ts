// Several large segments cut by the shim's GSO in one transmit call over a
// net_memif pair (the two roles of one socket in this process, as in
// gso_ring_full.ts). First into a ring with room: sixteen 4 KiB answers
// (three frames each) go to the driver in one transmit burst, not one each.
// Then into a ring with room for only part of one step: what the driver
// refused of the step, up to its last packet cut, waits in the port's
// backlog (the packets whose segments are held are taken), the records
// after it stay the caller's, and nothing is cut twice or lost. Every frame
// arrives once, in order, its bytes checked. Prints `RESULT {...}`.
// Usage: gso_batch.ts PREFIX SOCKET
import { rmSync } from "node:fs";
import { DESC_WORDS, SEG_MSS_SHIFT, TxFlag } from "../../ffi/mod.ts";
import type { PortStats } from "../../src/device/dpdk/mod.ts";
import { tcpHeaderLen, writeTcpHeader } from "./_tcp_header.ts";
import { memifGsoPair } from "./_memif_gso_pair.ts";

const [prefix, socket] = process.argv.slice(2);
const { dpdk, rx, rz, tx, tz, freeBefore } = await memifGsoPair(prefix, socket, 4095);

const mss = 1448;
const hdrLen = tcpHeaderLen;
const byteAt = (pos: number) => (pos * 7 + (pos >>> 8)) & 0xff;
let seq = 0; // the next byte of the stream to send

/** Writes a TCP/IPv4 header at zone offset `o` for `payload` bytes at sequence number `at`. */
function header(o: number, payload: number, at: number): void {
  writeTcpHeader(tz.bytes, tz.view, o, payload, at);
}

/**
 * Records of `count` packets of `payload` bytes each, the stream's next bytes: a header buffer,
 * then the payload in buffers of `piece` bytes. Large ones are marked for segmentation at `mss`.
 */
function packets(count: number, payload: number, piece: number): Uint32Array {
  const pieces = Math.ceil(payload / piece);
  const d = new Uint32Array(count * (1 + pieces) * DESC_WORDS);
  let r = 0;
  for (let p = 0; p < count; p++, seq += payload) {
    const h = tz.take();
    header(tz.dataStart(h) + tz.headroom, payload, seq);
    d[r] = h;
    d[r + 1] = tz.headroom | (hdrLen << 16);
    d[r + 2] = TxFlag.ipv4 | TxFlag.more | (payload > mss ? TxFlag.tcpSeg | (mss << SEG_MSS_SHIFT) : 0);
    d[r + 3] = 14 | (20 << 8) | (20 << 20);
    r += DESC_WORDS;
    for (let j = 0; j < pieces; j++, r += DESC_WORDS) {
      const len = Math.min(piece, payload - j * piece);
      const pb = tz.take();
      const po = tz.dataStart(pb) + tz.headroom;
      for (let i = 0; i < len; i++) tz.bytes[po + i] = byteAt(seq + j * piece + i);
      d[r] = pb;
      d[r + 1] = tz.headroom | (len << 16);
      d[r + 2] = j + 1 < pieces ? TxFlag.more : 0;
      d[r + 3] = 0;
    }
  }
  return d;
}

let got = 0;
let bad = 0;
let next = 0;
const rd = new Uint32Array(64 * DESC_WORDS);
/** Receives at most `max` frames, each checked: in order, its bytes. */
function receive(max: number): number {
  const k = rx.rx(0, rd, Math.min(max, 64));
  for (let j = 0; j < k; j++) {
    const h = rd[j * DESC_WORDS];
    const at = rz.dataStart(h) + (rd[j * DESC_WORDS + 1] & 0xffff);
    const len = (rd[j * DESC_WORDS + 1] >>> 16) - hdrLen;
    const s = rz.view.getUint32(at + 38);
    if (s !== next || len <= 0 || len > mss) bad++;
    for (let i = 0; i < len; i++) if (rz.bytes[at + hdrLen + i] !== byteAt(s + i)) bad++;
    next = s + len;
    got++;
    rz.release(h);
  }
  return k;
}

/** Receives `frames` frames, waiting 10 s at most. */
async function receiveAll(frames: number): Promise<void> {
  const want = got + frames;
  for (const deadline = Date.now() + 10_000; got < want && Date.now() < deadline;) {
    if (receive(want - got) === 0) await new Promise((r) => setTimeout(r, 1));
  }
  if (got < want) throw new Error(`memif: ${want - got} of ${frames} frames did not arrive in 10 s`);
}

const delta = (a: PortStats, b: PortStats) => ({
  pmdCalls: b.txPmdCalls - a.txPmdCalls,
  cut: b.txSegPackets - a.txSegPackets,
  segments: b.txSegSegments - a.txSegSegments,
  refused: b.txRefused - a.txRefused,
  dropped: b.txSegDropped - a.txSegDropped,
});

// 1. Sixteen 4 KiB answers in one call, into an empty ring.
const answers = packets(16, 4096, 2048);
let s0 = tx.stats();
const answersTaken = tx.tx(0, answers, answers.length / DESC_WORDS);
const roomy = {
  records: answers.length / DESC_WORDS,
  taken: answersTaken,
  backlog: tx.txBacklog[0],
  ...delta(s0, tx.stats()),
};
await receiveAll(16 * 3);

// 2. The ring is filled with single frames up to its last slot but `room`, with calls the driver
// takes whole; then four packets of 15 segments (one step: 60 mbufs) are offered in one call.
const one = packets(1, mss, mss);
const single = tx.tx(0, one, one.length / DESC_WORDS);
if (single !== one.length / DESC_WORDS) {
  throw new Error("memif: a single frame into an empty ring was refused");
}
let ring = 1;
for (let tries = 0; tries < 8192; tries++) {
  const f = packets(1, mss, mss);
  if (tx.tx(0, f, f.length / DESC_WORDS) === 0) {
    tz.release(f[0]);
    tz.release(f[DESC_WORDS]);
    seq -= mss;
    break;
  }
  ring++;
}
await receiveAll(ring); // the ring's size is known: drained, and the port no longer sees it refuse
const room = 20;
for (let left = ring - room; left > 0;) {
  const k = Math.min(left, 128);
  const fill = packets(k, mss, mss);
  const fillTaken = tx.tx(0, fill, fill.length / DESC_WORDS);
  if (fillTaken !== fill.length / DESC_WORDS) {
    throw new Error(`memif: ${fillTaken} of ${fill.length / DESC_WORDS} records taken with room in the ring`);
  }
  left -= k;
}
const big = packets(4, 15 * mss, 1500); // 15 segments each, in 15 buffers of payload
const perBig = big.length / DESC_WORDS / 4;
s0 = tx.stats();
let taken = tx.tx(0, big, big.length / DESC_WORDS);
const partial = {
  packetsTaken: taken / perBig,
  backlog: tx.txBacklog[0],
  ...delta(s0, tx.stats()),
};
// The peer drains; the sender offers what is left (the backlog first) until every frame came.
const frames = ring - room + 4 * 15;
const want = got + frames;
for (const deadline = Date.now() + 10_000; got < want && Date.now() < deadline;) {
  if (taken < big.length / DESC_WORDS || tx.txBacklog[0] !== 0) {
    taken += tx.tx(0, big.subarray(taken * DESC_WORDS), big.length / DESC_WORDS - taken);
  }
  if (receive(64) === 0) await new Promise((r) => setTimeout(r, 1));
}
const after = delta(s0, tx.stats());

tz.flush();
rz.flush();
console.log(
  "RESULT " + JSON.stringify({
    roomy,
    ring,
    partial,
    after: { cut: after.cut, segments: after.segments, refused: after.refused, dropped: after.dropped },
    frames: got,
    framesSent: 16 * 3 + 2 * ring - room + 4 * 15,
    bad,
    freeBefore,
    freeAfter: [tz.accounting().free, rz.accounting().free],
  }),
);
dpdk.close();
rmSync(socket, { force: true });
