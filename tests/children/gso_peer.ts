// One end of a memif link between two processes, for large TCP segments cut
// by the shim (DPDK's GSO). The sender (memif client) sends a stream of
// STREAM bytes as large TCP/IPv4 packets, each a chain of records: the
// headers in a buffer of their own (with the first payload bytes after them
// in every other packet), then the payload as it lies in the chunks of a
// send queue, never copied. Every packet goes twice, the second time while
// the first may still be queued (a retransmission): the chunks are then in
// two chains at once. The receiver (memif server) gets MSS-sized frames,
// checks each (lengths, sequence, PSH on a packet's last segment only, the
// checksums where the link has them), puts the stream together by sequence
// number, and answers with one acknowledgement frame once it has every
// segment. Both print `RESULT {...}` with the stream's SHA-256, the pool
// before and after, and the port's counters.
// Usage: gso_peer.ts recv|send PREFIX SOCKET STREAM MSS CHECKSUMS(on|off)
import { createHash } from "node:crypto";
import { DESC_WORDS, Offload, RxFlag, SEG_MSS_SHIFT, TxFlag } from "../../ffi/mod.ts";
import { Dpdk } from "../../src/device/dpdk/mod.ts";
import { TcpFlags } from "../../src/wire/mod.ts";
import { internetChecksum, pseudoHeaderSum } from "../../src/wire/checksum.ts";
import { awaitLink, sendAck } from "./_memif.ts";

const [mode, prefix, socket, streamArg, mssArg, cksumArg] = process.argv.slice(2);
const streamLen = Number(streamArg);
const mss = Number(mssArg);
const checksums = cksumArg === "on";
const role = mode === "recv" ? "server" : "client";
const dpdk = await Dpdk.start({
  prefix,
  vdevs: [`net_memif0,role=${role},socket=${socket},socket-abstract=no`],
});
const zone = dpdk.createZone("gso", { count: 8191 });
const port = dpdk.port("net_memif0");
const offered = port.describe().txOffloads;
port.configure({ zone, txOffloads: mode === "send" ? Offload.tcpGso : 0, noChecksums: !checksums });
port.start();
const freeBefore = zone.accounting().free;
console.log("READY");

await awaitLink(port, dpdk);

/** Byte `i` of the stream. */
const streamByte = (i: number) => ((i * 2654435761) >>> 13) & 0xff;
/** Payload bytes per large packet (not a multiple of the MSS: each packet's last segment is short). */
const packetLen = 40 * mss + 123;
const packets = Math.ceil(streamLen / packetLen);
const segsOf = (p: number) => Math.ceil(Math.min(packetLen, streamLen - p * packetLen) / mss);
let segments = 0;
for (let p = 0; p < packets; p++) segments += segsOf(p);
const isn = 0xfffff000; // the sequence numbers wrap inside the stream
const hdrLen = 14 + 20 + 20;
const ackNumber = 0xffffffff;
const burst = 512;
const d = new Uint32Array(burst * DESC_WORDS);
const deadline = Date.now() + 90_000;
let spins = 0;
let bad = 0;
let firstBad = "";
let frames = 0;
let acked = false;
let sha256 = "";
let stats: ReturnType<typeof port.stats> | undefined;

function wrong(what: string): void {
  bad++;
  if (firstBad === "") firstBad = what;
}

