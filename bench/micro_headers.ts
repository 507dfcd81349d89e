/**
 * Micro-benchmark: the IPv4 and Ethernet header write of the send path
 * (src/ip/ipv4_layer.ts `sendTcp`: the IPv4 header, then the Ethernet header
 * once the next hop's MAC is known), done two ways, in ns per segment:
 *
 * - hand: the fields written one by one through the views, as ipv4_layer.ts
 *   does (`_writeIpv4`, then the Ethernet fields of `_route`; copied here);
 * - repr: one reused `Ipv4Repr` and one reused `EthernetRepr`, filled with
 *   what changes per segment and emitted into the views, as smoltcp builds
 *   its headers. The two classes are copied below (fields and `emit`,
 *   unchanged) from src/wire/ipv4.ts and src/wire/ethernet.ts as they were
 *   before this measurement removed them from src/wire (see src/wire/mod.ts),
 *   so that the comparison can be rerun.
 *
 * Each way runs twice: with the IPv4 header checksum computed (no transmit
 * checksum offload) and left zero for the NIC. Before any timing, both ways
 * write the same sequence of segments into two copies of a buffer area and
 * the bytes are compared; a difference stops the benchmark.
 *
 * Runs under both runtimes:
 *
 * ```sh
 * node_modules/.bin/bun bench/micro_headers.ts
 * node_modules/.bin/deno run bench/micro_headers.ts
 * ```
 *
 * Options: `--rounds N` (default 21), `--iterations N` per round (default
 * 1,000,000). Rounds alternate between the ways, so that a busy neighbour on
 * the machine slows both alike; the figure is the median round.
 *
 * @module
 */
import {
  EthernetFrame,
  ethernetHeaderLen,
  EtherType,
  internetChecksum,
  IpProtocol,
  ipv4HeaderLen,
  Ipv4Packet,
} from "../src/wire/mod.ts";

const bufferSize = 2176; // a DPDK mbuf's data room
const buffers = 256;
const headroom = 128;
const segments = 1024; // distinct (buffer, length, destination, MAC) inputs, cycled

const srcAddr = 0xc612_0001; // 198.18.0.1
const srcMac = 0x0200_0000_0001;
const ttl = 64;

// Inputs, the same for both ways.
const inBuffer = new Uint32Array(segments);
const inTcpLen = new Uint32Array(segments);
const inDst = new Uint32Array(segments);
const inMac = new Float64Array(segments);
{
  let x = 0x2545f491;
  const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
  for (let i = 0; i < segments; i++) {
    inBuffer[i] = next() % buffers;
    inTcpLen[i] = 20 + (next() % 1461); // a header and 0..1460 bytes of payload
    inDst[i] = 0xc612_0000 + (next() & 0xffff);
    inMac[i] = 0x0200_0000_0000 + (next() & 0xff_ffff);
  }
}

// ---- Copied from src/wire (src/wire/_bytes.ts, ipv4.ts, ethernet.ts).

function wr16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

function inBounds(b: Uint8Array, offset: number, length: number): boolean {
  return offset >= 0 && length >= 0 && offset + length <= b.length;
}

function needRoom(what: string, b: Uint8Array, offset: number, length: number, need: number): void {
  if (length < need || !inBounds(b, offset, need)) {
    throw new RangeError(
      `${what}: emitting needs ${need} bytes, but the view holds ${length} at offset ${offset} ` +
        `of a ${b.length}-byte buffer`,
    );
  }
}

/** An IPv4 header as values. */
class Ipv4Repr {
  src = 0;
  dst = 0;
  protocol = 0;
  payloadLen = 0;
  ttl = 64;
  dscp = 0;
  ecn = 0;
  ident = 0;
  dontFragment = true;
  moreFragments = false;
  fragmentOffsetBytes = 0;
  headerLen = ipv4HeaderLen;

