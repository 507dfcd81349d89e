/**
 * A structure-aware fuzzer of the receive path. Frames are built valid
 * (Ethernet, then IPv4 with TCP, ICMP or UDP, or ARP), some aimed at a live
 * connection's 4-tuple with sequence numbers near its edges, then mutated:
 * bits and bytes flipped, lengths and header-length fields changed, options
 * of every kind and length (some truncated), random flags, and the
 * checksums mostly made right again so that the frame reaches the layer
 * under test. Everything comes from one seed: a run replays exactly.
 *
 * A frame goes straight into the receiving host's IP layer, as the device
 * would hand it over. An exception anywhere (the receive path, timers, the
 * send path) ends the run; the frames of the last batch are written under
 * tests/fuzz_corpus/ so that tests/fuzz_test.ts replays them on every run.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { DESC_WORDS, RxFlag } from "../src/device/mod.ts";
import type { Tcb } from "../src/tcp/tcb.ts";
import type { TcpLayer } from "../src/tcp/tcp_layer.ts";
import { Random } from "../src/util/random.ts";
import type { Host } from "./sim.ts";
import { addrA, addrB } from "./sim.ts";

/** Where crashing inputs go (and where the regression test finds them). */
export const corpusDir: string = new URL("./fuzz_corpus/", import.meta.url).pathname;

/** The port the target listens on (an echo server). */
export const fuzzPort = 7;

const martians = [0xffffffff, 0xe0000001, 0x7f000001, 0, addrB, 0xf0000001, 0xc61200ff, 0xc6120000];