if (mode === "recv") {
  const stream = new Uint8Array(streamLen);
  const endOfPacket = (off: number) => off === streamLen || off % packetLen === 0;
  while (frames < 2 * segments && Date.now() < deadline) {
    const got = port.rx(0, d, 64);
    for (let k = 0; k < got; k++) {
      const h = d[k * DESC_WORDS];
      const len = d[k * DESC_WORDS + 1] >>> 16;
      const at = zone.dataStart(h) + (d[k * DESC_WORDS + 1] & 0xffff);
      const flags = d[k * DESC_WORDS + 2];
      const v = zone.view;
      const payload = len - hdrLen;
      const seq = v.getUint32(at + 34 + 4);
      const off = (seq - isn) >>> 0;
      const tcpFlags = zone.bytes[at + 34 + 13];
      if (v.getUint16(at + 12) !== 0x0800) wrong(`frame ${frames}: ethertype`);
      else if (v.getUint16(at + 16) !== len - 14) {
        wrong(`frame ${frames}: IP total length ${v.getUint16(at + 16)}, frame ${len}`);
      } else if (payload <= 0 || payload > mss) {
        wrong(`frame ${frames}: ${payload} bytes of payload, MSS ${mss}`);
      } else if (off + payload > streamLen) wrong(`frame ${frames}: seq ${off} + ${payload} past the stream`);
      else if (
        checksums &&
        (flags & (RxFlag.ipCksumGood | RxFlag.l4CksumGood)) !== (RxFlag.ipCksumGood | RxFlag.l4CksumGood)
      ) {
        wrong(`frame ${frames} (seq ${off}): checksum flags 0x${flags.toString(16)}`);
      } else if (
        checksums &&
        (internetChecksum(zone.bytes, at + 14, at + 34) !== 0 ||
          internetChecksum(
              zone.bytes,
              at + 34,
              at + len,
              pseudoHeaderSum(v.getUint32(at + 26), v.getUint32(at + 30), 6, len - 34),
            ) !== 0)
      ) {
        // The shim's verdict checked against TypeScript's own sums: the shim both cut and
        // summed these segments and verified them, so one bug could agree with itself.
        wrong(`frame ${frames} (seq ${off}): a checksum TypeScript does not verify`);
      } else if (((tcpFlags & TcpFlags.psh) !== 0) !== endOfPacket(off + payload)) {
        wrong(`frame ${frames} (seq ${off}): flags 0x${tcpFlags.toString(16)}`);
      } else {
        for (let i = 0; i < payload; i++) {
          const b = zone.bytes[at + hdrLen + i];
          if (b !== streamByte(off + i)) {
            wrong(`frame ${frames} (seq ${off}): byte ${i} is ${b}, expected ${streamByte(off + i)}`);
            break;
          }
          stream[off + i] = b;
        }
      }
      frames++;
      zone.release(h);
    }
    if (got === 0 && ++spins % 4096 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  sha256 = createHash("sha256").update(stream).digest("hex");
  stats = port.stats();
  acked = sendAck(port, zone, d, ackNumber);
} else {
  // The send queue: the stream in chunks of 700..1999 bytes, one buffer each.
  const chunkH: number[] = [];
  const chunkStart: number[] = [];
  for (let at = 0, i = 0; at < streamLen; i++) {
    const n = Math.min(700 + ((i * 389) % 1300), streamLen - at);
    const h = zone.take();
    const base = zone.dataStart(h) + zone.headroom;
    for (let j = 0; j < n; j++) zone.bytes[base + j] = streamByte(at + j);
    chunkH.push(h);
    chunkStart.push(at);
    at += n;
  }
  chunkStart.push(streamLen);
  sha256 = createHash("sha256").update(Uint8Array.from({ length: streamLen }, (_, i) => streamByte(i)))
    .digest("hex");
  let queued = 0; // records in d
  /** Appends packet `p` (as records) to d. */
  const build = (p: number) => {
    const from = p * packetLen;
    const to = Math.min(streamLen, from + packetLen);
    const inline = p % 2 === 1 ? Math.min(300, to - from) : 0; // payload copied behind the header
    const h = zone.take();
    const o = zone.dataStart(h) + zone.headroom;
    const b = zone.bytes;
    const v = zone.view;
    b.fill(0, o, o + hdrLen);
    b.fill(0xaa, o, o + 12); // MACs
    v.setUint16(o + 12, 0x0800);
    b[o + 14] = 0x45;
    v.setUint16(o + 16, 40 + (to - from));
    v.setUint16(o + 18, p * 64);
    b[o + 20] = 0x40;
    b[o + 22] = 64;
    b[o + 23] = 6;
    v.setUint32(o + 26, 0xc6120902);
    v.setUint32(o + 30, 0xc6120901);
    v.setUint16(o + 34, 1234);
    v.setUint16(o + 36, 80);
    v.setUint32(o + 38, (isn + from) >>> 0);
    b[o + 46] = 5 << 4;
    b[o + 47] = TcpFlags.ack | TcpFlags.psh;
    v.setUint16(o + 48, 65535);
    for (let j = 0; j < inline; j++) b[o + hdrLen + j] = streamByte(from + j);
    let r = queued * DESC_WORDS;
    d[r] = h;
    d[r + 1] = zone.headroom | ((hdrLen + inline) << 16);
    d[r + 2] = TxFlag.ipv4 | TxFlag.ipCksum | TxFlag.tcpCksum | TxFlag.tcpSeg | TxFlag.more |
      (mss << SEG_MSS_SHIFT);
    d[r + 3] = 14 | (20 << 8) | (20 << 20);
    queued++;
    let c = 0;
    while (chunkStart[c + 1] <= from + inline) c++;
    for (let at = from + inline; at < to; c++) {
      const n = Math.min(chunkStart[c + 1], to) - at;
      zone.retain(chunkH[c]); // the device's reference; the queue keeps its own
      r = queued * DESC_WORDS;
      d[r] = chunkH[c];
      d[r + 1] = (zone.headroom + at - chunkStart[c]) | (n << 16);
      d[r + 2] = TxFlag.more;
      d[r + 3] = 0;
      queued++;
      at += n;
    }
    d[(queued - 1) * DESC_WORDS + 2] &= ~TxFlag.more;
  };
  // Each packet, then again (a retransmission while the first may be queued).
  let next = 0;
  // Segments the shim held back (the PMD took part of a packet) go at the next call, records or not.
  while ((next < 2 * packets || queued > 0 || port.txBacklog[0] !== 0) && Date.now() < deadline) {
    while (next < 2 * packets && queued < burst - 160) build(next++ >> 1);
    const took = port.tx(0, d, queued);
    if (took < queued) d.copyWithin(0, took * DESC_WORDS, queued * DESC_WORDS);
    queued -= took;
    frames += took;
    if (took === 0 && ++spins % 4096 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  while (!acked && Date.now() < deadline) {
    const got = port.rx(0, d, 64);
    for (let k = 0; k < got; k++) {
      const h = d[k * DESC_WORDS];
      if (zone.view.getUint32(zone.dataStart(h) + (d[k * DESC_WORDS + 1] & 0xffff), true) === ackNumber) {
        acked = true;
      }
      zone.release(h);
    }
    if (got === 0 && ++spins % 4096 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  stats = port.stats();
  for (const h of chunkH) zone.release(h); // the send queue is acknowledged
}

zone.flush();
const result = {
  mode,
  packets,
  segments,
  frames,
  bad,
  firstBad,
  acked,
  sha256,
  gsoOffered: (offered & Offload.tcpGso) !== 0,
  freeBefore,
  freeAfter: zone.accounting().free,
  capacity: zone.capacity,
  stats: stats ?? port.stats(),
};
if (mode === "recv") await new Promise((r) => setTimeout(r, 200));
dpdk.close();
console.log("RESULT " + JSON.stringify(result));
