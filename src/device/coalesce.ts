/**
 * Receive coalescing in TypeScript, for devices that have no shim below them
 * (the in-memory link, the fault injector): what a NIC's LRO or the shim's
 * GRO does, done without a copy. A wrapper device: within each receive
 * burst, consecutive in-order TCP segments of one flow become one chained
 * packet. The first segment's record keeps its headers (IPv4 total length,
 * its header checksum and the TCP flags of the last segment merged written
 * in place); each further segment becomes a record of its payload only, in
 * the buffer it arrived in (RxFlag.more chains them). The chain carries the
 * checksum verdicts (good): each segment's checksums are verified here,
 * before it is merged, and a segment that fails is not merged (the stack
 * drops it).
 *
 * A segment joins the packet before it only when it follows on exactly
 * (its sequence number is the packet's next: never across a hole or a
 * retransmission of earlier bytes), carries the same addresses, IPv4 TOS
 * byte (never a CE mark with unmarked segments: the packet has one ECN
 * field, and a receiver counts marks per segment), ports, ACK
 * number, window, TCP header length and option bytes (never across an
 * option change: a retransmission stamped at another millisecond carries
 * another TSval), and has no flag but ACK, PSH or FIN. A PSH or FIN ends the
 * packet, as in Linux's GRO: the segment that carries it is merged last and
 * nothing after it joins (the shim's GRO, DPDK's, does the same with a PSH
 * and merges no FIN segment at all: both are ways of never merging across
 * one).
 *
 * @example
 * ```ts
 * import { createHeapZone } from "../mem/heap.ts";
 * import { createMemoryLink } from "./memory/link.ts";
 * import { RxCoalescer } from "./coalesce.ts";
 * const [a, b] = createMemoryLink({ zone: createHeapZone({ count: 256 }) });
 * const coalesced = new RxCoalescer(b);  // b's receiver sees chained segments
 * ```
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { MemZone } from "../mem/zone.ts";
import { Ipv4Packet, TcpFlags, TcpPacket } from "../wire/mod.ts";
import { BURST_MAX, DESC_WORDS, type Device, type DeviceOffloads, RxFlag } from "./device.ts";

/** Options of {@link RxCoalescer}. */
export interface CoalesceOptions {
  /** Segments one coalesced packet holds at most; default 64. */
  segmentsMax?: number;
  /** Payload bytes one coalesced packet holds at most; default 65535 - 20 - 60 (an IPv4 packet's). */
  bytesMax?: number;
}

const ethLen = 14;
const { ack, psh, fin } = TcpFlags;

/** A device whose received TCP segments are coalesced; see the module documentation. */
export class RxCoalescer implements Device {
  readonly inner: Device;
  readonly name: string;
  readonly zone: MemZone;
  readonly mac: Uint8Array;
  readonly mtu: number;
  /** Coalesced packets delivered, and the segments merged into them. */
  packets = 0;
  segments = 0;
  private readonly _segmentsMax: number;
  private readonly _bytesMax: number;
  private readonly _scratch = new Uint32Array(BURST_MAX * DESC_WORDS);
  private readonly _ip = new Ipv4Packet();
  private readonly _tcp = new TcpPacket();
  // Views for writing a packet's first headers: _ip and _tcp stay on the frame being looked at.
  private readonly _ipOut = new Ipv4Packet();
  private readonly _tcpOut = new TcpPacket();
  // The packet being built: its first frame's index in the scratch burst, and
  // what a segment must match to join it.
  private _first = -1;
  private _count = 0;
  private _bytes = 0;
  private _closed = false;
  private _src = 0;
  private _dst = 0;
  private _tos = 0;
  private _ports = 0;
  private _next = 0;
  private _ack = 0;
  private _wnd = 0;
  private _thl = 0;
  private _optAt = 0; // zone offset of the first frame's options
  // Per frame of the burst: its payload's zone offset and length (0: not a candidate).
  private readonly _payOff = new Uint32Array(BURST_MAX);
  private readonly _payLen = new Uint32Array(BURST_MAX);