/** One's-complement sum of `b[from..from+len)` added to `sum` (not folded). */
function sum16(b: Uint8Array, from: number, len: number, sum: number): number {
  let i = from;
  const end = from + len;
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Builds and mutates frames into a scratch buffer; see the module documentation. */
export class FrameFuzzer {
  readonly rnd: Random;
  readonly buf = new Uint8Array(1600);
  private readonly _v = new DataView(this.buf.buffer);
  private readonly _macA: Uint8Array;
  private readonly _macB: Uint8Array;
  /** The live connection frames are aimed at (the target's control block), when there is one. */
  live: Tcb | undefined;

  /** Random bytes that payloads and random frames are cut from (generating each byte anew is slow). */
  private readonly _pool = new Uint8Array(1 << 16);

  constructor(seed: number, macA: Uint8Array, macB: Uint8Array) {
    this.rnd = new Random(seed, 7);
    this._macA = macA;
    this._macB = macB;
    for (let i = 0; i < this._pool.length; i++) this._pool[i] = this.rnd.int(256);
  }

  /** `len` random bytes into {@link buf} at `at`. */
  private _fill(at: number, len: number): void {
    const from = this.rnd.int(this._pool.length - len);
    this.buf.set(this._pool.subarray(from, from + len), at);
  }

  private _u32(): number {
    return this.rnd.next() >>> 0;
  }

  private _pick<T>(xs: readonly T[]): T {
    return xs[this.rnd.int(xs.length)];
  }

  private _ip(): number {
    const r = this.rnd.int(10);
    if (r < 7) return addrA;
    if (r < 8) return (0xc6120000 | this.rnd.int(256)) >>> 0;
    if (r < 9) return this._pick(martians) >>> 0;
    return this._u32();
  }

  private _eth(type: number): number {
    const b = this.buf;
    const r = this.rnd.int(20);
    if (r === 0) b.fill(0xff, 0, 6);
    else if (r === 1) { for (let i = 0; i < 6; i++) b[i] = this.rnd.int(256); }
    else b.set(this._macB, 0);
    if (this.rnd.int(10) === 0) { for (let i = 6; i < 12; i++) b[i] = this.rnd.int(256); }
    else b.set(this._macA, 6);
    this._v.setUint16(12, type);
    return 14;
  }

  /** IPv4 header at 14 for `payload` bytes of protocol `proto`; returns where the payload starts. */
  private _ipv4(proto: number, payload: number, src: number, dst: number): number {
    const v = this._v;
    v.setUint8(14, 0x45);
    v.setUint8(15, this.rnd.int(8) === 0 ? this.rnd.int(256) : 0);
    v.setUint16(16, 20 + payload);
    v.setUint16(18, this.rnd.int(65536));
    // Mostly DF; now and then a fragment (MF, or an offset).
    const frag = this.rnd.int(30);
    v.setUint16(20, frag === 0 ? 0x2000 | this.rnd.int(8192) : frag === 1 ? this.rnd.int(65536) : 0x4000);
    v.setUint8(22, this.rnd.int(10) === 0 ? this.rnd.int(3) : 64);
    v.setUint8(23, proto);
    v.setUint16(24, 0);
    v.setUint32(26, src);
    v.setUint32(30, dst);
    return 34;
  }

  /** TCP options into the header at `at`, up to 40 bytes; returns their length (a multiple of 4). */
  private _options(at: number): number {
    const b = this.buf;
    const v = this._v;
    let n = 0;
    const count = this.rnd.int(6);
    for (let k = 0; k < count && n < 40; k++) {
      const room = 40 - n;
      const o = at + n;
      switch (this.rnd.int(9)) {
        case 0: // MSS
          if (room < 4) break;
          b[o] = 2, b[o + 1] = 4, v.setUint16(o + 2, this.rnd.int(4) === 0 ? this.rnd.int(65536) : 1460);
          n += 4;
          break;
        case 1: // window scale
          if (room < 3) break;
          b[o] = 3, b[o + 1] = 3, b[o + 2] = this.rnd.int(4) === 0 ? this.rnd.int(256) : 7;
          n += 3;
          break;
        case 2: // SACK permitted
          if (room < 2) break;
          b[o] = 4, b[o + 1] = 2;
          n += 2;
          break;
        case 3: // timestamps
          if (room < 10) break;
          b[o] = 8, b[o + 1] = 10, v.setUint32(o + 2, this._u32()), v.setUint32(o + 6, this._u32());
          n += 10;
          break;
        case 4: { // SACK blocks, near the live connection's edges
          const blocks = 1 + this.rnd.int(4);
          const len = 2 + 8 * blocks;
          if (room < len) break;
          b[o] = 5, b[o + 1] = len;
          const base = this.live !== undefined ? this.live.sndUna : this._u32();
          for (let i = 0; i < blocks; i++) {
            const l = (base + this.rnd.int(200_000) - 50_000) >>> 0;
            v.setUint32(o + 2 + 8 * i, l);
            v.setUint32(o + 6 + 8 * i, (l + this.rnd.int(100_000) - 10_000) >>> 0);
          }
          n += len;
          break;
        }
        case 5:
          b[o] = 1; // NOP
          n += 1;
          break;
        case 6:
          b[o] = 0; // EOL
          n += 1;
          break;
        default: { // any kind, any length: 0, 1, or past the header's end
          b[o] = this.rnd.int(256);
          if (room < 2) {
            n += 1;
            break;
          }
          b[o + 1] = this.rnd.int(4) === 0 ? this.rnd.int(256) : 2 + this.rnd.int(room - 1);
          const l = Math.min(room, Math.max(2, b[o + 1]));
          for (let i = 2; i < l; i++) b[o + i] = this.rnd.int(256);
          n += l;
        }
      }
    }
    while (n % 4 !== 0) b[at + n++] = 0;
    return n;
  }

  private _tcp(): number {
    const v = this._v;
    const live = this.live !== undefined && this.rnd.int(3) === 0 ? this.live : undefined;
    const src = live !== undefined ? live.remoteIp : this._ip();
    const dst = this.rnd.int(12) === 0 ? this._pick([0xffffffff, 0xc61200ff, this._u32()]) >>> 0 : addrB;
    const at = 34;
    const r = this.rnd.int(10);
    const sport = live !== undefined
      ? live.remotePort
      : r < 5
      ? 49152 + this.rnd.int(64)
      : this.rnd.int(65536);
    const dport = live !== undefined ? live.localPort : r < 7 ? fuzzPort : r < 8 ? 8 : this.rnd.int(65536);
    v.setUint16(at, sport);
    v.setUint16(at + 2, dport);
    const near = (x: number) => (x + this.rnd.int(131072) - 65536) >>> 0;
    v.setUint32(at + 4, live !== undefined ? near(live.rcvNxt) : this._u32());
    v.setUint32(at + 8, live !== undefined ? near(live.sndNxt) : this._u32());
    const flags = this._pick([0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x19, 0x01, 0x03, 0x06, 0x2a, 0xc2]);
    v.setUint8(at + 13, this.rnd.int(8) === 0 ? this.rnd.int(256) : flags);
    v.setUint16(at + 14, this.rnd.int(4) === 0 ? 0 : this.rnd.int(65536));
    v.setUint16(at + 16, 0);
    v.setUint16(at + 18, this.rnd.int(16) === 0 ? this.rnd.int(65536) : 0);
    const opt = this.rnd.int(2) === 0 ? this._options(at + 20) : 0;
    v.setUint8(at + 12, ((20 + opt) / 4) << 4);
    const pr = this.rnd.int(10);
    const payload = pr < 4 ? 0 : pr < 8 ? 1 + this.rnd.int(64) : this.rnd.int(1400);
    const p0 = at + 20 + opt;
    this._fill(p0, payload);
    this._ipv4(6, 20 + opt + payload, src, dst);
    return p0 + payload;
  }

  private _icmp(): number {
    const v = this._v;
    const len = 8 + this.rnd.int(200);
    v.setUint8(34, this.rnd.int(3) === 0 ? this.rnd.int(256) : 8);
    v.setUint8(35, this.rnd.int(4) === 0 ? this.rnd.int(256) : 0);
    v.setUint16(36, 0);
    this._fill(38, len - 4);
    this._ipv4(1, len, this._ip(), addrB);
    return 34 + len;
  }

  private _udp(): number {
    const v = this._v;
    const len = 8 + this.rnd.int(100);
    v.setUint16(34, this.rnd.int(65536));
    v.setUint16(36, this.rnd.int(65536));
    v.setUint16(38, len);
    v.setUint16(40, 0);
    this._ipv4(this.rnd.int(4) === 0 ? this.rnd.int(256) : 17, len, this._ip(), addrB);
    return 34 + len;
  }

  private _arp(): number {
    const v = this._v;
    v.setUint16(14, this.rnd.int(10) === 0 ? this.rnd.int(65536) : 1);
    v.setUint16(16, this.rnd.int(10) === 0 ? this.rnd.int(65536) : 0x0800);
    v.setUint8(18, this.rnd.int(10) === 0 ? this.rnd.int(256) : 6);
    v.setUint8(19, this.rnd.int(10) === 0 ? this.rnd.int(256) : 4);
    v.setUint16(20, this.rnd.int(5) === 0 ? this.rnd.int(65536) : 1 + this.rnd.int(2));
    this.buf.set(this._macA, 22);
    v.setUint32(28, this._ip());
    for (let i = 32; i < 38; i++) this.buf[i] = this.rnd.int(256);
    v.setUint32(38, this.rnd.int(4) === 0 ? this._u32() : addrB);
    return 42;
  }

  /** Fills the checksums the frame's headers call for, as far as its length allows. */
  private _checksums(len: number): void {
    const b = this.buf;
    const v = this._v;
    if (len < 34 || v.getUint16(12) !== 0x0800) return;
    const ihl = (b[14] & 15) * 4;
    if (ihl < 20 || 14 + ihl > len) return;
    v.setUint16(24, 0);
    v.setUint16(24, fold(sum16(b, 14, ihl, 0)));
    const total = Math.min(v.getUint16(16), len - 14);
    const l4 = 14 + ihl;
    const l4len = total - ihl;
    if (l4len < 8) return;
    const proto = b[23];
    const at = proto === 6 ? 16 : proto === 17 ? 6 : proto === 1 ? 2 : -1;
    if (at < 0 || at + 2 > l4len) return;
    v.setUint16(l4 + at, 0);
    let s = sum16(b, l4, l4len, 0);
    if (proto !== 1) s = sum16(b, 26, 8, s) + proto + l4len;
    v.setUint16(l4 + at, fold(s));
  }

  /** The next frame in {@link buf}; returns its length and sets {@link flags}. */
  next(): number {
    const k = this.rnd.int(100);
    let len: number;
    if (k < 65) len = (this._eth(0x0800), this._tcp());
    else if (k < 75) len = (this._eth(0x0806), this._arp());
    else if (k < 85) len = (this._eth(0x0800), this._icmp());
    else if (k < 92) len = (this._eth(0x0800), this._udp());
    else {
      // Anything at all, with an ethertype now and then.
      len = 14 + this.rnd.int(200);
      this._fill(0, len);
      if (this.rnd.int(2) === 0) this.buf.set(this._macB, 0);
      if (this.rnd.int(2) === 0) this._v.setUint16(12, this._pick([0x0800, 0x0806, 0x86dd]));
    }
    if (len < 60) {
      this.buf.fill(0, len, 60); // the Ethernet minimum
      len = 60;
    }
    if (this.rnd.int(10) < 3) len = this._mutate(len);
    // Mostly right checksums (the frame reaches the layer under test); now and then the
    // mutation's wrong ones, checked in software, or a device that claims to have checked.
    const c = this.rnd.int(10);
    if (c < 8) this._checksums(len);
    this.flags = c === 9 ? RxFlag.ipCksumGood | RxFlag.l4CksumGood : 0;
    return len;
  }

  /** The receive flags of the last frame. */
  flags = 0;

  private _mutate(len: number): number {
    const b = this.buf;
    const v = this._v;
    const count = 1 + this.rnd.int(4);
    for (let i = 0; i < count; i++) {
      if (len <= 15) break; // nothing past the Ethernet header left to change
      switch (this.rnd.int(8)) {
        case 0: {
          const at = 14 + this.rnd.int(len - 14);
          b[at] ^= 1 << this.rnd.int(8);
          break;
        }
        case 1:
          b[14 + this.rnd.int(len - 14)] = this.rnd.int(256);
          break;
        case 2:
          len = 14 + this.rnd.int(len - 14); // truncated
          break;
        case 3:
          v.setUint16(
            16,
            this.rnd.int(4) === 0 ? this.rnd.int(65536) : v.getUint16(16) + this.rnd.int(64) - 32,
          );
          break;
        case 4:
          b[14] = (b[14] & 0xf0) | this.rnd.int(16); // IHL
          break;
        case 5:
          if (len > 47) b[46] = (this.rnd.int(16) << 4) | (b[46] & 15); // TCP data offset
          break;
        case 6: {
          const more = Math.min(this.buf.length - len, this.rnd.int(64));
          for (let j = 0; j < more; j++) b[len + j] = this.rnd.int(256);
          len += more;
          break;
        }
        default:
          if (len > 47) b[47] = this.rnd.int(256); // TCP flags
      }
    }
    return len;
  }
}

/** What a run did. */
export interface FuzzReport {
  frames: number;
  /** Frames the target could not take because its zone was out of buffers (none expected). */
  skipped: number;
}

/**
 * Feeds `frames` fuzzed frames to `target`'s receive path in batches of
 * `batch`, stepping both hosts on the virtual clock after each batch. On an
 * exception the batch is saved to the corpus and the error rethrown with the
 * seed and the frame index.
 */
export function fuzzRun(
  seed: number,
  frames: number,
  hosts: { sender: Host; target: Host; clock: { now: number }; targetTcp: TcpLayer },
  live: () => Tcb | undefined,
  batch = 32,
): FuzzReport {
  const { sender, target, clock } = hosts;
  const zone = target.zone;
  const f = new FrameFuzzer(seed, sender.device.mac, target.device.mac);
  const descs = new Uint32Array(batch * DESC_WORDS);
  // The batch's frames as they were made, kept until the batch has run (for the corpus).
  const copies = new Uint8Array(batch * f.buf.length);
  const lens = new Uint16Array(batch);
  let skipped = 0;
  for (let done = 0; done < frames;) {
    f.live = live();
    const n = Math.min(batch, frames - done);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const len = f.next();
      copies.set(f.buf.subarray(0, len), i * f.buf.length);
      lens[i] = len;
      const h = zone.tryTake();
      if (h < 0) {
        skipped++;
        continue;
      }
      const off = zone.headroom;
      zone.bytes.set(f.buf.subarray(0, len), zone.dataStart(h) + off);
      const d = k++ * DESC_WORDS;
      descs[d] = h;
      descs[d + 1] = off | (len << 16);
      descs[d + 2] = f.flags;
      descs[d + 3] = 0;
    }
    try {
      target.ip.receive(descs, k, clock.now);
      target.step(clock.now);
      sender.step(clock.now);
    } catch (e) {
      const saved = Array.from(
        lens.subarray(0, n),
        (l, i) => copies.slice(i * f.buf.length, i * f.buf.length + l),
      );
      const path = saveCrash(seed, done, saved);
      throw new Error(
        `fuzz seed ${seed}: frames ${done}..${done + n} crashed the stack (saved in ${path}): ${e}`,
      );
    }
    done += n;
    clock.now += 0.05;
  }
  return { frames, skipped };
}

/** Writes a crashing batch to the corpus; returns the file. */
export function saveCrash(seed: number, index: number, frames: Uint8Array[]): string {
  mkdirSync(corpusDir, { recursive: true });
  const path = `${corpusDir}seed${seed}-frame${index}.json`;
  const hex = frames.map((b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""));
  writeFileSync(path, JSON.stringify({ seed, index, frames: hex }, null, 1) + "\n");
  return path;
}
