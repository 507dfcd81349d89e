// Hot sums: on a port that computes checksums in software, the shim sums the
// payload zone.copyIn copies into a buffer as it copies it, and the transmit
// path takes those sums for the bytes they cover. Between the two roles of
// one net_memif socket in this process (both summing and verifying in
// software), each case sends segments and checks that every one arrives with
// a checksum that verifies and the bytes it was sent with: payload copied in
// and sent whole; cut by GSO at odd offsets and an odd MSS, from ranges that
// start inside a buffer; topped up in place after the copy (bytes the sums
// do not cover) or by another copy (summed in); and a buffer copied into, released, taken again and
// rewritten in place (its sums must no longer count). Prints `RESULT {...}`.
// Usage: hot_sums.ts PREFIX SOCKET
import { rmSync } from "node:fs";
import { DESC_WORDS, RxFlag, SEG_MSS_SHIFT, TxFlag } from "../../ffi/mod.ts";
import { tcpHeaderLen, writeTcpHeader } from "./_tcp_header.ts";
import { memifGsoPair } from "./_memif_gso_pair.ts";

const [prefix, socket] = process.argv.slice(2);
const { dpdk, rx, rz, tx, tz, freeBefore } = await memifGsoPair(prefix, socket, 2047, true);

const lens = 14 | (20 << 8) | (20 << 20);
const d = new Uint32Array(64 * DESC_WORDS);
let n = 0;
/** Byte `i` of source `seed`. */
const pattern = (seed: number, i: number) => ((seed * 131 + i * 7 + (i >>> 8)) * 2654435761) >>> 24;
const source = (seed: number, len: number) => Uint8Array.from({ length: len }, (_, i) => pattern(seed, i));

/** Copies `len` bytes of source `seed` into a fresh buffer at its headroom with zone.copyIn. */
function copied(seed: number, len: number, at = tz.headroom): number {
  const h = tz.take();
  tz.copyIn(source(seed, len), 0, Uint32Array.of(h, tz.dataStart(h) + at, len), 1);
  return h;
}

function record(h: number, off: number, len: number, flags: number, l = 0): void {
  const r = n++ * DESC_WORDS;
  d[r] = h;
  d[r + 1] = off | (len << 16);
  d[r + 2] = flags;
  d[r + 3] = l;
}

/** One frame: the headers written in place before `len` payload bytes at data offset `off` of `h`. */
function single(h: number, off: number, len: number, seq: number): void {
  writeTcpHeader(tz.bytes, tz.view, tz.dataStart(h) + off - tcpHeaderLen, len, seq);
  record(h, off - tcpHeaderLen, tcpHeaderLen + len, TxFlag.ipv4 | TxFlag.ipCksum | TxFlag.tcpCksum, lens);
}

/** A large segment cut at `mss`: a header buffer of its own, then `pieces` of (buffer, data offset, length). */
function chain(seq: number, mss: number, pieces: [number, number, number][]): void {
  const h = tz.take();
  const payload = pieces.reduce((s, p) => s + p[2], 0);
  writeTcpHeader(tz.bytes, tz.view, tz.dataStart(h) + tz.headroom, payload, seq);
  record(
    h,
    tz.headroom,
    tcpHeaderLen,
    TxFlag.ipv4 | TxFlag.tcpSeg | TxFlag.more | (mss << SEG_MSS_SHIFT),
    lens,
  );
  pieces.forEach(([b, off, len], j) => {
    tz.retain(b); // the device's reference
    record(b, off, len, j + 1 < pieces.length ? TxFlag.more : 0);
  });
}

/**
 * Sends the records built and receives `frames` frames. Returns how many
 * came, how many of them had a checksum verdict other than both good, and
 * whether the payloads, in order, are `want`.
 */
