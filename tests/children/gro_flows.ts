// Answers of several connections in one receive burst over a net_memif pair
// (the two roles of one socket in this process): the sender's GSO cuts each
// 4 KiB answer into two full-sized segments and a short one with PSH, and
// the receiver's GRO coalesces the burst in two calls (eight connections'
// answers each), each answer into one packet of three links with its PSH. A second answer of a flow whose first
// was pushed in the same burst is not merged into it: it starts the next GRO
// run. Prints `RESULT {...}`: for each burst, the packets received (flow,
// sequence number, links, PSH, whether every byte is as sent), GRO's calls
// and both zones' buffers before and after.
// Usage: gro_flows.ts PREFIX SOCKET
import { rmSync } from "node:fs";
import { DESC_WORDS, Offload, RxFlag, SEG_MSS_SHIFT, TxFlag } from "../../ffi/mod.ts";
import { Dpdk, type DpdkZone, type Port } from "../../src/device/dpdk/mod.ts";
import { TcpFlags } from "../../src/wire/mod.ts";
import { tcpHeaderLen, writeTcpHeader } from "./_tcp_header.ts";

const [prefix, socket] = process.argv.slice(2);
rmSync(socket, { force: true });
const memif = `socket=${socket},socket-abstract=no`;
const dpdk = await Dpdk.start({
  prefix,
  vdevs: [`net_memif0,role=server,${memif}`, `net_memif1,role=client,${memif}`],
});
const open = (name: string, txOffloads: number, softwareCoalescing: boolean): [Port, DpdkZone] => {
  const port = dpdk.port(name);
  const zone = dpdk.createZone(name, { count: 4095 });
  port.configure({ zone, txOffloads, noChecksums: true, softwareCoalescing });
  port.start();
  return [port, zone];
};
const [rx, rz] = open("net_memif0", 0, true);
const [tx, tz] = open("net_memif1", Offload.tcpGso, false);
for (let i = 0; i < 2000 && !(tx.link().up && rx.link().up); i++) await new Promise((r) => setTimeout(r, 5));
if (!(tx.link().up && rx.link().up)) throw new Error("memif: the link did not come up in 10 s");
const freeBefore = [tz.accounting().free, rz.accounting().free];

const mss = 1448;
const hdrLen = tcpHeaderLen;
const answer = 4096;
const byteAt = (port: number, pos: number) => (port * 13 + pos * 7 + (pos >>> 8)) & 0xff;

/**
 * Records of one answer (`size` bytes, in two buffers) of the flow from source port `port`, its
 * payload at sequence number `seq`; one longer than the MSS is marked for segmentation.
 */
function answerRecords(d: Uint32Array, r: number, port: number, seq: number, size: number): number {
  const h = tz.take();
  const o = tz.dataStart(h) + tz.headroom;
  writeTcpHeader(tz.bytes, tz.view, o, size, seq, {
    src: 0xc6120901,
    dst: 0xc6120902,
    srcPort: port,
    dstPort: 7000,
    ack: 1,
    flags: TcpFlags.ack | TcpFlags.psh,
    window: 65535,
  });
  const seg = size > mss ? TxFlag.tcpSeg | (mss << SEG_MSS_SHIFT) : 0;
  d.set([h, tz.headroom | (hdrLen << 16), TxFlag.ipv4 | TxFlag.more | seg, 14 | (20 << 8) | (20 << 20)], r);
  r += DESC_WORDS;
  for (let j = 0; j < 2; j++, r += DESC_WORDS) {
    const pb = tz.take();
    const po = tz.dataStart(pb) + tz.headroom;
    for (let i = 0; i < size / 2; i++) tz.bytes[po + i] = byteAt(port, seq + j * (size / 2) + i);
    d.set([pb, tz.headroom | ((size / 2) << 16), j === 0 ? TxFlag.more : 0, 0], r);
  }
  return r;
}

/** Sends `size`-byte answers of `flows` (source ports, in order; a port named twice sends its next one) in one call. */
function send(flows: number[], seqOf: Map<number, number>, size = answer): void {
  const d = new Uint32Array(flows.length * 3 * DESC_WORDS);
  let r = 0;
  for (const port of flows) {
    const seq = seqOf.get(port) ?? 0;
    r = answerRecords(d, r, port, seq, size);
    seqOf.set(port, seq + size);
  }
  const n = tx.tx(0, d, r / DESC_WORDS);
  if (n !== r / DESC_WORDS) throw new Error(`memif: ${n} of ${r / DESC_WORDS} records taken`);
}

interface Packet {
  port: number;
  seq: number;
  links: number;
  psh: boolean;
  bytes: boolean;
}
const rd = new Uint32Array(256 * DESC_WORDS);
/**
 * Receives one burst of the `frames` frames sent, each packet described. memif's transmit copies
 * into the shared ring in the call, so that they are all there: fewer is an error.
 */
function burst(frames: number): { packets: Packet[]; groCalls: number } {
  const g0 = rx.stats().rxGroCalls;
  const n = rx.rx(0, rd, 256);
  const packets: Packet[] = [];
  for (let i = 0; i < n;) {
    const at = rz.dataStart(rd[i * DESC_WORDS]) + (rd[i * DESC_WORDS + 1] & 0xffff);
    const p: Packet = {
      port: rz.view.getUint16(at + 34),
      seq: rz.view.getUint32(at + 38),
      links: 1,
      psh: (rz.bytes[at + 47] & TcpFlags.psh) !== 0,
      bytes: true,
    };
    let pos = p.seq;
    let from = at + hdrLen;
    let len = (rd[i * DESC_WORDS + 1] >>> 16) - hdrLen;
    for (let k = i;;) {
      for (let j = 0; j < len; j++) if (rz.bytes[from + j] !== byteAt(p.port, pos + j)) p.bytes = false;
      pos += len;
      rz.release(rd[k * DESC_WORDS]);
      if ((rd[k * DESC_WORDS + 2] & RxFlag.more) === 0) break;
      k++;
      p.links++;
      from = rz.dataStart(rd[k * DESC_WORDS]) + (rd[k * DESC_WORDS + 1] & 0xffff);
      len = rd[k * DESC_WORDS + 1] >>> 16;
    }
    packets.push(p);
    i += p.links;
  }
  if (n !== frames) throw new Error(`memif: ${n} frames in the ring, ${frames} sent`);
  return { packets, groCalls: rx.stats().rxGroCalls - g0 };
}

const seqs = new Map<number, number>();
// Sixteen connections' answers in one burst.
const flows16 = Array.from({ length: 16 }, (_, k) => 5000 + k);
send(flows16, seqs);
const sixteen = burst(16 * 3);
// Three answers, the first connection's twice: its second starts a GRO run of its own.
send([5000, 5001, 5000], seqs);
const again = burst(3 * 3);
// Sixteen 64-byte requests, each with PSH: one segment a flow, nothing to merge, no GRO call.
send(flows16, seqs, 64);
const requests = burst(16);

tz.flush();
rz.flush();
console.log(
  "RESULT " + JSON.stringify({
    sixteen,
    again,
    requests,
    freeBefore,
    freeAfter: [tz.accounting().free, rz.accounting().free],
  }),
);
dpdk.close();
rmSync(socket, { force: true });
