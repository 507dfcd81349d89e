/**
 * The SYN-ACKs a full backlog sends with cookies, written from templates: a
 * listener's answers differ only in ports, sequence numbers and timestamps,
 * and in which of three options the SYN asked for (timestamps, window scale,
 * SACK-permitted). One template per combination, built once through
 * {@link TcpRepr} so the bytes are the ones the general path writes (Linux's
 * option layout); a SYN-ACK is then one copy of 24..40 bytes and five field
 * writes, with no option logic per SYN. The IP layer fills the checksum.
 *
 * @module
 */
import { ipHeadroom } from "../ip/ipv4_layer.ts";
import type { MemZone } from "../mem/zone.ts";
import { TcpFlags, TcpPacket, TcpRepr } from "../wire/mod.ts";

const tsBit = 1;
const wsBit = 2;
const sackBit = 4;

/** SYN-ACK headers for a stateless answer; see the module documentation. */
export class SynAckTemplates {
  // Header bytes by option combination (bits above), and where TSval sits in each (-1: none).
  private readonly _bytes: Uint8Array[] = [];
  private readonly _tsAt: number[] = [];

  /**
   * Templates announcing `mss`, a window of `window` (unscaled, as in any
   * SYN-ACK: RFC 7323 2.2) and, where window scaling is agreed, `rcvScale`.
   */
  constructor(mss: number, window: number, rcvScale: number) {
    const r = new TcpRepr();
    const view = new TcpPacket();
    for (let v = 0; v < 8; v++) {
      r.srcPort = 0;
      r.dstPort = 0;
      r.seq = 0;
      r.ack = 0;
      r.flags = TcpFlags.syn | TcpFlags.ack;
      r.window = window;
      r.urgent = 0;
      r.payloadLen = 0;
      const o = r.options;
      o.clear();
      o.mss = mss;
      if (v & tsBit) o.timestamps = true;
      if (v & wsBit) o.windowScale = rcvScale;
      if (v & sackBit) o.sackPermitted = true;
      const b = new Uint8Array(r.headerLen());
      r.emit(view.attach(b, 0, b.length), 0, 0, false);
      this._bytes.push(b);
      // Linux's layout: MSS (4 bytes), then SACK-permitted or two NOPs, kind 8, length 10, TSval.
      this._tsAt.push(v & tsBit ? 20 + 4 + 4 : -1);
    }
  }

  /**
   * Writes a SYN-ACK into buffer `h` of `zone` (at the TCP offset the IP
   * layer expects) and returns its TCP offset; the header is
   * {@link length}(`ts`, `ws`, `sack`) bytes. `tsVal`/`tsEcr` are written when `ts`.
   */
  write(
    zone: MemZone,
    h: number,
    srcPort: number,
    dstPort: number,
    seq: number,
    ack: number,
    ts: boolean,
    tsVal: number,
    tsEcr: number,
    ws: boolean,
    sack: boolean,
  ): number {
    const v = (ts ? tsBit : 0) | (ws ? wsBit : 0) | (sack ? sackBit : 0);
    const t = this._bytes[v];
    const b = zone.bytes;
    const o = zone.dataStart(h) + zone.headroom + ipHeadroom;
    b.set(t, o);
    b[o] = srcPort >>> 8;
    b[o + 1] = srcPort;
    b[o + 2] = dstPort >>> 8;
    b[o + 3] = dstPort;
    put32(b, o + 4, seq);
    put32(b, o + 8, ack);
    const at = this._tsAt[v];
    if (at >= 0) {
      put32(b, o + at, tsVal);
      put32(b, o + at + 4, tsEcr);
    }
    return o;
  }

  /** Bytes of the SYN-ACK header with these options. */
  length(ts: boolean, ws: boolean, sack: boolean): number {
    return this._bytes[(ts ? tsBit : 0) | (ws ? wsBit : 0) | (sack ? sackBit : 0)].length;
  }
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}