  emit(packet: Ipv4Packet, fillChecksum = true): void {
    const b = packet.bytes;
    const o = packet.offset;
    needRoom("IPv4", b, o, packet.length, ipv4HeaderLen);
    b[o] = 0x45;
    b[o + 1] = (this.dscp << 2) | (this.ecn & 0x03);
    wr16(b, o + 2, ipv4HeaderLen + this.payloadLen);
    wr16(b, o + 4, this.ident);
    wr16(
      b,
      o + 6,
      (this.dontFragment ? 0x4000 : 0) | (this.moreFragments ? 0x2000 : 0) |
        ((this.fragmentOffsetBytes >>> 3) & 0x1fff),
    );
    b[o + 8] = this.ttl;
    b[o + 9] = this.protocol;
    wr16(b, o + 10, 0);
    wr32(b, o + 12, this.src);
    wr32(b, o + 16, this.dst);
    if (fillChecksum) wr16(b, o + 10, internetChecksum(b, o, o + ipv4HeaderLen));
  }
}

/** An Ethernet II header as values. */
class EthernetRepr {
  dst = 0;
  src = 0;
  ethertype = 0;

  emit(frame: EthernetFrame): void {
    needRoom("Ethernet", frame.bytes, frame.offset, frame.length, ethernetHeaderLen);
    frame.dst = this.dst;
    frame.src = this.src;
    frame.ethertype = this.ethertype;
  }
}

// ---- The two ways.

/** The header write as ipv4_layer.ts does it by hand (`_writeIpv4`, then `_route`'s Ethernet fields). */
class HandWriter {
  private readonly _ipTx = new Ipv4Packet();
  private readonly _ethTx = new EthernetFrame();
  private _ident = 0;

  write(b: Uint8Array, tcpOff: number, tcpLen: number, dst: number, mac: number, checksum: boolean): void {
    const off = tcpOff - ipv4HeaderLen;
    const totalLen = ipv4HeaderLen + tcpLen;
    const headerLen = ipv4HeaderLen;
    const ip = this._ipTx.attach(b, off, totalLen);
    b[off] = 0x40 | (headerLen >>> 2);
    b[off + 1] = 0;
    ip.totalLen = totalLen;
    ip.ident = this._ident = (this._ident + 1) & 0xffff;
    b[off + 6] = 0x40; // DF, offset 0
    b[off + 7] = 0;
    ip.ttl = ttl;
    ip.protocol = IpProtocol.tcp;
    ip.src = srcAddr;
    ip.dst = dst;
    if (checksum) ip.fillChecksum();
    else ip.checksum = 0;
    const eth = this._ethTx.attach(b, off - ethernetHeaderLen, ethernetHeaderLen + totalLen);
    eth.src = srcMac;
    eth.ethertype = EtherType.ipv4;
    eth.dst = mac;
  }
}

/** The header write through one reused Ipv4Repr and EthernetRepr. */
class ReprWriter {
  private readonly _ipTx = new Ipv4Packet();
  private readonly _ethTx = new EthernetFrame();
  private readonly _ipRepr = new Ipv4Repr();
  private readonly _ethRepr = new EthernetRepr();
  private _ident = 0;

  constructor() {
    this._ipRepr.ttl = ttl;
    this._ethRepr.src = srcMac;
    this._ethRepr.ethertype = EtherType.ipv4;
  }

  write(b: Uint8Array, tcpOff: number, tcpLen: number, dst: number, mac: number, checksum: boolean): void {
    const off = tcpOff - ipv4HeaderLen;
    const ip = this._ipRepr;
    ip.src = srcAddr;
    ip.dst = dst;
    ip.protocol = IpProtocol.tcp;
    ip.payloadLen = tcpLen;
    ip.ident = this._ident = (this._ident + 1) & 0xffff;
    ip.emit(this._ipTx.attach(b, off, ipv4HeaderLen + tcpLen), checksum);
    const eth = this._ethRepr;
    eth.dst = mac;
    eth.emit(this._ethTx.attach(b, off - ethernetHeaderLen, ethernetHeaderLen + ipv4HeaderLen + tcpLen));
  }
}

