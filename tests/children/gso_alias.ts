// Large segments whose buffers are named more than once in one transmit
// burst, cut by the shim's GSO between the two roles of one net_memif socket
// in this process. The shim links a chain's own zone buffers in place for
// GSO to read and puts their fields back after: a buffer sent on its own
// earlier in the same burst must leave as it was described, and a chain that
// names one buffer twice (which would link into a loop) must still be cut
// right. Prints `RESULT {...}`: each case's frames as received (payload
// bytes checked against what was sent) and both zones' buffers before and
// after. Usage: gso_alias.ts PREFIX SOCKET
import { rmSync } from "node:fs";
import { DESC_WORDS, SEG_MSS_SHIFT, TxFlag } from "../../ffi/mod.ts";
import { tcpHeaderLen, writeTcpHeader } from "./_tcp_header.ts";
import { memifGsoPair } from "./_memif_gso_pair.ts";

const [prefix, socket] = process.argv.slice(2);
// The client role sends, as in gso_peer.ts.
const { dpdk, rx, rz, tx, tz, freeBefore } = await memifGsoPair(prefix, socket, 2047);

const mss = 500;
const hdrLen = tcpHeaderLen;
const d = new Uint32Array(64 * DESC_WORDS);
let n = 0;
/** Byte `i` of the pattern buffers are filled with, offset by `seed`. */
const pattern = (seed: number, i: number) => (seed * 31 + i * 7) & 0xff;

/** A buffer whose bytes from the headroom on are `pattern(seed, …)`. */
function filled(seed: number): number {
  const h = tz.take();
  const o = tz.dataStart(h) + tz.headroom;
  for (let i = 0; i < 1800; i++) tz.bytes[o + i] = pattern(seed, i);
  return h;
}

/** Writes a TCP/IPv4 header at zone offset `o` for `payload` bytes at sequence number `seq`. */
function header(o: number, payload: number, seq: number): void {
  writeTcpHeader(tz.bytes, tz.view, o, payload, seq);
}

function record(h: number, off: number, len: number, flags: number, lens = 0): void {
  const r = n++ * DESC_WORDS;
  d[r] = h;
  d[r + 1] = off | (len << 16);
  d[r + 2] = flags;
  d[r + 3] = lens;
}

/** A large segment: a header buffer of its own, then `pieces` of (buffer, data offset, length). */
function chain(seq: number, pieces: [number, number, number][]): void {
  const h = tz.take();
  const payload = pieces.reduce((s, p) => s + p[2], 0);
  header(tz.dataStart(h) + tz.headroom, payload, seq);
  record(
    h,
    tz.headroom,
    hdrLen,
    TxFlag.ipv4 | TxFlag.tcpSeg | TxFlag.more | (mss << SEG_MSS_SHIFT),
    14 | (20 << 8) | (20 << 20),
  );
  pieces.forEach(([b, off, len], j) => {
    tz.retain(b); // the device's reference
    record(b, off, len, j + 1 < pieces.length ? TxFlag.more : 0);
  });
}

/** Sends the records built, then receives `frames` frames: per frame, [sequence number, payload bytes]. */
async function exchange(frames: number): Promise<number[][]> {
  let sent = 0;
  for (let tries = 0; sent < n && tries < 100_000; tries++) {
    sent += tx.tx(0, d.subarray(sent * DESC_WORDS), n - sent);
  }
  if (sent < n) throw new Error(`the port took ${sent} of ${n} records`);
  n = 0;
  const got: number[][] = [];
  const rd = new Uint32Array(64 * DESC_WORDS);
  for (const deadline = Date.now() + 10_000; got.length < frames && Date.now() < deadline;) {
    const k = rx.rx(0, rd, 64);
    for (let j = 0; j < k; j++) {
      const h = rd[j * DESC_WORDS];
      const at = rz.dataStart(h) + (rd[j * DESC_WORDS + 1] & 0xffff);
      const len = rd[j * DESC_WORDS + 1] >>> 16;
      const bytes = Array.from(rz.bytes.subarray(at + hdrLen, at + len));
      got.push([rz.view.getUint32(at + 38), ...bytes]);
      rz.release(h);
    }
    if (k === 0) await new Promise((r) => setTimeout(r, 1));
  }
  return got;
}

/** What a frame of `seq` should carry: the bytes of each (buffer seed, data offset, length) in turn. */
function expected(seq: number, parts: [number, number, number][]): number[] {
  const out = [seq];
  for (const [seed, off, len] of parts) {
    for (let i = 0; i < len; i++) out.push(pattern(seed, off - tz.headroom + i));
  }
  return out;
}

const result: Record<string, unknown> = {};

// Case 1: buffer X goes on its own (a header written in place at its start,
// 300 bytes after it), then, in the same burst, 1200 bytes of X from
// another offset lie in a chain cut into three segments.
{
  const x = filled(1);
  const y = filled(2);
  tz.retain(x); // the single record's reference; the chain takes another
  header(tz.dataStart(x) + tz.headroom, 300 - hdrLen, 7);
  record(x, tz.headroom, 300, TxFlag.ipv4);
  chain(1000, [[x, tz.headroom + 400, 1200], [y, tz.headroom + 10, 300]]);
  const got = await exchange(4);
  // The single frame's payload is X's bytes after its header, which the header overwrote.
  const single = [7, ...Array.from({ length: 300 - hdrLen }, (_, i) => pattern(1, hdrLen + i))];
  result.singleThenChain = {
    frames: got.length,
    single: JSON.stringify(got[0]) === JSON.stringify(single),
    segments: got.slice(1).map((f) => [f[0], f.length - 1]),
    bytes: JSON.stringify(got.slice(1).flatMap((f) => f.slice(1))) ===
      JSON.stringify([...expected(0, [[1, tz.headroom + 400, 1200], [2, tz.headroom + 10, 300]])].slice(1)),
  };
  tz.release(x);
  tz.release(y);
}

// Case 2: a chain that names buffer Z twice (two of its ranges, the second first).
{
  const z = filled(3);
  chain(5000, [[z, tz.headroom + 700, 600], [z, tz.headroom, 600]]);
  const got = await exchange(3);
  result.bufferTwice = {
    frames: got.length,
    segments: got.map((f) => [f[0], f.length - 1]),
    bytes: JSON.stringify(got.flatMap((f) => f.slice(1))) ===
      JSON.stringify(expected(0, [[3, tz.headroom + 700, 600], [3, tz.headroom, 600]]).slice(1)),
  };
  tz.release(z);
}

tz.flush();
rz.flush();
result.freeBefore = freeBefore;
result.freeAfter = [tz.accounting().free, rz.accounting().free];
result.capacity = [tz.capacity, rz.capacity];
result.stats = { txInvalidRefused: tx.stats().txInvalidRefused, txSegDropped: tx.stats().txSegDropped };
dpdk.close();
rmSync(socket, { force: true });
console.log("RESULT " + JSON.stringify(result));