  constructor(inner: Device, options: CoalesceOptions = {}) {
    const segs = options.segmentsMax ?? 64;
    const bytes = options.bytesMax ?? 65535 - 20 - 60;
    if (!Number.isInteger(segs) || segs < 2 || segs > BURST_MAX) {
      throw new ConfigError("segmentsMax", `expected an integer 2..${BURST_MAX}, got ${segs}`);
    }
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > 65535 - 20 - 60) {
      throw new ConfigError("bytesMax", `expected an integer 1..${65535 - 20 - 60}, got ${bytes}`);
    }
    this.inner = inner;
    this.name = `${inner.name}+coalesce`;
    this.zone = inner.zone;
    this.mac = inner.mac;
    this.mtu = inner.mtu;
    this._segmentsMax = segs;
    this._bytesMax = bytes;
  }

  get offloads(): DeviceOffloads {
    return this.inner.offloads;
  }

  get txPending(): boolean | undefined {
    return this.inner.txPending;
  }

  get activity(): number | undefined {
    return this.inner.activity;
  }

  rx(descs: Uint32Array, max: number, now: number): number {
    const s = this._scratch;
    const n = this.inner.rx(s, max < BURST_MAX ? max : BURST_MAX, now);
    let out = 0;
    this._first = -1;
    for (let k = 0; k < n; k++) {
      const end = this._candidate(k);
      if (end >= 0 && this._first >= 0 && this._joins(k)) {
        this._count++;
        this._bytes += this._payLen[k];
        this._next = (this._next + this._payLen[k]) >>> 0;
        this._closed = end === 1;
        continue;
      }
      if (this._first >= 0) out = this._emit(descs, out, k);
      if (end >= 0) {
        this._open(k, end === 1);
      } else {
        // A frame that is no candidate goes on as it came.
        descs.set(s.subarray(k * DESC_WORDS, k * DESC_WORDS + DESC_WORDS), out * DESC_WORDS);
        out++;
      }
    }
    if (this._first >= 0) out = this._emit(descs, out, n);
    return out;
  }

  tx(descs: Uint32Array, n: number, now: number): number {
    return this.inner.tx(descs, n, now);
  }

  pollAt(now: number): number {
    return this.inner.pollAt(now);
  }

  close(): void {
    this.inner.close();
  }

  /**
   * Whether scratch frame `k` may be merged: -1 no, 0 yes, 1 yes and it ends
   * its packet (PSH or FIN). Checks its checksums; notes its payload.
   */
  private _candidate(k: number): number {
    this._payLen[k] = 0;
    const s = this._scratch;
    const i = k * DESC_WORDS;
    const flags = s[i + 2];
    if ((flags & (RxFlag.more | RxFlag.ipCksumBad | RxFlag.l4CksumBad)) !== 0) return -1;
    const zone = this.zone;
    const b = zone.bytes;
    const len = s[i + 1] >>> 16;
    const at = zone.dataStart(s[i]) + (s[i + 1] & 0xffff);
    if (len < ethLen + 40 || b[at + 12] !== 0x08 || b[at + 13] !== 0x00) return -1;
    const ip = this._ip;
    if (ip.wrap(b, at + ethLen, len - ethLen) !== 0 || ip.protocol !== 6 || ip.isFragment) return -1;
    if (ethLen + ip.totalLen !== len) return -1; // padding: not a frame to merge
    if ((flags & RxFlag.ipCksumGood) === 0 && !ip.verifyChecksum()) return -1;
    const tcp = this._tcp;
    if (tcp.wrap(b, ip.payloadOffset, ip.payloadLen) !== 0 || tcp.payloadLen === 0) return -1;
    const f = tcp.flags;
    if ((f & ack) === 0 || (f & ~(ack | psh | fin)) !== 0) return -1;
    if ((flags & RxFlag.l4CksumGood) === 0 && !tcp.verifyChecksum(ip.src, ip.dst)) return -1;
    this._payOff[k] = tcp.payloadOffset;
    this._payLen[k] = tcp.payloadLen;
    return (f & (psh | fin)) !== 0 ? 1 : 0;
  }

  /** Whether candidate `k` (the views still on it) joins the open packet. */
  private _joins(k: number): boolean {
    if (this._closed || this._count === this._segmentsMax) return false;
    if (this._bytes + this._payLen[k] > this._bytesMax) return false;
    const ip = this._ip;
    const tcp = this._tcp;
    if (ip.src !== this._src || ip.dst !== this._dst) return false;
    // The TOS byte as it came, as Linux's GRO: never a CE mark merged with unmarked segments (RFC 3168 6.1.3).
    if (((ip.dscp << 2) | ip.ecn) !== this._tos) return false;
    if (((tcp.srcPort << 16) | tcp.dstPort) >>> 0 !== this._ports) return false;
    if (tcp.seq !== this._next || tcp.ack !== this._ack || tcp.window !== this._wnd) return false;
    const thl = tcp.headerLen;
    if (thl !== this._thl) return false;
    const b = this.zone.bytes;
    const o = tcp.offset + 20;
    for (let j = 0; j < thl - 20; j++) if (b[o + j] !== b[this._optAt + j]) return false;
    return true;
  }

  /** Starts a packet at candidate `k` (the views on it). */
  private _open(k: number, ends: boolean): void {
    const ip = this._ip;
    const tcp = this._tcp;
    this._first = k;
    this._count = 1;
    this._bytes = this._payLen[k];
    this._closed = ends;
    this._src = ip.src;
    this._dst = ip.dst;
    this._tos = (ip.dscp << 2) | ip.ecn;
    this._ports = ((tcp.srcPort << 16) | tcp.dstPort) >>> 0;
    this._next = (tcp.seq + tcp.payloadLen) >>> 0;
    this._ack = tcp.ack;
    this._wnd = tcp.window;
    this._thl = tcp.headerLen;
    this._optAt = tcp.offset + 20;
  }

  /** Writes the open packet (scratch frames first..end-1) to `descs` from record `out`; returns the next one. */
  private _emit(descs: Uint32Array, out: number, end: number): number {
    const s = this._scratch;
    const first = this._first;
    const count = this._count;
    this._first = -1;
    const i0 = first * DESC_WORDS;
    const o0 = out * DESC_WORDS;
    descs[o0] = s[i0];
    descs[o0 + 1] = s[i0 + 1];
    descs[o0 + 2] = s[i0 + 2];
    descs[o0 + 3] = s[i0 + 3];
    if (count === 1) return out + 1;
    // Frames first..end-1 are the packet's, in order: every one of them joined it.
    const zone = this.zone;
    const b = zone.bytes;
    const at = zone.dataStart(s[i0]) + (s[i0 + 1] & 0xffff);
    const ip = this._ipOut;
    ip.attach(b, at + ethLen, (s[i0 + 1] >>> 16) - ethLen);
    ip.totalLen = ip.totalLen + this._bytes - this._payLen[first];
    ip.fillChecksum();
    const last = end - 1;
    const tcp = this._tcpOut;
    tcp.attach(b, ip.payloadOffset, 20);
    const li = last * DESC_WORDS;
    // The last segment's PSH or FIN goes on the packet (its TCP flags byte, 13 bytes in).
    const lastAt = zone.dataStart(s[li]) + (s[li + 1] & 0xffff) + ethLen;
    const lastTcp = lastAt + ((b[lastAt] & 0x0f) << 2);
    tcp.flags = tcp.flags | (b[lastTcp + 13] & (psh | fin));
    descs[o0 + 2] = RxFlag.more | RxFlag.ipCksumGood | RxFlag.l4CksumGood |
      (s[i0 + 2] & ~(RxFlag.ipCksumBad | RxFlag.l4CksumBad));
    for (let k = first + 1; k < end; k++) {
      const i = k * DESC_WORDS;
      const o = (out + k - first) * DESC_WORDS;
      const h = s[i];
      descs[o] = h;
      descs[o + 1] = (this._payOff[k] - zone.dataStart(h)) | (this._payLen[k] << 16);
      descs[o + 2] = k < last ? RxFlag.more : 0;
      descs[o + 3] = 0;
    }
    this.packets++;
    this.segments += count;
    return out + count;
  }
}