// One loop per way, so that each call site sees one class (as the layer's does).
function runHand(w: HandWriter, b: Uint8Array, n: number, start: number, checksum: boolean): void {
  for (let k = 0; k < n; k++) {
    const i = (start + k) & (segments - 1);
    const tcpOff = inBuffer[i] * bufferSize + headroom + ethernetHeaderLen + ipv4HeaderLen;
    w.write(b, tcpOff, inTcpLen[i], inDst[i], inMac[i], checksum);
  }
}

function runRepr(w: ReprWriter, b: Uint8Array, n: number, start: number, checksum: boolean): void {
  for (let k = 0; k < n; k++) {
    const i = (start + k) & (segments - 1);
    const tcpOff = inBuffer[i] * bufferSize + headroom + ethernetHeaderLen + ipv4HeaderLen;
    w.write(b, tcpOff, inTcpLen[i], inDst[i], inMac[i], checksum);
  }
}

function arg(name: string, fallback: number): number {
  const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}: expected a positive integer`);
  return value;
}

declare const Deno: { args: string[]; version: { deno: string } } | undefined;
declare const Bun: { version: string } | undefined;
declare const process: { argv: string[] };

const rounds = arg("--rounds", 21);
const iterations = arg("--iterations", 1_000_000);
const runtime = typeof Bun !== "undefined"
  ? `bun ${Bun.version}`
  : typeof Deno !== "undefined"
  ? `deno ${Deno.version.deno}`
  : "unknown runtime";

// Same bytes first: both ways over the same segments, from the same (random) contents.
{
  const a = new Uint8Array(buffers * bufferSize);
  for (let i = 0; i < a.length; i++) a[i] = (i * 131 + 7) & 0xff;
  const b = a.slice();
  for (const checksum of [true, false]) {
    const hand = new HandWriter();
    const repr = new ReprWriter();
    for (let start = 0; start < 4 * segments; start += 97) {
      runHand(hand, a, 97, start, checksum);
      runRepr(repr, b, 97, start, checksum);
      for (let i = 0; i < a.length; i++) {
        if (a[i] !== b[i]) {
          throw new Error(
            `hand and repr differ at byte ${i} (buffer ${Math.floor(i / bufferSize)}, ` +
              `offset ${i % bufferSize}, checksum ${checksum}): ${a[i]} != ${b[i]}`,
          );
        }
      }
    }
  }
}

function median(xs: number[]): number {
  const s = xs.slice().sort((p, q) => p - q);
  return s[s.length >> 1];
}

const area = new Uint8Array(buffers * bufferSize);
console.log(`${runtime}: ${rounds} rounds of ${iterations} segments per way (bytes checked identical)`);
for (const checksum of [true, false]) {
  const hand = new HandWriter();
  const repr = new ReprWriter();
  // Warm up both, so that neither is measured while being compiled.
  for (let r = 0; r < 3; r++) {
    runHand(hand, area, iterations, 0, checksum);
    runRepr(repr, area, iterations, 0, checksum);
  }
  const tHand: number[] = [];
  const tRepr: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const first = r & 1; // alternate which way goes first
    for (let j = 0; j < 2; j++) {
      const t0 = performance.now();
      if ((j ^ first) === 0) runHand(hand, area, iterations, r * 7, checksum);
      else runRepr(repr, area, iterations, r * 7, checksum);
      const ns = ((performance.now() - t0) * 1e6) / iterations;
      ((j ^ first) === 0 ? tHand : tRepr).push(ns);
    }
  }
  const h = median(tHand);
  const p = median(tRepr);
  const label = checksum ? "IPv4 checksum in software" : "IPv4 checksum left to the NIC";
  const fig = (median: number, all: number[]) =>
    `${median.toFixed(1).padStart(6)} ns/segment (min ${Math.min(...all).toFixed(1)})`;
  console.log(
    `  ${label.padEnd(30)} hand ${fig(h, tHand)}   repr ${fig(p, tRepr)}   repr/hand ${(p / h).toFixed(3)}`,
  );
}