async function exchange(frames: number, want: number[]) {
  let sent = 0;
  for (let tries = 0; sent < n && tries < 100_000; tries++) {
    sent += tx.tx(0, d.subarray(sent * DESC_WORDS), n - sent);
  }
  if (sent < n) throw new Error(`the port took ${sent} of ${n} records`);
  n = 0;
  let got = 0;
  let badSums = 0;
  const bytes: number[] = [];
  const rd = new Uint32Array(64 * DESC_WORDS);
  for (const deadline = Date.now() + 10_000; got < frames && Date.now() < deadline;) {
    const k = rx.rx(0, rd, 64);
    for (let j = 0; j < k; j++) {
      const h = rd[j * DESC_WORDS];
      const at = rz.dataStart(h) + (rd[j * DESC_WORDS + 1] & 0xffff);
      const len = rd[j * DESC_WORDS + 1] >>> 16;
      const good = RxFlag.ipCksumGood | RxFlag.l4CksumGood;
      if ((rd[j * DESC_WORDS + 2] & (good | RxFlag.ipCksumBad | RxFlag.l4CksumBad)) !== good) badSums++;
      bytes.push(...rz.bytes.subarray(at + tcpHeaderLen, at + len));
      rz.release(h);
      got++;
    }
    if (k === 0) await new Promise((r) => setTimeout(r, 1));
  }
  return { frames: got, badSums, bytes: JSON.stringify(bytes) === JSON.stringify(want) };
}

const range = (seed: number, from: number, len: number) =>
  Array.from({ length: len }, (_, i) => pattern(seed, from + i));
const result: Record<string, unknown> = {};

// Whole: three buffers of 1448 bytes and one of 999 copied in, each sent as it is.
{
  const lensOf = [1448, 1448, 1448, 999];
  const hs = lensOf.map((len, i) => copied(10 + i, len));
  hs.forEach((h, i) => single(h, tz.headroom, lensOf[i], i));
  result.whole = await exchange(4, lensOf.flatMap((len, i) => range(10 + i, 0, len)));
}

// Cut: a large segment over ranges that start at odd and even offsets inside the buffers
// copied in, cut at an odd MSS (cuts at odd offsets of the payload), then at 500.
for (const mss of [1447, 500]) {
  const hs = [0, 1, 2, 3].map((i) => copied(20 + i, 1448));
  const pieces: [number, number, number][] = [
    [hs[0], tz.headroom + 1, 1447],
    [hs[1], tz.headroom, 1448],
    [hs[2], tz.headroom + 3, 1000],
    [hs[3], tz.headroom + 77, 1371],
  ];
  chain(7, mss, pieces);
  const payload = 1447 + 1448 + 1000 + 1371;
  result[`cut${mss}`] = await exchange(
    Math.ceil(payload / mss),
    [...range(20, 1, 1447), ...range(21, 0, 1448), ...range(22, 3, 1000), ...range(23, 77, 1371)],
  );
  for (const h of hs) tz.release(h);
}

// Topped up: 1001 bytes copied in, 447 more written after them in place (as a write tops
// up the last segment queued), sent as one.
{
  const h = copied(30, 1001);
  tz.bytes.set(source(31, 447), tz.dataStart(h) + tz.headroom + 1001);
  single(h, tz.headroom, 1448, 1);
  result.toppedUp = await exchange(1, [...range(30, 0, 1001), ...range(31, 0, 447)]);
}

// Topped up by a copy: 377 bytes copied in, then 1071 right after them (summed in with them),
// sent as one, and cut at 500 from a range that starts inside the first copy.
{
  const h = copied(32, 377);
  tz.copyIn(source(33, 1071), 0, Uint32Array.of(h, tz.dataStart(h) + tz.headroom + 377, 1071), 1);
  single(h, tz.headroom, 1448, 3); // takes the take's reference; the chain takes one of its own
  chain(9, 500, [[h, tz.headroom + 5, 1443]]);
  const bytes = [...range(32, 0, 377), ...range(33, 0, 1071)];
  result.toppedUpByCopy = await exchange(1 + 3, [...bytes, ...bytes.slice(5)]);
}

// Retaken: a buffer copied into and released is the next one taken (the cache's last in);
// written in place then, its old sums must not count.
{
  const h = copied(40, 1448);
  tz.release(h);
  const again = tz.take();
  tz.bytes.set(source(41, 1448), tz.dataStart(again) + tz.headroom);
  single(again, tz.headroom, 1448, 2);
  result.retaken = { same: again === h, ...await exchange(1, range(41, 0, 1448)) };
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
